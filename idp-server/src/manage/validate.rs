//! Input checks of the management API, and hashing off the async workers.

use idp_core::{Password, Scope};
use url::Url;

use crate::Error;

use crate::hashing::{Busy, HashBudget, hash_secret};
use crate::issuer::is_loopback_host;

/// argon2id within the hashing budget (on the blocking pool: a hash takes tens of
/// milliseconds of CPU, too long for an async worker thread).
pub(super) async fn hash_off_thread(
    budget: &HashBudget,
    secret: &str,
) -> Result<crate::store::SecretHash, Error> {
    let secret = zeroize::Zeroizing::new(secret.to_owned());
    budget
        .run(move || hash_secret(&secret))
        .await
        .map_err(|Busy| Error::Busy)?
}

pub(super) fn invalid(msg: impl Into<String>) -> Error {
    Error::InvalidInput(msg.into())
}

pub(super) fn validate_email(email: &str) -> Result<(), Error> {
    let bad = || {
        invalid(format!(
            "malformed email {:?}",
            email.chars().take(64).collect::<String>()
        ))
    };
    if email.len() > 254 || email.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad());
    }
    let (local, domain) = email.rsplit_once('@').ok_or_else(bad)?;
    if local.is_empty()
        || local.len() > 64
        || domain.is_empty()
        || domain.contains('@')
        || local.contains('@')
        || !domain.contains('.') && !domain.eq_ignore_ascii_case("localhost")
        || domain.starts_with('.')
        || domain.ends_with('.')
        || domain.contains("..")
    {
        return Err(bad());
    }
    Ok(())
}

pub(super) fn validate_password(p: &Password) -> Result<(), Error> {
    let n = p.secret().chars().count();
    if n < 8 {
        return Err(invalid("password must be at least 8 characters"));
    }
    if n > 1024 {
        return Err(invalid("password must be at most 1024 characters"));
    }
    Ok(())
}

pub(super) fn parse_scopes(tokens: &[String], what: &str) -> Result<Scope, Error> {
    Scope::from_tokens(tokens).map_err(|e| invalid(format!("{what}: {e}")))
}

/// Schemes a redirect URI never uses: script and content schemes, local files and browser
/// internals, the URL standard's other special schemes, and schemes that hand the URI to
/// another handler (mail, phone, Android intents). Compared after the URL parser has
/// lower-cased the scheme.
const REFUSED_SCHEMES: &[&str] = &[
    "javascript",
    "vbscript",
    "livescript",
    "data",
    "file",
    "blob",
    "about",
    "filesystem",
    "view-source",
    "ftp",
    "ws",
    "wss",
    "intent",
    "android-app",
    "mailto",
    "tel",
    "sms",
    "chrome",
    "chrome-extension",
    "moz-extension",
    "resource",
    "jar",
];

/// Checks a redirect URI (also used for post-logout redirect URIs and the back-channel
/// logout URI). Accepted:
///
/// - `https://HOST/...`;
/// - `http://` on a loopback host (`localhost`, `127.0.0.0/8`, `[::1]`), elsewhere only with
///   `allow_http` (`insecure_allow_http_redirect_uris`);
/// - a private-use scheme for native apps (RFC 8252 §7.1), reverse-domain
///   (`com.example.app:/callback`) or not (`myapp://callback`), matched exactly by the
///   authorization endpoint. The endpoint requires PKCE (S256) for any request that
///   redirects to one, whatever the client type: a secret shipped in an app is not a
///   secret (RFC 8252 §8.5), and PKCE is what stops another app that claims the same
///   scheme from redeeming an intercepted code (§8.1).
///
/// Refused: anything that is not an absolute URI, a fragment, whitespace or control
/// characters, user information (`user@`), the schemes of [`REFUSED_SCHEMES`], and a
/// private-use URI with nothing after the scheme or that looks like a host and port
/// (`localhost:3000`). Every message names the URI and the rule.
pub(crate) fn validate_redirect_uri(uri: &str, allow_http: bool) -> Result<(), Error> {
    let uri_text = || uri.chars().take(256).collect::<String>();
    if uri.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(invalid(format!(
            "redirect URI {:?} contains whitespace or control characters; \
             a redirect URI is an absolute URI such as https://app.example.com/callback",
            uri_text()
        )));
    }
    let url = Url::parse(uri).map_err(|_| {
        invalid(format!(
            "redirect URI {:?} is not an absolute URI such as https://app.example.com/callback",
            uri_text()
        ))
    })?;
    if url.fragment().is_some() || uri.contains('#') {
        return Err(invalid(format!(
            "redirect URI {uri:?} has a fragment (#...); redirect URIs must not have one"
        )));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid(format!(
            "redirect URI {uri:?} carries user information (user@); remove it"
        )));
    }
    match url.scheme() {
        "https" => {
            if url.host_str().is_none_or(str::is_empty) {
                return Err(invalid(format!("redirect URI {uri:?} has no host")));
            }
        }
        "http" => {
            if !is_loopback_host(&url) && !allow_http {
                return Err(invalid(format!(
                    "redirect URI {uri:?} uses http on a non-loopback host; use https \
                     (http is allowed only on localhost, 127.0.0.1 and [::1])"
                )));
            }
        }
        s if REFUSED_SCHEMES.contains(&s) => {
            return Err(invalid(format!(
                "redirect URI {uri:?}: the scheme {s:?} is not allowed; use https, http on \
                 loopback, or a private-use scheme of a native app (myapp://callback)"
            )));
        }
        s => {
            // A private-use scheme (RFC 8252 §7.1). `uri` parsed, so it starts with the
            // scheme (in any case) and a colon.
            let rest = uri.get(s.len() + 1..).unwrap_or_default();
            if rest.trim_start_matches('/').is_empty() {
                return Err(invalid(format!(
                    "redirect URI {uri:?} has nothing after its private-use scheme; \
                     write one like {s}://callback or {s}:/callback"
                )));
            }
            if rest.bytes().all(|b| b.is_ascii_digit()) {
                return Err(invalid(format!(
                    "redirect URI {uri:?} looks like a host and port, not a private-use \
                     scheme; write http://{uri}/callback"
                )));
            }
        }
    }
    Ok(())
}

pub(super) fn validate_client_id(id: &str) -> Result<(), Error> {
    if id.is_empty()
        || id.len() > 128
        || !id.bytes().all(|b| (0x21..=0x7e).contains(&b))
        || id.contains(':')
    {
        return Err(invalid(
            "client_id must be 1-128 visible ASCII characters without ':'",
        ));
    }
    Ok(())
}

/// Refuses a scope outside `known` (the enforced `scopes_supported`), naming it.
pub(super) fn check_known_scopes(
    scope: &Scope,
    known: Option<&Scope>,
    what: &str,
) -> Result<(), Error> {
    let Some(known) = known else {
        return Ok(());
    };
    match scope.iter().find(|s| !known.contains(s)) {
        Some(s) => Err(invalid(format!(
            "{what}: scope `{s}` is not in scopes_supported"
        ))),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails() {
        for ok in [
            "a@b.co",
            "dev@example.com",
            "x+y@sub.example.org",
            "me@localhost",
        ] {
            validate_email(ok).unwrap();
        }
        for bad in [
            "", "a", "@b.co", "a@", "a@b", "a b@c.d", "a@@b.co", "a@.b.co", "a@b..co", "a@b.co.",
        ] {
            assert!(validate_email(bad).is_err(), "{bad}");
        }
    }

    fn refused(uri: &str, allow_http: bool) -> String {
        match validate_redirect_uri(uri, allow_http) {
            Ok(()) => panic!("{uri:?} was accepted"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn redirect_uris_https_and_loopback_http() {
        for ok in [
            "https://app.example.com/cb",
            "https://app.example.com:8443/cb?x=1",
            "http://localhost:3000/callback",
            "http://127.0.0.1/cb",
            "http://[::1]:8080/cb",
        ] {
            validate_redirect_uri(ok, false).unwrap();
        }
        let e = refused("http://app.example.com/cb", false);
        assert!(
            e.contains("http://app.example.com/cb") && e.contains("use https"),
            "{e}"
        );
        // Only with the insecure option.
        validate_redirect_uri("http://app.example.com/cb", true).unwrap();
        // A private-use scheme needs no option, and the option opens nothing else.
        assert!(refused("javascript:alert(1)", true).contains("not allowed"));
    }

    #[test]
    fn redirect_uris_private_use_schemes_for_native_apps() {
        for ok in [
            "com.example.app:/oauth2redirect",
            "com.example.app:/cb",
            "myapp://callback",
            "myapp://callback/path?x=1",
            "myapp:/cb",
            "my-app+dev.1://cb",
        ] {
            validate_redirect_uri(ok, false).unwrap_or_else(|e| panic!("{ok}: {e}"));
        }
        for (bad, rule) in [
            ("myapp:", "nothing after"),
            ("myapp://", "nothing after"),
            ("myapp:///", "nothing after"),
            ("localhost:3000", "host and port"),
            ("com.example.app:8080", "host and port"),
        ] {
            let e = refused(bad, false);
            assert!(e.contains(rule) && e.contains(bad), "{bad}: {e}");
        }
    }

    #[test]
    fn redirect_uris_dangerous_and_special_schemes() {
        for bad in [
            "javascript:alert(1)",
            "JavaScript:alert(1)",
            "javascript://callback/%0aalert(1)",
            "vbscript:msgbox(1)",
            "data:text/html,hi",
            "file:///etc/passwd",
            "blob:https://app.example.com/uuid",
            "about:blank",
            "view-source:https://app.example.com/",
            "filesystem:https://app.example.com/x",
            "ftp://files.example.com/cb",
            "ws://127.0.0.1/cb",
            "wss://app.example.com/cb",
            "intent://cb#Intent;scheme=x;end",
            "mailto:a@example.com",
            "tel:+123",
            "chrome-extension://abc/cb",
        ] {
            let e = refused(bad, false);
            assert!(
                e.contains("not allowed") || e.contains("fragment"),
                "{bad}: {e}"
            );
        }
        let e = refused("javascript:alert(1)", false);
        assert!(
            e.contains("javascript:alert(1)") && e.contains("\"javascript\""),
            "{e}"
        );
    }

    #[test]
    fn redirect_uris_malformed() {
        for (bad, rule) in [
            ("/callback", "absolute URI"),
            ("callback", "absolute URI"),
            ("", "absolute URI"),
            ("://cb", "absolute URI"),
            ("1app://cb", "absolute URI"),
            ("my_app://cb", "absolute URI"),
            ("https://", "absolute URI"),
            ("https://app.example.com/cb#frag", "fragment"),
            ("https://app.example.com/cb#", "fragment"),
            ("myapp://callback#x", "fragment"),
            ("com.example.app:/cb#", "fragment"),
            (" https://app.example.com/cb", "whitespace"),
            ("https://app.example.com/c\nb", "whitespace"),
            ("myapp://call back", "whitespace"),
            ("myapp://cb\t", "whitespace"),
            ("https://user@app.example.com/cb", "user information"),
            ("https://u:pw@app.example.com/cb", "user information"),
            ("myapp://user@callback", "user information"),
        ] {
            let e = refused(bad, false);
            assert!(e.contains(rule), "{bad:?}: {e}");
        }
    }
}
