//! The token validator against real signatures: every error it can report, the
//! algorithm-confusion attack, `alg: none`, and the RFC 7515 A.3 example.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::OnceLock;
use std::time::Duration;

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    self, ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair, RsaKeyPair,
};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use idp_core::{
    AccessTokenClaims, Algorithm, Error, FixedClock, IdTokenClaims, Jwk, JwkSet, JwsSigner,
    TokenError, UnverifiedJwt, ValidationPolicy, VerificationKeys, encode_jws,
};
use serde_json::{Value, json};

const ISS: &str = "https://id.example.com";
const NOW: i64 = 1_800_000_000;

struct Keys {
    rsa: RsaKeyPair,
    ec: EcdsaKeyPair,
    ed: Ed25519KeyPair,
    rsa_jwk: Jwk,
    ec_jwk: Jwk,
    ed_jwk: Jwk,
}

fn keys() -> &'static Keys {
    static K: OnceLock<Keys> = OnceLock::new();
    K.get_or_init(|| {
        let rsa = RsaKeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
        let pk = rsa.public_key();
        let rsa_jwk = Jwk::rsa(
            pk.modulus().big_endian_without_leading_zero(),
            pk.exponent().big_endian_without_leading_zero(),
        )
        .with_kid("rsa-1")
        .for_signing(Algorithm::RS256);
        let ec = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).unwrap();
        let point = ec.public_key().as_ref().to_vec(); // 04 || x || y
        let ec_jwk = Jwk::ec("P-256", &point[1..33], &point[33..65])
            .with_kid("ec-1")
            .for_signing(Algorithm::ES256);
        let ed = Ed25519KeyPair::generate().unwrap();
        let ed_jwk = Jwk::ed25519(ed.public_key().as_ref())
            .with_kid("ed-1")
            .for_signing(Algorithm::EdDSA);
        Keys {
            rsa,
            ec,
            ed,
            rsa_jwk,
            ec_jwk,
            ed_jwk,
        }
    })
}

fn jwks() -> VerificationKeys {
    let k = keys();
    VerificationKeys::from_jwks(&JwkSet::new(vec![
        k.rsa_jwk.clone(),
        k.ec_jwk.clone(),
        k.ed_jwk.clone(),
    ]))
}

fn b64(v: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(v)
}

/// Signs `claims` under `header` with the key its `alg` names (or leaves the signature empty
/// for `none`, or uses `hmac_secret` for HS256).
fn sign(header: &Value, claims: &Value, hmac_secret: Option<&[u8]>) -> String {
    let k = keys();
    let input = format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    );
    let rng = SystemRandom::new();
    let sig = match header["alg"].as_str().unwrap() {
        "RS256" => {
            let mut s = vec![0; k.rsa.public_modulus_len()];
            k.rsa
                .sign(&signature::RSA_PKCS1_SHA256, &rng, input.as_bytes(), &mut s)
                .unwrap();
            s
        }
        "PS256" => {
            let mut s = vec![0; k.rsa.public_modulus_len()];
            k.rsa
                .sign(&signature::RSA_PSS_SHA256, &rng, input.as_bytes(), &mut s)
                .unwrap();
            s
        }
        "ES256" => k.ec.sign(&rng, input.as_bytes()).unwrap().as_ref().to_vec(),
        "EdDSA" => k.ed.sign(input.as_bytes()).as_ref().to_vec(),
        "HS256" => {
            let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, hmac_secret.unwrap());
            aws_lc_rs::hmac::sign(&key, input.as_bytes())
                .as_ref()
                .to_vec()
        }
        "none" => Vec::new(),
        other => panic!("test cannot sign {other}"),
    };
    format!("{input}.{}", b64(&sig))
}

fn claims() -> Value {
    json!({
        "iss": ISS, "sub": "user-1", "aud": "orders-api", "exp": NOW + 300, "iat": NOW,
        "jti": "j1", "client_id": "web", "scope": "read:orders", "token_use": "user"
    })
}

fn policy() -> ValidationPolicy {
    ValidationPolicy::builder()
        .issuer(ISS)
        .audience("orders-api")
        .algorithms([Algorithm::ES256, Algorithm::RS256, Algorithm::EdDSA])
        .build()
        .unwrap()
}

fn check(policy: &ValidationPolicy, token: &str) -> Result<AccessTokenClaims, Error> {
    policy
        .validate::<AccessTokenClaims>(token, &jwks(), &FixedClock::at_unix(NOW))
        .map(|v| v.claims)
}

fn err(policy: &ValidationPolicy, token: &str) -> TokenError {
    match check(policy, token) {
        Err(Error::InvalidToken(e)) => e,
        other => panic!("expected a token error, got {other:?}"),
    }
}

#[test]
fn each_algorithm_signs_and_verifies() {
    for (alg, kid) in [("RS256", "rsa-1"), ("ES256", "ec-1"), ("EdDSA", "ed-1")] {
        let t = sign(
            &json!({"alg": alg, "kid": kid, "typ": "at+jwt"}),
            &claims(),
            None,
        );
        let c = check(&policy(), &t).unwrap_or_else(|e| panic!("{alg}: {e}"));
        assert_eq!(c.sub, "user-1");
        assert!(c.has_scope("read:orders"));
    }
}

#[test]
fn malformed_tokens() {
    let good = sign(&json!({"alg": "ES256", "kid": "ec-1"}), &claims(), None);
    let parts: Vec<&str> = good.split('.').collect();
    for bad in [
        String::new(),
        "abc".to_owned(),
        "a.b".to_owned(),
        format!("{good}.extra"),
        format!("!!.{}.{}", parts[1], parts[2]),
        format!("{}.{}.{}", b64(b"not json"), parts[1], parts[2]),
        format!(".{}.{}", parts[1], parts[2]),
        "x".repeat(20_000),
    ] {
        assert_eq!(err(&policy(), &bad), TokenError::Malformed, "{bad:.40}");
    }
    // A payload that is not an object, correctly signed.
    let t = sign(
        &json!({"alg": "ES256", "kid": "ec-1"}),
        &json!([1, 2]),
        None,
    );
    assert_eq!(err(&policy(), &t), TokenError::Malformed);
    // A claim of the wrong type.
    let mut c = claims();
    c["exp"] = json!("tomorrow");
    let t = sign(&json!({"alg": "ES256", "kid": "ec-1"}), &c, None);
    assert_eq!(err(&policy(), &t), TokenError::Malformed);
    // crit names an extension we do not understand.
    let t = sign(
        &json!({"alg": "ES256", "kid": "ec-1", "crit": ["exp"]}),
        &claims(),
        None,
    );
    assert_eq!(err(&policy(), &t), TokenError::Malformed);
}

#[test]
fn unknown_kid() {
    let t = sign(&json!({"alg": "ES256", "kid": "nope"}), &claims(), None);
    assert_eq!(err(&policy(), &t), TokenError::UnknownKey);
}

#[test]
fn no_kid_uses_the_only_key_for_the_algorithm() {
    let t = sign(&json!({"alg": "ES256"}), &claims(), None);
    assert!(check(&policy(), &t).is_ok());
}

#[test]
fn alg_none_is_refused() {
    let t = sign(&json!({"alg": "none"}), &claims(), None);
    assert_eq!(err(&policy(), &t), TokenError::AlgorithmNotAllowed);
    // Also with a kid that exists, and with the signature part dropped entirely.
    let t = sign(&json!({"alg": "none", "kid": "rsa-1"}), &claims(), None);
    assert_eq!(err(&policy(), &t), TokenError::AlgorithmNotAllowed);
    assert_eq!(
        err(&policy(), t.trim_end_matches('.')),
        TokenError::Malformed
    );
}

/// The classic confusion attack: the attacker takes the provider's published RSA public key,
/// uses its bytes as an HMAC secret, and signs with HS256.
#[test]
fn algorithm_confusion_rs256_key_as_hs256_secret_fails() {
    let k = keys();
    let public_der = k.rsa.public_key().as_der().unwrap();
    let jwk_json = serde_json::to_vec(&k.rsa_jwk).unwrap();
    for secret in [
        public_der.as_ref(),
        jwk_json.as_slice(),
        k.rsa_jwk.n.as_ref().unwrap().as_bytes(),
    ] {
        let t = sign(
            &json!({"alg": "HS256", "kid": "rsa-1"}),
            &claims(),
            Some(secret),
        );
        assert_eq!(err(&policy(), &t), TokenError::AlgorithmNotAllowed);
    }
    // HS256 cannot even be named in a policy.
    assert!("HS256".parse::<Algorithm>().is_err());
}

#[test]
fn algorithm_outside_the_allow_list() {
    let only_es = ValidationPolicy::builder()
        .issuer(ISS)
        .audience("orders-api")
        .algorithms([Algorithm::ES256])
        .build()
        .unwrap();
    let t = sign(&json!({"alg": "RS256", "kid": "rsa-1"}), &claims(), None);
    assert_eq!(err(&only_es, &t), TokenError::AlgorithmNotAllowed);
    // An allowed algorithm on a key that is published for another one.
    let both = ValidationPolicy::builder()
        .issuer(ISS)
        .audience("orders-api")
        .algorithms([Algorithm::PS256, Algorithm::RS256])
        .build()
        .unwrap();
    let t = sign(&json!({"alg": "PS256", "kid": "rsa-1"}), &claims(), None);
    assert_eq!(err(&both, &t), TokenError::AlgorithmNotAllowed);
    // ES256 header pointing at the RSA key.
    let t = sign(&json!({"alg": "ES256", "kid": "rsa-1"}), &claims(), None);
    assert_eq!(err(&policy(), &t), TokenError::AlgorithmNotAllowed);
}

#[test]
fn bad_signature() {
    let t = sign(&json!({"alg": "ES256", "kid": "ec-1"}), &claims(), None);
    let (input, _) = t.rsplit_once('.').unwrap();
    // Signature of another token.
    let other = sign(
        &json!({"alg": "ES256", "kid": "ec-1"}),
        &json!({"x": 1}),
        None,
    );
    let forged = format!("{input}.{}", other.rsplit_once('.').unwrap().1);
    assert_eq!(err(&policy(), &forged), TokenError::BadSignature);
    // Payload swapped under a valid signature.
    let mut c = claims();
    c["sub"] = json!("admin");
    let parts: Vec<&str> = t.split('.').collect();
    let swapped = format!(
        "{}.{}.{}",
        parts[0],
        b64(c.to_string().as_bytes()),
        parts[2]
    );
    assert_eq!(err(&policy(), &swapped), TokenError::BadSignature);
    // Empty and non-base64 signatures.
    assert_eq!(
        err(&policy(), &format!("{input}.")),
        TokenError::BadSignature
    );
    assert_eq!(
        err(&policy(), &format!("{input}.@@@")),
        TokenError::BadSignature
    );
}

#[test]
fn expiry_and_not_before_with_leeway() {
    let h = json!({"alg": "ES256", "kid": "ec-1"});
    let mut c = claims();
    c["exp"] = json!(NOW - 61);
    assert_eq!(err(&policy(), &sign(&h, &c, None)), TokenError::Expired);
    c["exp"] = json!(NOW - 59); // within the default 60 s leeway
    assert!(check(&policy(), &sign(&h, &c, None)).is_ok());
    let strict = ValidationPolicy::builder()
        .issuer(ISS)
        .audience("orders-api")
        .algorithms([Algorithm::ES256])
        .leeway(Duration::ZERO)
        .build()
        .unwrap();
    assert_eq!(err(&strict, &sign(&h, &c, None)), TokenError::Expired);

    let mut c = claims();
    c["nbf"] = json!(NOW + 61);
    assert_eq!(err(&policy(), &sign(&h, &c, None)), TokenError::NotYetValid);
    c["nbf"] = json!(NOW + 30);
    assert!(check(&policy(), &sign(&h, &c, None)).is_ok());

    let mut c = claims();
    c.as_object_mut().unwrap().remove("exp");
    assert_eq!(
        err(&policy(), &sign(&h, &c, None)),
        TokenError::MissingClaim("exp")
    );
}

#[test]
fn wrong_issuer_and_audience() {
    let h = json!({"alg": "ES256", "kid": "ec-1"});
    let mut c = claims();
    c["iss"] = json!("https://evil.example.com");
    assert_eq!(err(&policy(), &sign(&h, &c, None)), TokenError::WrongIssuer);
    let mut c = claims();
    c["aud"] = json!("billing-api");
    assert_eq!(
        err(&policy(), &sign(&h, &c, None)),
        TokenError::WrongAudience
    );
    c["aud"] = json!(["billing-api", "orders-api"]);
    assert!(check(&policy(), &sign(&h, &c, None)).is_ok());
    c.as_object_mut().unwrap().remove("aud");
    assert_eq!(
        err(&policy(), &sign(&h, &c, None)),
        TokenError::MissingClaim("aud")
    );
}

#[test]
fn required_typ() {
    let p = ValidationPolicy::builder()
        .issuer(ISS)
        .audience("orders-api")
        .algorithms([Algorithm::ES256])
        .required_typ("at+jwt")
        .build()
        .unwrap();
    for ok in ["at+jwt", "AT+JWT", "application/at+jwt"] {
        let t = sign(
            &json!({"alg": "ES256", "kid": "ec-1", "typ": ok}),
            &claims(),
            None,
        );
        assert!(check(&p, &t).is_ok(), "{ok}");
    }
    let t = sign(
        &json!({"alg": "ES256", "kid": "ec-1", "typ": "JWT"}),
        &claims(),
        None,
    );
    assert_eq!(err(&p, &t), TokenError::WrongType);
    let t = sign(&json!({"alg": "ES256", "kid": "ec-1"}), &claims(), None);
    assert_eq!(err(&p, &t), TokenError::WrongType);
}

#[test]
fn nonce_and_azp_for_id_tokens() {
    let base = ValidationPolicy::builder()
        .issuer(ISS)
        .audience("web")
        .algorithms([Algorithm::RS256])
        .authorized_party("web")
        .build()
        .unwrap();
    let h = json!({"alg": "RS256", "kid": "rsa-1"});
    let id = json!({"iss": ISS, "sub": "u", "aud": "web", "exp": NOW + 60, "iat": NOW,
                    "nonce": "n-0S6_WzA2Mj", "email": "a@example.com"});
    let t = sign(&h, &id, None);
    let clock = FixedClock::at_unix(NOW);
    let ok: IdTokenClaims = base
        .with_nonce("n-0S6_WzA2Mj")
        .validate(&t, &jwks(), &clock)
        .unwrap()
        .claims;
    assert_eq!(ok.profile.email.as_deref(), Some("a@example.com"));
    let e = base
        .with_nonce("other")
        .validate::<IdTokenClaims>(&t, &jwks(), &clock)
        .unwrap_err();
    assert_eq!(e, Error::InvalidToken(TokenError::NonceMismatch));

    // Several audiences need azp naming us.
    let mut multi = id.clone();
    multi["aud"] = json!(["web", "other"]);
    let e = base
        .validate::<IdTokenClaims>(&sign(&h, &multi, None), &jwks(), &clock)
        .unwrap_err();
    assert_eq!(e, Error::InvalidToken(TokenError::WrongAuthorizedParty));
    multi["azp"] = json!("other");
    let e = base
        .validate::<IdTokenClaims>(&sign(&h, &multi, None), &jwks(), &clock)
        .unwrap_err();
    assert_eq!(e, Error::InvalidToken(TokenError::WrongAuthorizedParty));
    multi["azp"] = json!("web");
    assert!(
        base.validate::<IdTokenClaims>(&sign(&h, &multi, None), &jwks(), &clock)
            .is_ok()
    );
}

#[test]
fn policy_requires_issuer_audience_and_algorithms() {
    let e = ValidationPolicy::builder()
        .audience("a")
        .algorithms([Algorithm::ES256])
        .build()
        .unwrap_err();
    assert!(matches!(e, Error::InvalidPolicy(_)));
    assert!(
        ValidationPolicy::builder()
            .issuer(ISS)
            .algorithms([Algorithm::ES256])
            .build()
            .is_err()
    );
    assert!(
        ValidationPolicy::builder()
            .issuer(ISS)
            .audience("a")
            .build()
            .is_err()
    );
}

/// RFC 7515 Appendix A.3: the ES256 example JWS verifies with the example key.
#[test]
fn rfc7515_a3_es256_example() {
    let jwk: Jwk = serde_json::from_value(json!({
        "kty": "EC", "crv": "P-256",
        "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
        "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"
    }))
    .unwrap();
    let keys = VerificationKeys::from_jwks(&JwkSet::new(vec![jwk]));
    let token = "eyJhbGciOiJFUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ.DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q";
    let p = ValidationPolicy::builder()
        .issuer("joe")
        .insecure_any_audience()
        .algorithms([Algorithm::ES256])
        .build()
        .unwrap();
    let v = p
        .validate::<Value>(token, &keys, &FixedClock::at_unix(1_300_819_000))
        .unwrap();
    assert_eq!(v.claims["http://example.com/is_root"], true);
    let late = p
        .validate::<Value>(token, &keys, &FixedClock::at_unix(1_300_819_500))
        .unwrap_err();
    assert_eq!(late, Error::InvalidToken(TokenError::Expired));
}

/// The contract of `ValidationPolicy::precheck`: it is the key-free prefix of `verify`. What
/// it refuses, `verify` refuses with the same error against any keys; what it accepts fails
/// against an empty key set only with `UnknownKey`.
#[test]
fn precheck_is_the_key_free_prefix_of_verify() {
    let only_es = ValidationPolicy::builder()
        .issuer(ISS)
        .audience("orders-api")
        .algorithms([Algorithm::ES256])
        .required_typ("at+jwt")
        .build()
        .unwrap();
    let c = claims();
    let mut expired = claims();
    expired["exp"] = json!(NOW - 3600);
    let tokens = [
        sign(
            &json!({"alg": "ES256", "kid": "ec-1", "typ": "at+jwt"}),
            &c,
            None,
        ),
        sign(&json!({"alg": "ES256", "kid": "ec-1"}), &expired, None),
        sign(&json!({"alg": "ES256", "kid": "nope"}), &c, None),
        sign(&json!({"alg": "ES256"}), &c, None),
        sign(&json!({"alg": "RS256", "kid": "rsa-1"}), &c, None),
        sign(&json!({"alg": "EdDSA", "kid": "ed-1"}), &c, None),
        sign(&json!({"alg": "ES256", "kid": "rsa-1"}), &c, None),
        format!(
            "{}.",
            sign(&json!({"alg": "ES256", "kid": "ec-1"}), &c, None)
                .rsplit_once('.')
                .unwrap()
                .0
        ),
        format!(
            "{}.@@@",
            sign(&json!({"alg": "ES256", "kid": "ec-1"}), &c, None)
                .rsplit_once('.')
                .unwrap()
                .0
        ),
    ];
    let clock = FixedClock::at_unix(NOW);
    let none = VerificationKeys::default();
    for policy in [&only_es, &policy()] {
        for t in &tokens {
            let jwt = UnverifiedJwt::parse(t).unwrap();
            let pre = policy.precheck(&jwt);
            let empty = policy.verify::<Value>(&jwt, &none, &clock).map(|_| ());
            let full = policy.verify::<Value>(&jwt, &jwks(), &clock).map(|_| ());
            match pre {
                Err(e) => {
                    assert_eq!(empty, Err(e.clone()), "{t:.60}");
                    assert_eq!(full, Err(e), "{t:.60}");
                }
                Ok(()) => assert_eq!(
                    empty,
                    Err(Error::InvalidToken(TokenError::UnknownKey)),
                    "{t:.60}"
                ),
            }
            // validate is parse + verify.
            assert_eq!(
                policy.validate::<Value>(t, &jwks(), &clock).map(|_| ()),
                full,
                "{t:.60}"
            );
        }
    }
}

/// The three key types idp-server signs with, as `JwsSigner`s over aws-lc.
enum TestSigner {
    Rsa,
    Ec,
    Ed,
}

impl JwsSigner for TestSigner {
    fn algorithm(&self) -> Algorithm {
        match self {
            Self::Rsa => Algorithm::RS256,
            Self::Ec => Algorithm::ES256,
            Self::Ed => Algorithm::EdDSA,
        }
    }
    fn key_id(&self) -> Option<&str> {
        Some(match self {
            Self::Rsa => "rsa-1",
            Self::Ec => "ec-1",
            Self::Ed => "ed-1",
        })
    }
    fn sign(&self, input: &[u8]) -> Result<Vec<u8>, Error> {
        let k = keys();
        let rng = SystemRandom::new();
        Ok(match self {
            Self::Rsa => {
                let mut s = vec![0; k.rsa.public_modulus_len()];
                k.rsa
                    .sign(&signature::RSA_PKCS1_SHA256, &rng, input, &mut s)
                    .map_err(|_| Error::Signing("RSA"))?;
                s
            }
            Self::Ec => {
                k.ec.sign(&rng, input)
                    .map_err(|_| Error::Signing("ECDSA"))?
                    .as_ref()
                    .to_vec()
            }
            Self::Ed => k.ed.sign(input).as_ref().to_vec(),
        })
    }
}

#[test]
fn encoded_tokens_verify() {
    for signer in [TestSigner::Rsa, TestSigner::Ec, TestSigner::Ed] {
        let t = encode_jws(&signer, Some("at+jwt"), &claims()).unwrap();
        let header = URL_SAFE_NO_PAD
            .decode(t.split('.').next().unwrap())
            .unwrap();
        assert_eq!(
            String::from_utf8(header).unwrap(),
            format!(
                r#"{{"alg":"{}","typ":"at+jwt","kid":"{}"}}"#,
                signer.algorithm(),
                signer.key_id().unwrap()
            )
        );
        let c = check(&policy(), &t).unwrap();
        assert_eq!(c.sub, "user-1");
    }
}
