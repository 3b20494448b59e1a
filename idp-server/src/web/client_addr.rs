//! The client's address: the peer of the connection, or, when the peer is one of the
//! configured `trusted_proxies`, the address that proxy reports (`X-Forwarded-For`, or
//! `Forwarded` per RFC 7239) — the rightmost one not itself a trusted proxy. Headers from
//! anyone else are ignored, so a client cannot choose the address it is limited under.

use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, FromRequestParts};
use http::HeaderMap;
use http::request::Parts;

use super::App;

/// How many forwarded hops are looked at, from the right.
const MAX_HOPS: usize = 16;

/// The client's address, when the server knows it (served with `ConnectInfo`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ClientAddr(pub(crate) Option<IpAddr>);

impl FromRequestParts<Arc<App>> for ClientAddr {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, app: &Arc<App>) -> Result<Self, Infallible> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip());
        Ok(Self(resolve(
            peer,
            &parts.headers,
            &app.config.trusted_proxies,
        )))
    }
}

/// The `for=` node of a `Forwarded` element, without quotes, brackets or port.
fn forwarded_for(element: &str) -> Option<&str> {
    element.split(';').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        if !k.trim().eq_ignore_ascii_case("for") {
            return None;
        }
        let v = v.trim().trim_matches('"');
        Some(match v.strip_prefix('[') {
            Some(rest) => rest.split(']').next().unwrap_or(rest),
            None => v
                .rsplit_once(':')
                .filter(|(h, _)| !h.contains(':'))
                .map_or(v, |(h, _)| h),
        })
    })
}

/// The hops the proxy reports, nearest last.
fn forwarded_hops(headers: &HeaderMap) -> Vec<String> {
    let xff = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|h| h.trim().to_owned());
    let mut hops: Vec<String> = xff.collect();
    if hops.is_empty() {
        hops = headers
            .get_all(http::header::FORWARDED)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .filter_map(forwarded_for)
            .map(str::to_owned)
            .collect();
    }
    hops
}

fn resolve(peer: Option<IpAddr>, headers: &HeaderMap, trusted: &[IpAddr]) -> Option<IpAddr> {
    let mut addr = peer?;
    if !trusted.contains(&addr) {
        return Some(addr);
    }
    for hop in forwarded_hops(headers).iter().rev().take(MAX_HOPS) {
        match hop.parse::<IpAddr>() {
            Ok(ip) => {
                addr = ip;
                if !trusted.contains(&ip) {
                    break;
                }
            }
            Err(_) => break,
        }
    }
    Some(addr)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, v.parse().unwrap());
        }
        h
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn headers_count_only_from_trusted_proxies() {
        let spoofed = headers(&[("x-forwarded-for", "1.2.3.4")]);
        assert_eq!(
            resolve(Some(ip("10.0.0.5")), &spoofed, &[]),
            Some(ip("10.0.0.5"))
        );
        let proxy = [ip("10.0.0.1")];
        assert_eq!(
            resolve(Some(ip("10.0.0.1")), &spoofed, &proxy),
            Some(ip("1.2.3.4"))
        );
        // The client can prepend anything; the rightmost untrusted hop is what counts.
        let chain = headers(&[("x-forwarded-for", "6.6.6.6, 1.2.3.4, 10.0.0.2")]);
        let proxies = [ip("10.0.0.1"), ip("10.0.0.2")];
        assert_eq!(
            resolve(Some(ip("10.0.0.1")), &chain, &proxies),
            Some(ip("1.2.3.4"))
        );
        // Garbage stops the walk at the last good hop.
        let junk = headers(&[("x-forwarded-for", "1.2.3.4, junk")]);
        assert_eq!(
            resolve(Some(ip("10.0.0.1")), &junk, &proxy),
            Some(ip("10.0.0.1"))
        );
        assert_eq!(resolve(None, &spoofed, &proxy), None);
    }

    #[test]
    fn forwarded_header() {
        let proxy = [ip("10.0.0.1")];
        let h = headers(&[(
            "forwarded",
            "for=\"[2001:db8::1]:4711\";proto=https, for=10.0.0.1",
        )]);
        assert_eq!(
            resolve(Some(ip("10.0.0.1")), &h, &proxy),
            Some(ip("2001:db8::1"))
        );
        let h = headers(&[("forwarded", "for=192.0.2.60:80;by=203.0.113.43")]);
        assert_eq!(
            resolve(Some(ip("10.0.0.1")), &h, &proxy),
            Some(ip("192.0.2.60"))
        );
    }
}
