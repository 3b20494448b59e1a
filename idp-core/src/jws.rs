//! The JOSE front door: a compact JWS (RFC 7515 §7.1) is parsed here exactly once, into an
//! [`UnverifiedJwt`], and produced here by [`encode_jws`].
//!
//! Parsing checks everything that depends on the token alone: the size bound
//! ([`MAX_TOKEN_LEN`]), three segments, a JSON header with an `alg` idp accepts at all (never
//! `none`, never HMAC), and no `crit`. What depends on a policy, on keys or on a clock is the
//! business of [`ValidationPolicy`](crate::ValidationPolicy): its
//! [`precheck`](crate::ValidationPolicy::precheck) (policy only) and
//! [`verify`](crate::ValidationPolicy::verify) (keys and clock as well).

use std::borrow::Cow;
use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{Algorithm, Error, JwtHeader, TokenError};

/// The longest compact JWS idp parses (16 KiB). It bounds the work an attacker can cause
/// before any signature is checked; longer tokens are [`TokenError::Malformed`].
pub const MAX_TOKEN_LEN: usize = 16 * 1024;

/// A compact JWS whose header has been decoded and checked, but whose signature and claims
/// have **not**: nothing in it may be trusted yet. Obtain one with [`UnverifiedJwt::parse`],
/// route on its header (e.g. fetch the keys for its [`kid`](Self::kid)), then hand it to
/// [`ValidationPolicy::verify`](crate::ValidationPolicy::verify).
///
/// `Debug` shows the header only: the token itself is a bearer credential.
///
/// ```
/// use idp_core::{Algorithm, TokenError, UnverifiedJwt};
///
/// // {"alg":"ES256","typ":"at+jwt","kid":"k1"} . {} . (a signature)
/// let token = "eyJhbGciOiJFUzI1NiIsInR5cCI6ImF0K2p3dCIsImtpZCI6ImsxIn0.e30.c2ln";
/// let jwt = UnverifiedJwt::parse(token).unwrap();
/// assert_eq!(jwt.alg(), Algorithm::ES256);
/// assert_eq!(jwt.kid(), Some("k1"));
/// assert_eq!(jwt.typ(), Some("at+jwt"));
///
/// // {"alg":"none"}: refused while parsing, whatever the policy.
/// let err = UnverifiedJwt::parse("eyJhbGciOiJub25lIn0.e30.").unwrap_err();
/// assert_eq!(err, idp_core::Error::InvalidToken(TokenError::AlgorithmNotAllowed));
/// ```
#[derive(Clone)]
pub struct UnverifiedJwt<'a> {
    token: Cow<'a, str>,
    header: JwtHeader,
    /// Where the payload segment starts (just after the first `.`).
    payload_start: usize,
    /// Where the signature segment starts (just after the second `.`); the signing input is
    /// `token[..signature_start - 1]`.
    signature_start: usize,
}

impl fmt::Debug for UnverifiedJwt<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnverifiedJwt")
            .field("header", &self.header)
            .field("len", &self.token.len())
            .finish_non_exhaustive()
    }
}

impl<'a> UnverifiedJwt<'a> {
    /// Parses a compact JWS: at most [`MAX_TOKEN_LEN`] bytes, three segments (the header and
    /// payload non-empty), a base64url JSON header whose `alg` is one of [`Algorithm`] (so
    /// never `none` or HMAC) and without `crit` (RFC 7515 §4.1.11: idp understands no
    /// extension). This is the only place idp decodes a JOSE header.
    ///
    /// Errors: [`TokenError::AlgorithmNotAllowed`] for an `alg` idp never accepts,
    /// [`TokenError::Malformed`] for everything else (wrapped in [`Error::InvalidToken`]).
    pub fn parse(token: &'a str) -> Result<Self, Error> {
        let (header, payload_start, signature_start) = parse_parts(token)?;
        Ok(Self {
            token: Cow::Borrowed(token),
            header,
            payload_start,
            signature_start,
        })
    }

    /// The decoded header.
    pub fn header(&self) -> &JwtHeader {
        &self.header
    }

    /// The header's `alg`.
    pub fn alg(&self) -> Algorithm {
        self.header.alg
    }

    /// The header's `kid`, if any.
    pub fn kid(&self) -> Option<&str> {
        self.header.kid.as_deref()
    }

    /// The header's `typ`, if any.
    pub fn typ(&self) -> Option<&str> {
        self.header.typ.as_deref()
    }

    /// The same token, owning its text (to move it into a future, say). The header is not
    /// decoded again.
    pub fn into_owned(self) -> UnverifiedJwt<'static> {
        UnverifiedJwt {
            token: Cow::Owned(self.token.into_owned()),
            header: self.header,
            payload_start: self.payload_start,
            signature_start: self.signature_start,
        }
    }

    /// `BASE64URL(header) || '.' || BASE64URL(payload)`, the bytes the signature covers.
    pub(crate) fn signing_input(&self) -> &[u8] {
        let end = self.signature_start.saturating_sub(1);
        self.token.as_bytes().get(..end).unwrap_or_default()
    }

    /// The payload segment, still base64url.
    pub(crate) fn payload_b64(&self) -> &str {
        let end = self.signature_start.saturating_sub(1);
        self.token.get(self.payload_start..end).unwrap_or_default()
    }

    /// The signature segment, still base64url.
    pub(crate) fn signature_b64(&self) -> &str {
        self.token.get(self.signature_start..).unwrap_or_default()
    }
}

/// Splits and checks `token`; returns its header and where the payload and signature start.
fn parse_parts(token: &str) -> Result<(JwtHeader, usize, usize), TokenError> {
    // Bound the work an attacker can cause before the signature is checked.
    if token.len() > MAX_TOKEN_LEN {
        return Err(TokenError::Malformed);
    }
    let mut parts = token.split('.');
    let (Some(h), Some(p), Some(_signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(TokenError::Malformed);
    };
    if h.is_empty() || p.is_empty() {
        return Err(TokenError::Malformed);
    }
    let header = decode_header(h)?;
    let payload_start = h.len() + 1;
    Ok((header, payload_start, payload_start + p.len() + 1))
}

/// Decodes and checks a header segment: the one JOSE header decoder.
fn decode_header(segment: &str) -> Result<JwtHeader, TokenError> {
    crate::test_support::record_header_decode();

    #[derive(Deserialize)]
    struct RawHeader {
        alg: String,
        kid: Option<String>,
        typ: Option<String>,
        crit: Option<Value>,
    }
    let bytes = URL_SAFE_NO_PAD
        .decode(segment)
        .map_err(|_| TokenError::Malformed)?;
    let raw: RawHeader = serde_json::from_slice(&bytes).map_err(|_| TokenError::Malformed)?;
    // Never `none`, never HMAC: such names do not parse into `Algorithm`.
    let alg: Algorithm = raw
        .alg
        .parse()
        .map_err(|_| TokenError::AlgorithmNotAllowed)?;
    // RFC 7515 §4.1.11: we understand no extensions, so any `crit` fails.
    if raw.crit.is_some() {
        return Err(TokenError::Malformed);
    }
    Ok(JwtHeader {
        alg,
        kid: raw.kid,
        typ: raw.typ,
    })
}

/// A private key that signs JWS for [`encode_jws`]. idp-core holds no private keys: the
/// implementor (idp-server's signing key, a test key) signs with its own crypto backend.
///
/// ```
/// use idp_core::{Algorithm, Error, JwsSigner, UnverifiedJwt, encode_jws};
///
/// /// Not a signature: only to show the shape of the trait.
/// struct Fake;
/// impl JwsSigner for Fake {
///     fn algorithm(&self) -> Algorithm {
///         Algorithm::EdDSA
///     }
///     fn key_id(&self) -> Option<&str> {
///         Some("k1")
///     }
///     fn sign(&self, signing_input: &[u8]) -> Result<Vec<u8>, Error> {
///         Ok(signing_input.iter().rev().copied().collect())
///     }
/// }
///
/// let token = encode_jws(&Fake, Some("at+jwt"), &serde_json::json!({"sub": "user-1"})).unwrap();
/// let jwt = UnverifiedJwt::parse(&token).unwrap();
/// assert_eq!((jwt.alg(), jwt.kid(), jwt.typ()), (Algorithm::EdDSA, Some("k1"), Some("at+jwt")));
/// ```
pub trait JwsSigner {
    /// The `alg` the signatures are made with.
    fn algorithm(&self) -> Algorithm;

    /// The `kid` to put in the header, if any.
    fn key_id(&self) -> Option<&str>;

    /// Signs the JWS signing input and returns the raw signature (for ECDSA the fixed-width
    /// `r || s` of RFC 7518 §3.4, not DER). Fail with [`Error::Signing`].
    fn sign(&self, signing_input: &[u8]) -> Result<Vec<u8>, Error>;
}

/// The header [`encode_jws`] writes, members in this order: `alg`, `typ`, `kid`.
#[derive(Serialize)]
struct EncodedHeader<'a> {
    alg: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    typ: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    kid: Option<&'a str>,
}

/// Signs `claims` as a compact JWS with the header `{"alg","typ","kid"}` (`typ` and `kid`
/// left out when `None`), the JSON written without whitespace.
///
/// Errors: [`Error::Signing`] when the claims do not serialise or the signer fails.
/// See [`JwsSigner`] for an example.
pub fn encode_jws<S, T>(signer: &S, typ: Option<&str>, claims: &T) -> Result<String, Error>
where
    S: JwsSigner + ?Sized,
    T: Serialize + ?Sized,
{
    let header = serde_json::to_vec(&EncodedHeader {
        alg: signer.algorithm().as_str(),
        typ,
        kid: signer.key_id(),
    })
    .map_err(|_| Error::Signing("header does not serialise"))?;
    let payload =
        serde_json::to_vec(claims).map_err(|_| Error::Signing("claims do not serialise"))?;
    // Base64 grows by 4/3; 700 bytes cover the `.`s and an RSA-4096 signature.
    let mut out = String::with_capacity((header.len() + payload.len()) * 4 / 3 + 700);
    URL_SAFE_NO_PAD.encode_string(&header, &mut out);
    out.push('.');
    URL_SAFE_NO_PAD.encode_string(&payload, &mut out);
    let signature = signer.sign(out.as_bytes())?;
    out.push('.');
    URL_SAFE_NO_PAD.encode_string(&signature, &mut out);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(s: &str) -> String {
        URL_SAFE_NO_PAD.encode(s)
    }

    fn jws(header: &str) -> String {
        format!("{}.{}.c2ln", b64(header), b64("{}"))
    }

    fn parse_err(token: &str) -> TokenError {
        match UnverifiedJwt::parse(token) {
            Err(Error::InvalidToken(e)) => e,
            other => panic!("expected a token error, got {other:?}"),
        }
    }

    #[test]
    fn segments_and_header_members() {
        let t = jws(r#"{"alg":"ES256","kid":"k1","typ":"at+jwt","x5t":"ignored"}"#);
        let jwt = UnverifiedJwt::parse(&t).unwrap();
        assert_eq!(jwt.alg(), Algorithm::ES256);
        assert_eq!(jwt.kid(), Some("k1"));
        assert_eq!(jwt.typ(), Some("at+jwt"));
        let (input, sig) = t.rsplit_once('.').unwrap();
        assert_eq!(jwt.signing_input(), input.as_bytes());
        assert_eq!(jwt.payload_b64(), "e30");
        assert_eq!(jwt.signature_b64(), sig);
        let owned = jwt.clone().into_owned();
        assert_eq!(owned.header(), jwt.header());
        assert_eq!(owned.signing_input(), jwt.signing_input());

        let bare = jws(r#"{"alg":"EdDSA"}"#);
        let jwt = UnverifiedJwt::parse(&bare).unwrap();
        assert_eq!((jwt.kid(), jwt.typ()), (None, None));
        // An empty signature parses; the policy's precheck refuses it.
        let empty_sig = bare.trim_end_matches("c2ln");
        assert_eq!(UnverifiedJwt::parse(empty_sig).unwrap().signature_b64(), "");
    }

    #[test]
    fn refusals() {
        for bad in [
            String::new(),
            "abc".to_owned(),
            "a.b".to_owned(),
            "a.b.c.d".to_owned(),
            ".e30.c2ln".to_owned(),
            format!("{}..c2ln", b64(r#"{"alg":"ES256"}"#)),
            "!!.e30.c2ln".to_owned(),
            jws("not json"),
            jws(r#"{"kid":"no alg"}"#),
            jws(r#"{"alg":"ES256","kid":7}"#),
            jws(r#"{"alg":"ES256","crit":["exp"]}"#),
            jws(r#"{"alg":"ES256","crit":[]}"#),
            format!(
                "{}.{}.c2ln",
                b64(r#"{"alg":"ES256"}"#),
                "e".repeat(MAX_TOKEN_LEN)
            ),
        ] {
            assert_eq!(parse_err(&bad), TokenError::Malformed, "{bad:.60}");
        }
        for alg in ["none", "HS256", "HS512", "es256", "RSA-OAEP", ""] {
            let t = jws(&format!(r#"{{"alg":"{alg}"}}"#));
            assert_eq!(parse_err(&t), TokenError::AlgorithmNotAllowed, "{alg}");
        }
        // Exactly at the bound is still parsed.
        let h = b64(r#"{"alg":"ES256"}"#);
        let fill = MAX_TOKEN_LEN - h.len() - 2 - 4;
        let t = format!("{h}.{}.c2ln", "e".repeat(fill));
        assert_eq!(t.len(), MAX_TOKEN_LEN);
        assert!(UnverifiedJwt::parse(&t).is_ok());
    }

    #[test]
    fn debug_does_not_print_the_token() {
        let t = jws(r#"{"alg":"ES256","kid":"k1"}"#);
        let dbg = format!("{:?}", UnverifiedJwt::parse(&t).unwrap());
        assert!(dbg.contains("k1"), "{dbg}");
        assert!(!dbg.contains("c2ln") && !dbg.contains("e30"), "{dbg}");
    }

    struct Reversing(Option<&'static str>);
    impl JwsSigner for Reversing {
        fn algorithm(&self) -> Algorithm {
            Algorithm::ES256
        }
        fn key_id(&self) -> Option<&str> {
            self.0
        }
        fn sign(&self, input: &[u8]) -> Result<Vec<u8>, Error> {
            Ok(input.iter().rev().copied().collect())
        }
    }

    #[test]
    fn encoded_header_is_alg_typ_kid_without_whitespace() {
        let t = encode_jws(
            &Reversing(Some("k1")),
            Some("at+jwt"),
            &serde_json::json!({}),
        )
        .unwrap();
        let (h, rest) = t.split_once('.').unwrap();
        assert_eq!(
            URL_SAFE_NO_PAD.decode(h).unwrap(),
            br#"{"alg":"ES256","typ":"at+jwt","kid":"k1"}"#
        );
        let (p, sig) = rest.split_once('.').unwrap();
        assert_eq!(p, "e30");
        let input: Vec<u8> = format!("{h}.{p}").into_bytes();
        let expected: Vec<u8> = input.iter().rev().copied().collect();
        assert_eq!(URL_SAFE_NO_PAD.decode(sig).unwrap(), expected);

        let t = encode_jws(&Reversing(None), None, &serde_json::json!({"a": 1})).unwrap();
        let h = t.split('.').next().unwrap();
        assert_eq!(URL_SAFE_NO_PAD.decode(h).unwrap(), br#"{"alg":"ES256"}"#);
    }

    #[test]
    fn signer_failures_and_unserialisable_claims_are_signing_errors() {
        struct Failing;
        impl JwsSigner for Failing {
            fn algorithm(&self) -> Algorithm {
                Algorithm::RS256
            }
            fn key_id(&self) -> Option<&str> {
                None
            }
            fn sign(&self, _: &[u8]) -> Result<Vec<u8>, Error> {
                Err(Error::Signing("hardware said no"))
            }
        }
        assert_eq!(
            encode_jws(&Failing, None, &serde_json::json!({})),
            Err(Error::Signing("hardware said no"))
        );
        let mut map = std::collections::BTreeMap::new();
        map.insert(vec![1u8], 1); // non-string keys do not serialise to JSON
        assert_eq!(
            encode_jws(&Reversing(None), None, &map),
            Err(Error::Signing("claims do not serialise"))
        );
    }
}
