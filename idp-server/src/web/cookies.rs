//! Reading and setting the provider's cookies: `HttpOnly`, `SameSite=Lax`, `Path` at the
//! issuer's path and `Secure` with an https issuer.

use http::{HeaderMap, HeaderValue, header};

use crate::issuer::Issuer;

/// The value of cookie `name` in the request, if any.
pub(crate) fn get<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// A `Set-Cookie` value; `max_age` of `Some(0)` deletes the cookie, `None` makes it last
/// as long as the browser session.
pub(crate) fn set(issuer: &Issuer, name: &str, value: &str, max_age: Option<i64>) -> HeaderValue {
    let mut c = format!(
        "{name}={value}; Path={}; HttpOnly; SameSite=Lax",
        issuer.cookie_path()
    );
    if let Some(m) = max_age {
        c.push_str(&format!("; Max-Age={m}"));
    }
    if issuer.is_https() {
        c.push_str("; Secure");
    }
    HeaderValue::from_str(&c).unwrap_or_else(|_| HeaderValue::from_static("idp_invalid=1"))
}
