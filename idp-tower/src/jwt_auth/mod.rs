//! Bearer-token validation: [`JwtAuthLayer`] (configuration), [`JwtAuth`] (the service) and
//! [`JwtAuthFuture`] (its response future).
//!
//! The example that builds a stack and asserts the status codes is on [`JwtAuthLayer`],
//! where rustdoc shows it.

mod builder;
mod cache;
mod future;
mod introspect;
mod layer;
mod service;

pub use builder::JwtAuthLayerBuilder;
pub use future::JwtAuthFuture;
pub use layer::JwtAuthLayer;
pub use service::JwtAuth;

use http::HeaderMap;
use http::header::AUTHORIZATION;

use crate::challenge::Rejection;

/// The bearer token of a request (RFC 6750 §2.1): `Ok(None)` without an `Authorization`
/// header or with another scheme, an error for a header that is repeated or malformed.
fn bearer_token(headers: &HeaderMap) -> Result<Option<&str>, Rejection> {
    let mut values = headers.get_all(AUTHORIZATION).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(Rejection::InvalidRequest(
            "more than one Authorization header",
        ));
    }
    let value = value
        .to_str()
        .map_err(|_| Rejection::InvalidRequest("malformed Authorization header"))?;
    // credentials = auth-scheme [ 1*SP token68 ] (RFC 9110 §11.4); the scheme is
    // case-insensitive.
    let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Ok(None);
    }
    let token = rest.trim_matches(' ');
    if token.is_empty() {
        return Err(Rejection::InvalidRequest("empty bearer token"));
    }
    if !is_b64token(token) {
        return Err(Rejection::InvalidToken("malformed token"));
    }
    Ok(Some(token))
}

/// The bytes `b64token` allows before its padding, as a table: this runs on every request
/// of a protected API, over the whole token.
const B64TOKEN: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        t[b] = c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_' | b'~' | b'+' | b'/');
        b += 1;
    }
    t
};

/// `b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="` (RFC 6750 §2.1).
fn is_b64token(s: &str) -> bool {
    let body = s.trim_end_matches('=');
    !body.is_empty() && body.bytes().all(|b| B64TOKEN[usize::from(b)])
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn parse(values: &[&[u8]]) -> Result<Option<String>, Rejection> {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(AUTHORIZATION, HeaderValue::from_bytes(v).unwrap());
        }
        bearer_token(&h).map(|t| t.map(str::to_owned))
    }

    #[test]
    fn scheme_is_case_insensitive() {
        for v in [
            "Bearer abc.def.ghi",
            "bearer abc.def.ghi",
            "BEARER  abc.def.ghi ",
        ] {
            assert_eq!(
                parse(&[v.as_bytes()]).unwrap().as_deref(),
                Some("abc.def.ghi")
            );
        }
    }

    #[test]
    fn other_schemes_and_no_header_are_no_token() {
        assert_eq!(parse(&[]).unwrap(), None);
        assert_eq!(parse(&[b"Basic dXNlcjpwYXNz"]).unwrap(), None);
        assert_eq!(parse(&[b"Bearerabc"]).unwrap(), None);
        assert_eq!(parse(&[b"DPoP abc"]).unwrap(), None);
    }

    #[test]
    fn malformed_headers() {
        assert!(matches!(
            parse(&[b"Bearer a", b"Bearer b"]),
            Err(Rejection::InvalidRequest(_))
        ));
        assert!(matches!(
            parse(&[b"Bearer"]),
            Err(Rejection::InvalidRequest(_))
        ));
        assert!(matches!(
            parse(&[b"Bearer   "]),
            Err(Rejection::InvalidRequest(_))
        ));
        assert!(matches!(
            parse(&[b"Bearer \xff\xfe"]),
            Err(Rejection::InvalidRequest(_))
        ));
        for bad in [
            &b"Bearer a b"[..],
            b"Bearer a\"b",
            b"Bearer ===",
            b"Bearer a=b",
        ] {
            assert_eq!(
                parse(&[bad]),
                Err(Rejection::InvalidToken("malformed token")),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
        assert_eq!(
            parse(&[b"Bearer YWJj=="]).unwrap().as_deref(),
            Some("YWJj==")
        );
    }
}
