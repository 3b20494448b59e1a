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

/// Checks a redirect URI: absolute, no fragment, `https`, `http` only on loopback (unless
/// allowed), or a private-use scheme with a dot (RFC 8252 §7.1); never `javascript:`,
/// `data:` or `file:`.
pub(crate) fn validate_redirect_uri(uri: &str, allow_http: bool) -> Result<(), Error> {
    let url =
        Url::parse(uri).map_err(|_| invalid(format!("redirect URI {uri:?} is not absolute")))?;
    if url.fragment().is_some() || uri.contains('#') {
        return Err(invalid(format!("redirect URI {uri:?} has a fragment")));
    }
    match url.scheme() {
        "https" => {
            if url.host().is_none() {
                return Err(invalid(format!("redirect URI {uri:?} has no host")));
            }
        }
        "http" => {
            if !is_loopback_host(&url) && !allow_http {
                return Err(invalid(format!(
                    "redirect URI {uri:?} uses http on a non-loopback host; use https"
                )));
            }
        }
        "javascript" | "data" | "file" | "vbscript" | "blob" | "about" => {
            return Err(invalid(format!(
                "redirect URI scheme of {uri:?} is not allowed"
            )));
        }
        s if s.contains('.') => {} // private-use scheme, e.g. com.example.app:/callback
        _ => {
            return Err(invalid(format!(
                "redirect URI {uri:?}: use https, http on loopback, or a reverse-domain scheme"
            )));
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

    #[test]
    fn redirect_uris() {
        for ok in [
            "https://app.example.com/cb",
            "http://localhost:3000/callback",
            "http://127.0.0.1/cb",
            "http://[::1]:8080/cb",
            "com.example.app:/oauth2redirect",
        ] {
            validate_redirect_uri(ok, false).unwrap();
        }
        for bad in [
            "/callback",
            "callback",
            "https://app.example.com/cb#frag",
            "http://app.example.com/cb",
            "javascript:alert(1)",
            "data:text/html,hi",
            "file:///etc/passwd",
            "myapp:/cb",
        ] {
            assert!(validate_redirect_uri(bad, false).is_err(), "{bad}");
        }
        validate_redirect_uri("http://app.example.com/cb", true).unwrap();
    }
}
