//! The CSRF tokens of the forms (sign-in, consent, logout confirmation): an attacker cannot
//! choose one.
//!
//! The browser holds a random nonce in the CSRF cookie (the pre-session). A form's token is
//! HMAC-SHA256, under a key derived from the provider's `encryption_key`, over the form's
//! purpose, that nonce and the SSO session the form is shown to (its `sid`; none for the
//! sign-in form). Verifying recomputes it and compares in constant time. Planting a cookie
//! and putting the same value in the form (a plain double submit) is therefore refused, and
//! a token issued to one session does not verify for another.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::{HeaderMap, HeaderValue};
use idp_core::random_token;

use super::cookies::{self, Cookie};
use super::form::single;
use crate::Error;
use crate::crypto::MacKey;
use crate::issuer::Issuer;

/// The label the CSRF key is derived under.
const KEY_LABEL: &str = "idp csrf v1";

/// What a form is for, and the session it is shown to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Purpose<'a> {
    /// The sign-in form (there is no session to bind to).
    Login,
    /// The consent form, shown to the session with this `sid`.
    Consent { sid: &'a str },
    /// The logout confirmation, shown to the session with this `sid`.
    Logout { sid: &'a str },
    /// The forms of the device verification page (the user code, the decision), shown to
    /// the session with this `sid`.
    Device { sid: &'a str },
    /// The forms of the account pages (profile, password, sessions, applications), shown
    /// to the session with this `sid`.
    Account { sid: &'a str },
}

impl Purpose<'_> {
    fn label(&self) -> &'static [u8] {
        match self {
            Self::Login => b"login",
            Self::Consent { .. } => b"consent",
            Self::Logout { .. } => b"logout",
            Self::Device { .. } => b"device",
            Self::Account { .. } => b"account",
        }
    }

    fn binding(&self) -> &[u8] {
        match self {
            Self::Login => b"",
            Self::Consent { sid }
            | Self::Logout { sid }
            | Self::Device { sid }
            | Self::Account { sid } => sid.as_bytes(),
        }
    }
}

/// The key form tokens are computed under; `Debug` is redacted.
#[derive(Debug)]
pub(crate) struct CsrfKey {
    mac: MacKey,
}

/// The token to put in a form, and the cookie to set when the browser had no nonce.
#[derive(Debug)]
pub(crate) struct Csrf {
    pub(crate) token: String,
    pub(crate) set_cookie: Option<HeaderValue>,
}

/// Whether a cookie value can be a nonce this provider set: 32 to 128 URL-safe base64
/// characters (ours are 43). Anything else is replaced by a fresh nonce.
fn nonce_shaped(v: &str) -> bool {
    (32..=128).contains(&v.len())
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

impl CsrfKey {
    /// The key derived from the configured `encryption_key` secret.
    pub(crate) fn from_secret(secret: &str) -> Result<Self, Error> {
        Ok(Self {
            mac: MacKey::derive(secret, KEY_LABEL)?,
        })
    }

    fn parts<'a>(purpose: &'a Purpose<'_>, nonce: &'a str) -> [&'a [u8]; 3] {
        [purpose.label(), nonce.as_bytes(), purpose.binding()]
    }

    /// The token of a form for `purpose`, bound to the browser's nonce (a new one, with its
    /// cookie, when the browser has none).
    pub(crate) fn token(&self, issuer: &Issuer, headers: &HeaderMap, purpose: Purpose<'_>) -> Csrf {
        let (nonce, set_cookie) =
            match cookies::get(headers, issuer, Cookie::Csrf).filter(|v| nonce_shaped(v)) {
                Some(v) => (v.to_owned(), None),
                None => {
                    let nonce = random_token();
                    let cookie = cookies::set(issuer, Cookie::Csrf, &nonce, None);
                    (nonce, Some(cookie))
                }
            };
        let tag = self.mac.mac(&Self::parts(&purpose, &nonce));
        Csrf {
            token: URL_SAFE_NO_PAD.encode(tag),
            set_cookie,
        }
    }

    /// Whether the form's `csrf_token` is the token for `purpose` and the browser's nonce.
    pub(crate) fn verify(
        &self,
        issuer: &Issuer,
        headers: &HeaderMap,
        pairs: &[(String, String)],
        purpose: Purpose<'_>,
    ) -> bool {
        let (Some(nonce), Ok(Some(field))) = (
            cookies::get(headers, issuer, Cookie::Csrf).filter(|v| nonce_shaped(v)),
            single(pairs, "csrf_token"),
        ) else {
            return false;
        };
        let Ok(tag) = URL_SAFE_NO_PAD.decode(field) else {
            return false;
        };
        self.mac.verify(&Self::parts(&purpose, nonce), &tag)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn browser(issuer: &Issuer, nonce: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        let name = cookies::name(issuer, Cookie::Csrf);
        h.insert(
            http::header::COOKIE,
            format!("{name}={nonce}").parse().unwrap(),
        );
        h
    }

    fn form(token: &str) -> Vec<(String, String)> {
        vec![("csrf_token".to_owned(), token.to_owned())]
    }

    #[test]
    fn tokens_are_bound_to_key_nonce_purpose_and_session() {
        let issuer = Issuer::parse("http://127.0.0.1:4000").unwrap();
        let key = CsrfKey::from_secret(&"k".repeat(32)).unwrap();
        let nonce = random_token();
        let h = browser(&issuer, &nonce);
        let a = Purpose::Consent { sid: "sid-a" };
        let t = key.token(&issuer, &h, a);
        assert!(t.set_cookie.is_none(), "the browser's nonce is kept");
        assert!(key.verify(&issuer, &h, &form(&t.token), a));
        // Another session, purpose, nonce or key: refused.
        assert!(!key.verify(
            &issuer,
            &h,
            &form(&t.token),
            Purpose::Consent { sid: "sid-b" }
        ));
        assert!(!key.verify(
            &issuer,
            &h,
            &form(&t.token),
            Purpose::Logout { sid: "sid-a" }
        ));
        assert!(!key.verify(
            &issuer,
            &h,
            &form(&t.token),
            Purpose::Device { sid: "sid-a" }
        ));
        assert!(!key.verify(
            &issuer,
            &browser(&issuer, &random_token()),
            &form(&t.token),
            a
        ));
        let other = CsrfKey::from_secret(&"x".repeat(32)).unwrap();
        assert!(!other.verify(&issuer, &h, &form(&t.token), a));
        // The plain double submit: the cookie's value in the form.
        assert!(!key.verify(&issuer, &h, &form(&nonce), a));
        assert!(!key.verify(&issuer, &h, &form(&nonce), Purpose::Login));
        // No cookie, no field, a repeated field.
        assert!(!key.verify(&issuer, &HeaderMap::new(), &form(&t.token), a));
        assert!(!key.verify(&issuer, &h, &[], a));
        let mut twice = form(&t.token);
        twice.extend(form(&t.token));
        assert!(!key.verify(&issuer, &h, &twice, a));
    }

    #[test]
    fn a_browser_without_a_usable_nonce_gets_a_new_one() {
        let issuer = Issuer::parse("https://id.example").unwrap();
        let key = CsrfKey::from_secret(&"k".repeat(32)).unwrap();
        for bad in ["short", &"a".repeat(8_000), &"*".repeat(40)] {
            let t = key.token(&issuer, &browser(&issuer, bad), Purpose::Login);
            let c = t.set_cookie.expect("a new nonce");
            let c = c.to_str().unwrap();
            assert!(c.starts_with("__Host-idp_csrf="), "{c}");
            let nonce = &c["__Host-idp_csrf=".len()..c.find(';').unwrap()];
            let h = browser(&issuer, nonce);
            assert!(key.verify(&issuer, &h, &form(&t.token), Purpose::Login));
        }
    }
}
