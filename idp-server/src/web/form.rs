//! `application/x-www-form-urlencoded` query strings and bodies, decoded once, in linear
//! time and within bounds: a request with thousands of parameters is refused after the
//! first [`MAX_PARAMS`], before anything looks at them.

use std::collections::HashSet;

use bytes::Bytes;
use http::{HeaderMap, header};

use crate::config::Config;
use crate::error::OAuthError;

/// Decoded parameters, in the order they came.
pub(crate) type Pairs = Vec<(String, String)>;

/// The longest parameter name.
pub(crate) const MAX_NAME_LEN: usize = 128;

/// How much a query string or form body may carry: `max_parameters` (default 64; the
/// largest legitimate authorization request has about 20) and `max_parameter_len` (default
/// 16 KiB: an `id_token_hint` is the longest legitimate value) of the configuration.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Bounds {
    pub(crate) params: usize,
    pub(crate) value_len: usize,
}

impl Bounds {
    pub(crate) fn of(config: &Config) -> Self {
        Self {
            params: config.max_parameters,
            value_len: config.max_parameter_len,
        }
    }
}

/// A request body as the handlers take it: over the body limit (or unreadable) is an error
/// the endpoint answers in its own protocol's shape, not the HTTP layer's 413.
pub(crate) type RawBody = Result<Bytes, axum::extract::rejection::BytesRejection>;

/// The body, or `invalid_request`.
pub(crate) fn body(raw: RawBody) -> Result<Bytes, OAuthError> {
    raw.map_err(|_| OAuthError::invalid_request("the body is too large or could not be read"))
}

/// Decodes an `application/x-www-form-urlencoded` body into pairs.
pub(crate) fn form_pairs(
    headers: &HeaderMap,
    body: &Bytes,
    bounds: Bounds,
) -> Result<Pairs, OAuthError> {
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
    decode_pairs(body, bounds)
}

/// Decodes `application/x-www-form-urlencoded` pairs (a query string or a form body);
/// `invalid_request` past the bounds. Decoding stops at the first parameter over a bound.
pub(crate) fn decode_pairs(encoded: &[u8], bounds: Bounds) -> Result<Pairs, OAuthError> {
    let mut out = Vec::new();
    for (k, v) in form_urlencoded::parse(encoded) {
        if out.len() == bounds.params {
            return Err(OAuthError::invalid_request(format!(
                "too many parameters (at most {})",
                bounds.params
            )));
        }
        if k.len() > MAX_NAME_LEN || v.len() > bounds.value_len {
            return Err(OAuthError::invalid_request("a parameter is too long"));
        }
        out.push((k.into_owned(), v.into_owned()));
    }
    Ok(out)
}

/// The first parameter name given more than once, other than `except` (linear time).
pub(crate) fn first_repeated<'a>(
    pairs: &'a [(String, String)],
    except: &[&str],
) -> Option<&'a str> {
    let mut seen = HashSet::with_capacity(pairs.len());
    pairs
        .iter()
        .map(|(k, _)| k.as_str())
        .filter(|k| !except.contains(k))
        .find(|k| !seen.insert(*k))
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

#[cfg(test)]
mod tests {
    use super::*;

    const B: Bounds = Bounds {
        params: 64,
        value_len: 16 * 1024,
    };
    const MAX_PARAMS: usize = B.params;
    const MAX_VALUE_LEN: usize = B.value_len;

    #[test]
    fn bounds() {
        let many: String = (0..MAX_PARAMS).map(|i| format!("p{i}=v&")).collect();
        assert_eq!(decode_pairs(many.as_bytes(), B).unwrap().len(), MAX_PARAMS);
        let too_many = format!("{many}x=y");
        assert!(decode_pairs(too_many.as_bytes(), B).is_err());
        let bomb = "a=b&".repeat(15_000);
        assert!(decode_pairs(bomb.as_bytes(), B).is_err());
        let long_value = format!("a={}", "v".repeat(MAX_VALUE_LEN + 1));
        assert!(decode_pairs(long_value.as_bytes(), B).is_err());
        let long_name = format!("{}=v", "n".repeat(MAX_NAME_LEN + 1));
        assert!(decode_pairs(long_name.as_bytes(), B).is_err());
    }

    #[test]
    fn repeats_found_in_one_pass() {
        let pairs = decode_pairs(b"a=1&b=2&csrf_token=x&csrf_token=y&b=3", B).unwrap();
        assert_eq!(first_repeated(&pairs, &["csrf_token"]), Some("b"));
        assert_eq!(first_repeated(&pairs[..4], &["csrf_token"]), None);
        assert_eq!(first_repeated(&pairs[..4], &[]), Some("csrf_token"));
    }
}
