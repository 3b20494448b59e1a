//! The CSRF token of the login and consent forms (double submit: a cookie and the same
//! value in the form).

use http::{HeaderMap, HeaderValue};
use idp_core::random_token;
use subtle::ConstantTimeEq;

use super::cookies;
use super::form::single;
use crate::issuer::Issuer;

const CSRF_COOKIE: &str = "idp_csrf";

/// The token to put in a form, and the cookie to set when the browser had none.
#[derive(Debug)]
pub(crate) struct Csrf {
    pub(crate) token: String,
    pub(crate) set_cookie: Option<HeaderValue>,
}

/// The browser's CSRF token, or a new one with its cookie.
pub(crate) fn token(issuer: &Issuer, headers: &HeaderMap) -> Csrf {
    match cookies::get(headers, CSRF_COOKIE).filter(|v| v.len() >= 32) {
        Some(v) => Csrf {
            token: v.to_owned(),
            set_cookie: None,
        },
        None => {
            let token = random_token();
            let set_cookie = Some(cookies::set(issuer, CSRF_COOKIE, &token, None));
            Csrf { token, set_cookie }
        }
    }
}

/// Whether the form's `csrf_token` matches the cookie.
pub(crate) fn verify(headers: &HeaderMap, pairs: &[(String, String)]) -> bool {
    let (Some(cookie), Ok(Some(field))) = (
        cookies::get(headers, CSRF_COOKIE),
        single(pairs, "csrf_token"),
    ) else {
        return false;
    };
    cookie.len() >= 32 && bool::from(cookie.as_bytes().ct_eq(field.as_bytes()))
}
