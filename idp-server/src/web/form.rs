//! `application/x-www-form-urlencoded` query strings and bodies, decoded once.

use bytes::Bytes;
use http::{HeaderMap, header};

use crate::error::OAuthError;

/// Decoded parameters, in the order they came.
pub(crate) type Pairs = Vec<(String, String)>;

/// Decodes an `application/x-www-form-urlencoded` body into pairs.
pub(crate) fn form_pairs(headers: &HeaderMap, body: &Bytes) -> Result<Pairs, OAuthError> {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let mime = ct.split(';').next().unwrap_or("").trim();
    if !mime.eq_ignore_ascii_case("application/x-www-form-urlencoded") {
        return Err(OAuthError::invalid_request(
            "the body must be application/x-www-form-urlencoded",
        ));
    }
    if std::str::from_utf8(body).is_err() {
        return Err(OAuthError::invalid_request("the body is not UTF-8"));
    }
    Ok(decode_pairs(body))
}

/// Decodes `application/x-www-form-urlencoded` pairs (a query string or a form body).
pub(crate) fn decode_pairs(encoded: &[u8]) -> Pairs {
    form_urlencoded::parse(encoded)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// The single value of `name`; `invalid_request` if it is repeated.
pub(crate) fn single<'a>(
    pairs: &'a [(String, String)],
    name: &str,
) -> Result<Option<&'a str>, OAuthError> {
    let mut it = pairs.iter().filter(|(k, _)| k == name);
    let first = it.next().map(|(_, v)| v.as_str());
    if it.next().is_some() {
        return Err(OAuthError::invalid_request(format!(
            "parameter {name} given more than once"
        )));
    }
    Ok(first.filter(|v| !v.is_empty()))
}
