//! Reading and setting the provider's cookies: `HttpOnly`, `SameSite=Lax`, `Path` at the
//! issuer's path and `Secure` with an https issuer; with an https issuer at the root, names
//! with the `__Host-` prefix.

use http::{HeaderMap, HeaderValue, header};

use crate::issuer::Issuer;

/// The provider's cookies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cookie {
    /// The SSO session.
    Session,
    /// The CSRF nonce the form tokens are bound to.
    Csrf,
    /// A sign-in awaiting its second factor (the password was right).
    PendingSignIn,
}

/// The name of `cookie`, for reading and writing alike. With an `https` issuer at the root
/// the name has the `__Host-` prefix (the cookie is `Secure; Path=/` without `Domain`), so a
/// browser takes it neither from plain http nor from a sibling subdomain, and nobody else
/// can plant one. Otherwise (an http issuer on loopback, or an issuer with a path, where
/// the prefix is not allowed) the plain name.
pub(crate) fn name(issuer: &Issuer, cookie: Cookie) -> &'static str {
    let host_only = issuer.is_https() && issuer.path().is_empty();
    match (cookie, host_only) {
        (Cookie::Session, true) => "__Host-idp_session",
        (Cookie::Session, false) => "idp_session",
        (Cookie::Csrf, true) => "__Host-idp_csrf",
        (Cookie::Csrf, false) => "idp_csrf",
        (Cookie::PendingSignIn, true) => "__Host-idp_2fa",
        (Cookie::PendingSignIn, false) => "idp_2fa",
    }
}

/// The value of `cookie` in the request, if any.
pub(crate) fn get<'a>(headers: &'a HeaderMap, issuer: &Issuer, cookie: Cookie) -> Option<&'a str> {
    let name = name(issuer, cookie);
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
pub(crate) fn set(
    issuer: &Issuer,
    cookie: Cookie,
    value: &str,
    max_age: Option<i64>,
) -> HeaderValue {
    let mut c = format!(
        "{}={value}; Path={}; HttpOnly; SameSite=Lax",
        name(issuer, cookie),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn request(cookie: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::COOKIE, cookie.parse().unwrap());
        h
    }

    #[test]
    fn host_prefix_only_for_https_at_the_root() {
        let https = Issuer::parse("https://id.example").unwrap();
        let set_cookie = set(&https, Cookie::Session, "v", Some(60));
        assert_eq!(
            set_cookie,
            "__Host-idp_session=v; Path=/; HttpOnly; SameSite=Lax; Max-Age=60; Secure"
        );
        assert_eq!(name(&https, Cookie::Csrf), "__Host-idp_csrf");
        // Read under the name it is written with, and only that one.
        let h = request("idp_session=planted; __Host-idp_session=real");
        assert_eq!(get(&h, &https, Cookie::Session), Some("real"));
        assert_eq!(
            get(&request("idp_session=x"), &https, Cookie::Session),
            None
        );

        for plain in ["http://127.0.0.1:4000", "https://example.com/idp"] {
            let i = Issuer::parse(plain).unwrap();
            assert_eq!(name(&i, Cookie::Session), "idp_session", "{plain}");
            assert_eq!(name(&i, Cookie::Csrf), "idp_csrf", "{plain}");
            assert_eq!(get(&h, &i, Cookie::Session), Some("planted"));
        }
        let mounted = Issuer::parse("https://example.com/idp").unwrap();
        let c = set(&mounted, Cookie::Csrf, "v", None);
        assert_eq!(c, "idp_csrf=v; Path=/idp; HttpOnly; SameSite=Lax; Secure");
    }
}
