//! The JOSE front door: any bytes as a compact JWT, parsed and then verified against an
//! empty key set. Must never panic.
#![no_main]

use idp_core::{Algorithm, FixedClock, UnverifiedJwt, ValidationPolicy, VerificationKeys};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(token) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(jwt) = UnverifiedJwt::parse(token) {
        let _ = (jwt.kid(), jwt.alg(), jwt.typ());
        if let Ok(policy) = ValidationPolicy::builder()
            .issuer("https://id.example.com")
            .insecure_any_audience()
            .algorithms([Algorithm::RS256, Algorithm::ES256, Algorithm::EdDSA])
            .build()
        {
            let keys = VerificationKeys::default();
            let clock = FixedClock::at_unix(1_700_000_000);
            let _ = policy.verify::<serde_json::Value>(&jwt, &keys, &clock);
        }
    }
});
