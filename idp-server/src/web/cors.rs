//! CORS for the endpoints a browser app calls directly: token, userinfo and revocation.
//!
//! Which origins may read the answers:
//! - the configured `cors_allowed_origins`, compared byte for byte with the `Origin` header
//!   (configuration validation has checked that each is a serialized origin);
//! - any origin with `"*"` in that list (`Access-Control-Allow-Origin: *`; refused with
//!   `cors_allow_credentials` at configuration validation, as the Fetch standard forbids it);
//! - with `cors_allow_localhost` (set by `idp serve --dev`), `http://localhost`,
//!   `http://127.0.0.1` and `http://[::1]` on any port, by an exact parse of the origin.
//!
//! A preflight (`OPTIONS`) is answered here without reaching the endpoint: the allowed
//! methods (`GET`, `POST`) and request headers (`Authorization`, `Content-Type`), and
//! `Access-Control-Max-Age`. An origin that is not allowed gets no
//! `Access-Control-Allow-Origin`, so the browser withholds the answer. Unless the answer is
//! the same for every origin (`"*"`), it carries `Vary: Origin`.

use std::time::Duration;

use http::{HeaderValue, Method, header};
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::config::Config;

/// How long a browser may reuse a preflight answer (browsers cap it: Chromium at 2 hours).
const MAX_AGE: Duration = Duration::from_secs(600);

/// The CORS layer of the token, userinfo and revocation endpoints.
pub(crate) fn browser_apis(config: &Config) -> CorsLayer {
    let layer = CorsLayer::new()
        .allow_methods([Method::GET, Method::POST])
        .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE])
        // Safelisted response headers only, unless exposed: why userinfo said 401.
        .expose_headers([header::WWW_AUTHENTICATE])
        .max_age(MAX_AGE);
    if config.cors_allowed_origins.iter().any(|o| o == "*") {
        // One answer for every origin: nothing to vary on. Configuration validation has
        // refused credentials here (tower-http would panic on them).
        return layer.allow_origin(AllowOrigin::any()).vary([]);
    }
    let listed: Vec<HeaderValue> = config
        .cors_allowed_origins
        .iter()
        .filter_map(|o| HeaderValue::from_str(o).ok())
        .collect();
    let localhost = config.cors_allow_localhost;
    layer
        .allow_origin(AllowOrigin::predicate(move |origin, _| {
            listed.contains(origin) || localhost && is_localhost_origin(origin.as_bytes())
        }))
        .allow_credentials(config.cors_allow_credentials)
        .vary([header::ORIGIN])
}

/// Whether `origin` is exactly `http://localhost`, `http://127.0.0.1` or `http://[::1]`,
/// with an optional port in the form a browser serializes it (decimal, 1-65535, no leading
/// zero). Nothing else: not `https`, not `localhost.evil.com`, not upper case, no path.
pub(crate) fn is_localhost_origin(origin: &[u8]) -> bool {
    let Some(rest) = origin.strip_prefix(b"http://") else {
        return false;
    };
    let Some(port) = [&b"localhost"[..], b"127.0.0.1", b"[::1]"]
        .iter()
        .find_map(|host| rest.strip_prefix(*host))
    else {
        return false;
    };
    match port {
        [] => true,
        [b':', digits @ ..] => {
            !digits.is_empty()
                && digits.len() <= 5
                && digits[0] != b'0'
                && digits.iter().all(u8::is_ascii_digit)
                && std::str::from_utf8(digits)
                    .ok()
                    .and_then(|d| d.parse::<u16>().ok())
                    .is_some()
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn localhost_origins_exactly() {
        for ok in [
            "http://localhost",
            "http://localhost:3000",
            "http://127.0.0.1:8080",
            "http://127.0.0.1",
            "http://[::1]:5173",
            "http://localhost:65535",
            "http://localhost:1",
        ] {
            assert!(is_localhost_origin(ok.as_bytes()), "{ok}");
        }
        for bad in [
            "http://localhost.evil.com",
            "http://localhost.evil.com:3000",
            "http://localhost:3000.evil.com",
            "http://localhost:3000@evil.com",
            "http://evil.com#http://localhost",
            "http://evillocalhost",
            "https://localhost:3000",
            "https://127.0.0.1",
            "HTTP://localhost:3000",
            "http://LOCALHOST:3000",
            "http://localhost:",
            "http://localhost:0",
            "http://localhost:03000",
            "http://localhost:65536",
            "http://localhost:123456",
            "http://localhost:+3000",
            "http://localhost:3000/",
            "http://localhost/",
            "http://127.0.0.2:3000",
            "http://127.1:3000",
            "http://0x7f000001",
            "http://[0:0:0:0:0:0:0:1]:3000",
            "http://[::1]x",
            "null",
            "",
            "http://",
            "http://localhost:3000 ",
        ] {
            assert!(!is_localhost_origin(bad.as_bytes()), "{bad}");
        }
    }
}
