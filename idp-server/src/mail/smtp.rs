//! Sending over SMTP with lettre: STARTTLS, implicit TLS or (to a loopback host, or with
//! `insecure_allow_plaintext`) no TLS; optional authentication; a timeout on every step.

use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

use idp_core::HumanDuration;
use lettre::message::Mailbox;
use lettre::transport::smtp::AsyncSmtpTransport;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncTransport, Tokio1Executor};
use serde::Deserialize;
use zeroize::Zeroizing;

use super::message::{MailError, Mailer, Message, build};
use crate::Error;

/// How the connection to the SMTP server is protected (key `smtp.tls`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum SmtpTls {
    /// Connect in clear, then upgrade with `STARTTLS`, which is required (default; port
    /// 587).
    #[default]
    StartTls,
    /// TLS from the first byte ("implicit TLS", SMTPS; port 465).
    Tls,
    /// No TLS (port 25): only to a loopback host, unless `insecure_allow_plaintext`.
    None,
}

impl SmtpTls {
    fn default_port(self) -> u16 {
        match self {
            Self::StartTls => 587,
            Self::Tls => 465,
            Self::None => 25,
        }
    }
}

/// The SMTP password (key `smtp.password`): `Debug` prints `[redacted]`, the value is
/// zeroed when dropped, and it is never logged.
#[derive(Clone)]
pub(crate) struct SmtpPassword(Zeroizing<String>);

impl<'de> Deserialize<'de> for SmtpPassword {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(Self::new)
    }
}

impl SmtpPassword {
    /// Wraps a password.
    pub(crate) fn new(value: impl Into<String>) -> Self {
        Self(Zeroizing::new(value.into()))
    }
}

impl fmt::Debug for SmtpPassword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SmtpPassword([redacted])")
    }
}

/// The `[smtp]` section of the configuration: where and how [`SmtpMailer`] sends.
///
/// ```toml
/// [smtp]
/// host = "smtp.example.com"
/// port = 587                    # default: 587 for starttls, 465 for tls, 25 for none
/// tls = "starttls"              # "starttls" (default) | "tls" | "none"
/// username = "idp"
/// password = "…"
/// from_address = "no-reply@example.com"
/// from_name = "Example ID"
/// timeout = "15s"               # each connect, command and reply (default 15 s)
/// ```
///
/// `tls = "none"` is accepted only for a loopback host (`localhost`, `127.0.0.1`, `::1`:
/// a relay on the same machine) unless `insecure_allow_plaintext = true`.
///
/// ```
/// use idp_server::mail::{SmtpConfig, SmtpTls};
/// let smtp = SmtpConfig::new("smtp.example.com", "no-reply@example.com")
///     .tls(SmtpTls::Tls)
///     .credentials("idp", "app password")
///     .from_name("Example ID");
/// assert!(!format!("{smtp:?}").contains("app password"));
/// ```
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpConfig {
    host: Option<String>,
    port: Option<u16>,
    #[serde(default)]
    tls: SmtpTls,
    username: Option<String>,
    password: Option<SmtpPassword>,
    from_address: Option<String>,
    from_name: Option<String>,
    timeout: Option<HumanDuration>,
    #[serde(default)]
    insecure_allow_plaintext: bool,
}

/// Each SMTP step's timeout when `timeout` is not set.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(15);

impl SmtpConfig {
    /// Sending through `host` (STARTTLS on port 587 unless changed) as `from_address`.
    pub fn new(host: impl Into<String>, from_address: impl Into<String>) -> Self {
        Self {
            host: Some(host.into()),
            port: None,
            tls: SmtpTls::StartTls,
            username: None,
            password: None,
            from_address: Some(from_address.into()),
            from_name: None,
            timeout: None,
            insecure_allow_plaintext: false,
        }
    }

    /// The port (default: 587 for STARTTLS, 465 for TLS, 25 without).
    pub fn port(mut self, port: u16) -> Self {
        self.port = Some(port);
        self
    }

    /// How the connection is protected (default STARTTLS).
    pub fn tls(mut self, tls: SmtpTls) -> Self {
        self.tls = tls;
        self
    }

    /// Authenticates with `username` and `password`.
    pub fn credentials(mut self, username: impl Into<String>, password: impl Into<String>) -> Self {
        self.username = Some(username.into());
        self.password = Some(SmtpPassword::new(password));
        self
    }

    /// The sender's display name (`Example ID <no-reply@example.com>`).
    pub fn from_name(mut self, name: impl Into<String>) -> Self {
        self.from_name = Some(name.into());
        self
    }

    /// How long each connect, command and reply may take (default 15 seconds).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout.into());
        self
    }

    /// Allows `tls = "none"` to a host that is not loopback. Insecure: the password and
    /// the messages' single-use links cross the network in clear.
    pub fn insecure_allow_plaintext(mut self) -> Self {
        self.insecure_allow_plaintext = true;
        self
    }

    /// The host, once validated, as a connection names it (an IPv6 literal without its
    /// brackets).
    fn host(&self) -> &str {
        let host = self.host.as_deref().unwrap_or_default();
        host.strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host)
    }

    /// The sender, checked.
    fn sender(&self) -> Result<Mailbox, String> {
        let address = self
            .from_address
            .as_deref()
            .filter(|a| !a.trim().is_empty())
            .ok_or("smtp.from_address is required (the sender, e.g. no-reply@example.com)")?;
        let address = address
            .parse()
            .map_err(|e| format!("smtp.from_address {address:?} is not an e-mail address: {e}"))?;
        if let Some(name) = &self.from_name
            && name.chars().any(char::is_control)
        {
            return Err("smtp.from_name must be on one line".into());
        }
        Ok(Mailbox::new(self.from_name.clone(), address))
    }

    /// Checks every key; the message names the key (`smtp.host`, `smtp.tls`…).
    pub(crate) fn validate(&self) -> Result<(), String> {
        let host = self.host.as_deref().unwrap_or_default();
        if host.is_empty() {
            return Err(
                "smtp.host is required when [smtp] is set (the SMTP server, e.g. \
                 smtp.example.com)"
                    .into(),
            );
        }
        if host.contains("://") || host.contains('/') || host.chars().any(char::is_whitespace) {
            return Err(format!(
                "smtp.host {host:?} must be a host name or an IP address, without a scheme, \
                 port or path (the port is smtp.port)"
            ));
        }
        let bare = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host);
        if bare.contains(':') && bare.parse::<std::net::Ipv6Addr>().is_err() {
            return Err(format!(
                "smtp.host {host:?} must be a host name or an IP address without a port \
                 (the port is smtp.port)"
            ));
        }
        if self.port == Some(0) {
            return Err("smtp.port must be between 1 and 65535".into());
        }
        if self.tls == SmtpTls::None && !is_loopback(host) && !self.insecure_allow_plaintext {
            return Err(format!(
                "smtp.tls = \"none\" sends the password and every message in clear; it is \
                 allowed only to a loopback host (localhost, 127.0.0.1, ::1), not {host:?}. \
                 Use \"starttls\" or \"tls\", or set smtp.insecure_allow_plaintext = true"
            ));
        }
        match (&self.username, &self.password) {
            (Some(_), None) => return Err("smtp.username is set without smtp.password".into()),
            (None, Some(_)) => return Err("smtp.password is set without smtp.username".into()),
            _ => {}
        }
        if self.timeout.is_some_and(|t| t.get().is_zero()) {
            return Err("smtp.timeout must be positive".into());
        }
        self.sender().map(drop)
    }
}

/// `localhost`, or a loopback IP address.
fn is_loopback(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || bare.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Sends over SMTP (lettre, on Tokio, TLS by rustls), one connection per message.
///
/// ```
/// # fn main() -> Result<(), idp_server::Error> {
/// use idp_server::mail::{SmtpConfig, SmtpMailer};
/// let mailer = SmtpMailer::new(&SmtpConfig::new("smtp.example.com", "no-reply@example.com"))?;
/// # let _ = mailer; Ok(()) }
/// ```
pub struct SmtpMailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    /// For `Debug`: where it sends.
    host: String,
    port: u16,
    tls: SmtpTls,
}

impl fmt::Debug for SmtpMailer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpMailer")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("tls", &self.tls)
            .field("from", &self.from.email.to_string())
            .finish_non_exhaustive()
    }
}

impl SmtpMailer {
    /// A mailer for `config`; a setting that does not hold (a missing host, `tls = "none"`
    /// to a remote host…) is [`Error::Config`] naming the key. Nothing is sent or
    /// connected yet.
    pub fn new(config: &SmtpConfig) -> Result<Self, Error> {
        config.validate().map_err(Error::Config)?;
        let from = config.sender().map_err(Error::Config)?;
        let host = config.host();
        let port = config.port.unwrap_or(config.tls.default_port());
        let tls_error = |e: lettre::transport::smtp::Error| {
            Error::Config(format!("smtp.host {host:?}: cannot set up TLS: {e}"))
        };
        let mut builder = match config.tls {
            SmtpTls::StartTls => {
                AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(host).map_err(tls_error)?
            }
            SmtpTls::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(host).map_err(tls_error)?,
            SmtpTls::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host),
        };
        builder = builder.port(port).timeout(Some(
            config.timeout.map_or(DEFAULT_TIMEOUT, HumanDuration::get),
        ));
        if let (Some(user), Some(password)) = (&config.username, &config.password) {
            builder = builder.credentials(Credentials::new(user.clone(), password.0.to_string()));
        }
        Ok(Self {
            transport: builder.build(),
            from,
            host: host.to_owned(),
            port,
            tls: config.tls,
        })
    }
}

#[async_trait::async_trait]
impl Mailer for SmtpMailer {
    async fn send(&self, message: &Message) -> Result<(), MailError> {
        let email = build(&self.from, message)?;
        match self.transport.send(email).await {
            Ok(_) => Ok(()),
            Err(e) if e.is_permanent() => Err(MailError::permanent(e)),
            // 4xx replies, timeouts, refused or dropped connections, TLS trouble.
            Err(e) => Err(MailError::transient(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(json: serde_json::Value) -> Result<(), String> {
        let c: SmtpConfig = serde_json::from_value(json).map_err(|e| e.to_string())?;
        c.validate()
    }

    #[test]
    fn settings_are_checked_and_errors_name_the_key() {
        use serde_json::json;
        check(json!({"host": "smtp.example.com", "from_address": "a@example.com"})).unwrap();
        check(json!({"host": "127.0.0.1", "tls": "none", "from_address": "a@example.com"}))
            .unwrap();
        check(json!({"host": "localhost", "tls": "none", "from_address": "a@example.com"}))
            .unwrap();
        check(json!({"host": "[::1]", "tls": "none", "from_address": "a@example.com"})).unwrap();
        check(json!({"host": "::1", "tls": "none", "from_address": "a@example.com"})).unwrap();
        check(
            json!({"host": "mx.example.com", "tls": "none", "insecure_allow_plaintext": true,
            "from_address": "a@example.com"}),
        )
        .unwrap();
        for (bad, words) in [
            (
                json!({"from_address": "a@example.com"}),
                "smtp.host is required",
            ),
            (
                json!({"host": "smtp.example.com"}),
                "smtp.from_address is required",
            ),
            (
                json!({"host": "smtp.example.com", "from_address": "nope"}),
                "smtp.from_address \"nope\"",
            ),
            (
                json!({"host": "smtp://smtp.example.com", "from_address": "a@example.com"}),
                "smtp.host",
            ),
            (
                json!({"host": "smtp.example.com:587", "from_address": "a@example.com"}),
                "without a port",
            ),
            (
                json!({"host": "smtp.example.com", "tls": "none", "from_address": "a@example.com"}),
                "insecure_allow_plaintext",
            ),
            (
                json!({"host": "smtp.example.com", "username": "u", "from_address": "a@example.com"}),
                "smtp.password",
            ),
            (
                json!({"host": "smtp.example.com", "tls": "ssl", "from_address": "a@example.com"}),
                "unknown variant `ssl`, expected one of `starttls`, `tls`, `none`",
            ),
            (
                json!({"host": "smtp.example.com", "from_address": "a@example.com", "pasword": "x"}),
                "pasword",
            ),
        ] {
            let e = check(bad.clone()).unwrap_err();
            assert!(e.contains(words), "{bad}: {e}");
        }
    }

    #[test]
    fn the_password_is_not_printed() {
        let c: SmtpConfig = serde_json::from_value(serde_json::json!({
            "host": "smtp.example.com", "from_address": "a@example.com",
            "username": "u", "password": "hunter2-secret",
        }))
        .unwrap();
        assert!(!format!("{c:?}").contains("hunter2"));
        let m = SmtpMailer::new(&c).unwrap();
        assert!(!format!("{m:?}").contains("hunter2"));
    }
}
