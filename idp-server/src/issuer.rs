//! The issuer identifier, parsed once: every endpoint URL, the cookie path and whether the
//! provider runs behind https come from it, never from a request URI.

use std::fmt;

use url::Url;

use crate::Error;

/// Paths of the endpoints, relative to the issuer.
pub(crate) mod paths {
    pub(crate) const DISCOVERY: &str = "/.well-known/openid-configuration";
    pub(crate) const AS_METADATA: &str = "/.well-known/oauth-authorization-server";
    pub(crate) const JWKS: &str = "/.well-known/jwks.json";
    pub(crate) const AUTHORIZE: &str = "/oauth/authorize";
    pub(crate) const TOKEN: &str = "/oauth/token";
    pub(crate) const USERINFO: &str = "/oauth/userinfo";
    pub(crate) const LOGOUT: &str = "/oauth/logout";
    pub(crate) const INTROSPECT: &str = "/oauth/introspect";
    pub(crate) const REVOKE: &str = "/oauth/revoke";
    pub(crate) const DEVICE_AUTHORIZATION: &str = "/oauth/device_authorization";
    pub(crate) const DEVICE: &str = "/device";
    pub(crate) const LIVE: &str = "/health/live";
    pub(crate) const READY: &str = "/health/ready";
    pub(crate) const STYLESHEET: &str = "/assets/idp.css";
    /// Prometheus metrics (`metrics = true`, or on `metrics_listen`).
    pub(crate) const METRICS: &str = "/metrics";
    /// The signed-in person's account pages, and every page below it.
    pub(crate) const ACCOUNT: &str = "/account";
    pub(crate) const ACCOUNT_LOGIN: &str = "/account/login";
    pub(crate) const ACCOUNT_PASSWORD: &str = "/account/password";
    pub(crate) const ACCOUNT_SESSIONS: &str = "/account/sessions";
    pub(crate) const ACCOUNT_APPS: &str = "/account/apps";
    pub(crate) const ACCOUNT_REGISTER: &str = "/account/register";
    pub(crate) const ACCOUNT_VERIFY: &str = "/account/verify";
    pub(crate) const ACCOUNT_FORGOT: &str = "/account/forgot";
    pub(crate) const ACCOUNT_RESET: &str = "/account/reset";
    pub(crate) const ACCOUNT_TWO_FACTOR: &str = "/account/two-factor";

    /// Path prefixes whose every sub-path the provider answers (its pages and APIs
    /// grouped under one path).
    pub(crate) const PREFIXES: [&str; 2] = [ACCOUNT, "/admin/api"];

    /// Whether the provider answers `path` (relative to the issuer).
    pub(crate) fn is_ours(path: &str) -> bool {
        ALL.contains(&path)
            || PREFIXES.iter().any(|p| {
                path.strip_prefix(p)
                    .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
            })
    }

    /// Every path the provider answers.
    pub(crate) const ALL: [&str; 14] = [
        DISCOVERY,
        AS_METADATA,
        JWKS,
        AUTHORIZE,
        TOKEN,
        USERINFO,
        LOGOUT,
        INTROSPECT,
        REVOKE,
        DEVICE_AUTHORIZATION,
        DEVICE,
        LIVE,
        READY,
        STYLESHEET,
    ];
}

/// A checked issuer: an `https` URL (or `http` on a loopback host) without query or
/// fragment, kept without a trailing slash.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Issuer {
    url: String,
    /// The path without a trailing slash (`""` at the root).
    path: String,
    /// The host name (what messages call the site when no tenant names it).
    host: String,
    https: bool,
}

impl fmt::Debug for Issuer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.url, f)
    }
}

impl fmt::Display for Issuer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.url)
    }
}

impl Issuer {
    /// Parses and checks an issuer from the configuration.
    pub(crate) fn parse(issuer: &str) -> Result<Self, Error> {
        let url = Url::parse(issuer)
            .map_err(|e| Error::Config(format!("issuer {issuer:?} is not a URL: {e}")))?;
        if url.query().is_some() || url.fragment().is_some() {
            return Err(Error::Config(
                "issuer must not have a query or fragment".into(),
            ));
        }
        let https = match url.scheme() {
            "https" => true,
            "http" if is_loopback_host(&url) => false,
            _ => {
                return Err(Error::Config(
                    "issuer must be https (http is allowed only for localhost)".into(),
                ));
            }
        };
        Ok(Self {
            url: issuer.trim_end_matches('/').to_owned(),
            path: url.path().trim_end_matches('/').to_owned(),
            host: url.host_str().unwrap_or_default().to_owned(),
            https,
        })
    }

    /// The issuer identifier (no trailing slash).
    pub(crate) fn as_str(&self) -> &str {
        &self.url
    }

    /// The URL of an endpoint (`paths::TOKEN` and so on).
    pub(crate) fn endpoint(&self, path: &str) -> String {
        format!("{}{path}", self.url)
    }

    /// The issuer's path without a trailing slash (`""` at the root): the prefix under
    /// which the provider's endpoints live.
    pub(crate) fn path(&self) -> &str {
        &self.path
    }

    /// The host (`id.example.com`).
    pub(crate) fn host(&self) -> &str {
        &self.host
    }

    /// The `Path` of the provider's cookies, so that a provider mounted under a prefix
    /// does not send its cookies to the rest of the application.
    pub(crate) fn cookie_path(&self) -> &str {
        if self.path.is_empty() {
            "/"
        } else {
            &self.path
        }
    }

    /// Whether the issuer is an `https` URL (cookies get `Secure`, responses get HSTS).
    pub(crate) fn is_https(&self) -> bool {
        self.https
    }
}

/// Whether the URL's host is `localhost` or a loopback IP literal.
pub(crate) fn is_loopback_host(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parsed_once() {
        let i = Issuer::parse("https://example.com/idp/").unwrap();
        assert_eq!(i.as_str(), "https://example.com/idp");
        assert_eq!(i.path(), "/idp");
        assert_eq!(i.cookie_path(), "/idp");
        assert_eq!(
            i.endpoint(paths::TOKEN),
            "https://example.com/idp/oauth/token"
        );
        assert!(i.is_https());
        let root = Issuer::parse("http://localhost:4000").unwrap();
        assert_eq!(root.path(), "");
        assert_eq!(root.cookie_path(), "/");
        assert!(!root.is_https());
    }

    #[test]
    fn refused() {
        for bad in [
            "http://example.com",
            "https://example.com/?a=b",
            "https://example.com/#f",
            "not a url",
            "ftp://localhost",
        ] {
            assert!(Issuer::parse(bad).is_err(), "{bad}");
        }
    }
}
