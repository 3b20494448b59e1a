//! JWK and JWK Set parsing (what a JWKS endpoint or a configuration may hand us), then the
//! thumbprint and the public form. Must never panic.
#![no_main]

use idp_core::{Jwk, JwkSet};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(jwk) = serde_json::from_slice::<Jwk>(data) {
        let _ = jwk.thumbprint();
        let _ = jwk.to_public();
    }
    if let Ok(set) = serde_json::from_slice::<JwkSet>(data) {
        let _ = serde_json::to_vec(&set);
    }
});
