//! JSON Web Keys (RFC 7517, RFC 7518 §6, RFC 8037) and the verification keys built from them.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::DecodingKey;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

use crate::{Error, JwkError};

/// A JWS signing algorithm idp accepts. There is deliberately no `none` and no HMAC: a
/// provider's published keys are public, and an HMAC "verified" with a public key proves
/// nothing (the algorithm-confusion attack).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Algorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    RS256,
    /// RSASSA-PKCS1-v1_5 with SHA-384.
    RS384,
    /// RSASSA-PKCS1-v1_5 with SHA-512.
    RS512,
    /// RSASSA-PSS with SHA-256.
    PS256,
    /// RSASSA-PSS with SHA-384.
    PS384,
    /// RSASSA-PSS with SHA-512.
    PS512,
    /// ECDSA P-256 with SHA-256.
    ES256,
    /// ECDSA P-384 with SHA-384.
    ES384,
    /// Ed25519.
    EdDSA,
}

impl Algorithm {
    /// Every supported algorithm.
    pub const ALL: [Algorithm; 9] = [
        Self::RS256,
        Self::RS384,
        Self::RS512,
        Self::PS256,
        Self::PS384,
        Self::PS512,
        Self::ES256,
        Self::ES384,
        Self::EdDSA,
    ];

    /// The `alg` value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::RS256 => "RS256",
            Self::RS384 => "RS384",
            Self::RS512 => "RS512",
            Self::PS256 => "PS256",
            Self::PS384 => "PS384",
            Self::PS512 => "PS512",
            Self::ES256 => "ES256",
            Self::ES384 => "ES384",
            Self::EdDSA => "EdDSA",
        }
    }

    /// The key type this algorithm needs.
    pub fn key_type(self) -> KeyType {
        match self {
            Self::RS256 | Self::RS384 | Self::RS512 | Self::PS256 | Self::PS384 | Self::PS512 => {
                KeyType::Rsa
            }
            Self::ES256 | Self::ES384 => KeyType::Ec,
            Self::EdDSA => KeyType::Okp,
        }
    }

    /// The curve this algorithm needs, for EC and OKP keys.
    fn curve(self) -> Option<&'static str> {
        match self {
            Self::ES256 => Some("P-256"),
            Self::ES384 => Some("P-384"),
            Self::EdDSA => Some("Ed25519"),
            _ => None,
        }
    }

    pub(crate) fn to_jsonwebtoken(self) -> jsonwebtoken::Algorithm {
        use jsonwebtoken::Algorithm as J;
        match self {
            Self::RS256 => J::RS256,
            Self::RS384 => J::RS384,
            Self::RS512 => J::RS512,
            Self::PS256 => J::PS256,
            Self::PS384 => J::PS384,
            Self::PS512 => J::PS512,
            Self::ES256 => J::ES256,
            Self::ES384 => J::ES384,
            Self::EdDSA => J::EdDSA,
        }
    }
}

impl FromStr for Algorithm {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        Self::ALL
            .into_iter()
            .find(|a| a.as_str() == s)
            .ok_or_else(|| Error::UnsupportedAlgorithm(s.chars().take(16).collect()))
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Algorithm {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Algorithm {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// The `kty` of a JWK.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum KeyType {
    /// `RSA`
    Rsa,
    /// `EC`
    Ec,
    /// `OKP` (RFC 8037)
    Okp,
    /// `oct` (symmetric; parsed, never used for verification)
    Oct,
    /// Anything else.
    Other(String),
}

impl KeyType {
    /// The `kty` value.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Rsa => "RSA",
            Self::Ec => "EC",
            Self::Okp => "OKP",
            Self::Oct => "oct",
            Self::Other(s) => s,
        }
    }
}

impl Serialize for KeyType {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for KeyType {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(match String::deserialize(d)?.as_str() {
            "RSA" => Self::Rsa,
            "EC" => Self::Ec,
            "OKP" => Self::Okp,
            "oct" => Self::Oct,
            other => Self::Other(other.to_owned()),
        })
    }
}

/// Private or symmetric key members; never printed by `Debug`.
const PRIVATE_MEMBERS: [&str; 8] = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/// A JSON Web Key. Members idp does not model (`x5c`, private parameters, …) are kept in
/// [`Jwk::other`] so that a key serialises back as it was read; `Debug` never prints private
/// or symmetric key material.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Jwk {
    /// Key type.
    pub kty: KeyType,
    /// Key id.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub kid: Option<String>,
    /// Intended use: `sig` or `enc`.
    #[serde(rename = "use", skip_serializing_if = "Option::is_none", default)]
    pub use_: Option<String>,
    /// Algorithm the key is for (kept as a string: a key set may name algorithms idp does
    /// not support).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub alg: Option<String>,
    /// Permitted operations.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub key_ops: Option<Vec<String>>,
    /// RSA modulus.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub n: Option<String>,
    /// RSA public exponent.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub e: Option<String>,
    /// Curve (`P-256`, `P-384`, `Ed25519`).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub crv: Option<String>,
    /// EC x coordinate or OKP public key.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub x: Option<String>,
    /// EC y coordinate.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub y: Option<String>,
    /// Every other member, as read.
    #[serde(flatten)]
    pub other: BTreeMap<String, Value>,
}

impl fmt::Debug for Jwk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Jwk");
        d.field("kty", &self.kty.as_str())
            .field("kid", &self.kid)
            .field("use", &self.use_)
            .field("alg", &self.alg)
            .field("crv", &self.crv);
        for (k, v) in &self.other {
            if PRIVATE_MEMBERS.contains(&k.as_str()) {
                d.field(k, &"[redacted]");
            } else {
                d.field(k, v);
            }
        }
        d.finish_non_exhaustive()
    }
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

impl Jwk {
    fn empty(kty: KeyType) -> Self {
        Self {
            kty,
            kid: None,
            use_: None,
            alg: None,
            key_ops: None,
            n: None,
            e: None,
            crv: None,
            x: None,
            y: None,
            other: BTreeMap::new(),
        }
    }

    /// An RSA public key from its big-endian modulus and exponent.
    pub fn rsa(modulus: &[u8], exponent: &[u8]) -> Self {
        let strip = |b: &[u8]| -> Vec<u8> {
            let first = b.iter().position(|x| *x != 0).unwrap_or(b.len());
            b[first..].to_vec()
        };
        Self {
            n: Some(b64(&strip(modulus))),
            e: Some(b64(&strip(exponent))),
            ..Self::empty(KeyType::Rsa)
        }
    }

    /// An EC public key on `crv` ("P-256" or "P-384") from its coordinates.
    pub fn ec(crv: &str, x: &[u8], y: &[u8]) -> Self {
        Self {
            crv: Some(crv.to_owned()),
            x: Some(b64(x)),
            y: Some(b64(y)),
            ..Self::empty(KeyType::Ec)
        }
    }

    /// An Ed25519 public key (RFC 8037).
    pub fn ed25519(public_key: &[u8]) -> Self {
        Self {
            crv: Some("Ed25519".to_owned()),
            x: Some(b64(public_key)),
            ..Self::empty(KeyType::Okp)
        }
    }

    /// Sets `kid`.
    pub fn with_kid(mut self, kid: impl Into<String>) -> Self {
        self.kid = Some(kid.into());
        self
    }

    /// Sets `alg` and `use: sig`.
    pub fn for_signing(mut self, alg: Algorithm) -> Self {
        self.alg = Some(alg.as_str().to_owned());
        self.use_ = Some("sig".to_owned());
        self
    }

    /// Whether the key carries private or symmetric material.
    pub fn has_private_material(&self) -> bool {
        PRIVATE_MEMBERS.iter().any(|m| self.other.contains_key(*m))
    }

    /// The same key without private or symmetric members, fit to publish.
    pub fn to_public(&self) -> Self {
        let mut k = self.clone();
        for m in PRIVATE_MEMBERS {
            k.other.remove(m);
        }
        k
    }

    /// The RFC 7638 JWK thumbprint (SHA-256, base64url), a good `kid`.
    pub fn thumbprint(&self) -> Result<String, Error> {
        let req = |v: &Option<String>, name: &'static str| {
            v.clone()
                .ok_or(Error::InvalidJwk(JwkError::MissingMember(name)))
        };
        // Members in lexicographic order, no whitespace (RFC 7638 §3.2).
        let canonical = match self.kty {
            KeyType::Rsa => format!(
                r#"{{"e":"{}","kty":"RSA","n":"{}"}}"#,
                req(&self.e, "e")?,
                req(&self.n, "n")?
            ),
            KeyType::Ec => format!(
                r#"{{"crv":"{}","kty":"EC","x":"{}","y":"{}"}}"#,
                req(&self.crv, "crv")?,
                req(&self.x, "x")?,
                req(&self.y, "y")?
            ),
            KeyType::Okp => format!(
                r#"{{"crv":"{}","kty":"OKP","x":"{}"}}"#,
                req(&self.crv, "crv")?,
                req(&self.x, "x")?
            ),
            _ => return Err(JwkError::Unsupported.into()),
        };
        if canonical.contains('\\') {
            return Err(JwkError::BadMember("kty").into());
        }
        Ok(b64(&crate::sha256(canonical.as_bytes())))
    }

    /// The algorithms this key can verify: its `alg` if set, else every algorithm of its
    /// type and curve.
    fn algorithms(&self) -> Vec<Algorithm> {
        match &self.alg {
            Some(a) => a.parse().map(|a| vec![a]).unwrap_or_default(),
            None => Algorithm::ALL
                .into_iter()
                .filter(|a| a.key_type() == self.kty)
                .filter(|a| a.curve().is_none() || a.curve() == self.crv.as_deref())
                .collect(),
        }
    }

    /// Builds a verification key. Refuses `oct` keys, keys whose `use` is not `sig`,
    /// unsupported curves and malformed members.
    pub fn verification_key(&self) -> Result<VerificationKey, Error> {
        if let Some(u) = &self.use_
            && u != "sig"
        {
            return Err(JwkError::NotForSignatures.into());
        }
        let decode = |v: &Option<String>, name: &'static str| -> Result<Vec<u8>, Error> {
            let s = v.as_deref().ok_or(JwkError::MissingMember(name))?;
            URL_SAFE_NO_PAD
                .decode(s.trim_end_matches('='))
                .map_err(|_| JwkError::BadMember(name).into())
        };
        let key = match self.kty {
            KeyType::Rsa => {
                let n = decode(&self.n, "n")?;
                let e = decode(&self.e, "e")?;
                // Refuse toy moduli: 2048 bits is the floor for RS*/PS*.
                let first = n.iter().position(|b| *b != 0).unwrap_or(n.len());
                if n.len() - first < 256 || e.is_empty() || e.len() > 8 {
                    return Err(JwkError::BadMember("n").into());
                }
                DecodingKey::from_rsa_raw_components(&n, &e)
            }
            KeyType::Ec => {
                let len = match self.crv.as_deref() {
                    Some("P-256") => 32,
                    Some("P-384") => 48,
                    Some(_) => return Err(JwkError::Unsupported.into()),
                    None => return Err(JwkError::MissingMember("crv").into()),
                };
                let x = decode(&self.x, "x")?;
                let y = decode(&self.y, "y")?;
                if x.len() != len {
                    return Err(JwkError::BadMember("x").into());
                }
                if y.len() != len {
                    return Err(JwkError::BadMember("y").into());
                }
                let mut point = Vec::with_capacity(1 + 2 * len);
                point.push(4);
                point.extend_from_slice(&x);
                point.extend_from_slice(&y);
                DecodingKey::from_ec_der(&point)
            }
            KeyType::Okp => {
                match self.crv.as_deref() {
                    Some("Ed25519") => {}
                    Some(_) => return Err(JwkError::Unsupported.into()),
                    None => return Err(JwkError::MissingMember("crv").into()),
                }
                let x = decode(&self.x, "x")?;
                if x.len() != 32 {
                    return Err(JwkError::BadMember("x").into());
                }
                DecodingKey::from_ed_der(&x)
            }
            _ => return Err(JwkError::Unsupported.into()),
        };
        let algorithms = self.algorithms();
        if algorithms.is_empty() {
            return Err(JwkError::Unsupported.into());
        }
        Ok(VerificationKey {
            kid: self.kid.clone(),
            algorithms,
            key,
        })
    }
}

/// A JWK Set (RFC 7517 §5). Members besides `keys` are kept.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct JwkSet {
    /// The keys.
    pub keys: Vec<Jwk>,
    /// Other members, as read.
    #[serde(flatten)]
    pub other: BTreeMap<String, Value>,
}

impl JwkSet {
    /// A set of keys.
    pub fn new(keys: Vec<Jwk>) -> Self {
        Self {
            keys,
            other: BTreeMap::new(),
        }
    }

    /// Parses a JWK Set document, skipping (not failing on) entries that are not valid JWK
    /// objects. Fails only if the document is not an object with a `keys` array.
    pub fn from_json_lenient(json: &[u8]) -> Result<Self, Error> {
        #[derive(Deserialize)]
        struct Raw {
            keys: Vec<Value>,
        }
        let raw: Raw = serde_json::from_slice(json)
            .map_err(|_| Error::InvalidJwk(JwkError::MissingMember("keys")))?;
        let keys = raw
            .keys
            .into_iter()
            .filter_map(|v| serde_json::from_value::<Jwk>(v).ok())
            .collect();
        Ok(Self::new(keys))
    }

    /// The key with this `kid`.
    pub fn find(&self, kid: &str) -> Option<&Jwk> {
        self.keys.iter().find(|k| k.kid.as_deref() == Some(kid))
    }
}

/// A public key ready to verify signatures, built from a [`Jwk`].
#[derive(Clone)]
pub struct VerificationKey {
    kid: Option<String>,
    algorithms: Vec<Algorithm>,
    key: DecodingKey,
}

impl fmt::Debug for VerificationKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerificationKey")
            .field("kid", &self.kid)
            .field("algorithms", &self.algorithms)
            .finish_non_exhaustive()
    }
}

impl VerificationKey {
    /// The key id.
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// Whether this key may verify `alg`.
    pub fn supports(&self, alg: Algorithm) -> bool {
        self.algorithms.contains(&alg)
    }

    pub(crate) fn verify(&self, alg: Algorithm, message: &[u8], signature_b64: &str) -> bool {
        matches!(
            jsonwebtoken::crypto::verify(signature_b64, message, &self.key, alg.to_jsonwebtoken()),
            Ok(true)
        )
    }
}

/// The usable keys of a JWK Set, ready for the validator. Keys that cannot verify (`oct`,
/// `use: enc`, unknown curves, malformed members) are left out rather than failing the set.
#[derive(Debug, Clone, Default)]
pub struct VerificationKeys {
    keys: Vec<VerificationKey>,
}

impl VerificationKeys {
    /// Builds the usable keys of `set`.
    pub fn from_jwks(set: &JwkSet) -> Self {
        Self {
            keys: set
                .keys
                .iter()
                .filter_map(|k| k.verification_key().ok())
                .collect(),
        }
    }

    /// Number of usable keys.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether there is no usable key.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Whether a key with this `kid` is present.
    pub fn contains_kid(&self, kid: &str) -> bool {
        self.keys.iter().any(|k| k.kid.as_deref() == Some(kid))
    }

    /// The key for a token header: by `kid` when the header has one; otherwise the only key
    /// that supports `alg`, if exactly one does.
    pub fn select(&self, kid: Option<&str>, alg: Algorithm) -> Option<&VerificationKey> {
        match kid {
            Some(kid) => self
                .keys
                .iter()
                .find(|k| k.kid.as_deref() == Some(kid) && k.supports(alg))
                .or_else(|| self.keys.iter().find(|k| k.kid.as_deref() == Some(kid))),
            None => {
                let mut it = self.keys.iter().filter(|k| k.supports(alg));
                match (it.next(), it.next()) {
                    (Some(k), None) => Some(k),
                    _ => None,
                }
            }
        }
    }
}

impl FromIterator<VerificationKey> for VerificationKeys {
    fn from_iter<T: IntoIterator<Item = VerificationKey>>(iter: T) -> Self {
        Self {
            keys: iter.into_iter().collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 7517 Appendix A.1.
    const A1_PUBLIC: &str = r#"{"keys":[
        {"kty":"EC","crv":"P-256",
         "x":"MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4",
         "y":"4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM",
         "use":"enc","kid":"1"},
        {"kty":"RSA",
         "n":"0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
         "e":"AQAB","alg":"RS256","kid":"2011-04-29"}
    ]}"#;

    /// RFC 7517 Appendix A.2 (the EC private key of A.1).
    const A2_EC_PRIVATE: &str = r#"{"kty":"EC","crv":"P-256",
        "x":"MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4",
        "y":"4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM",
        "d":"870MB6gfuTJ4HtUnUvYMyJpr5eUZNP4Bk43bVdj3eAE",
        "use":"enc","kid":"1"}"#;

    /// RFC 7517 Appendix A.3 (symmetric keys).
    const A3_SYMMETRIC: &str = r#"{"keys":[
        {"kty":"oct","alg":"A128KW","k":"GawgguFyGrWKav7AX4VKUg"},
        {"kty":"oct","k":"AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow","kid":"HMAC key used in JWS spec Appendix A.1 example"}
    ]}"#;

    /// RFC 8037 Appendix A.2 (Ed25519 public key).
    const RFC8037_PUBLIC: &str =
        r#"{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}"#;

    fn same_json(a: &str, b: &impl Serialize) {
        let a: Value = serde_json::from_str(a).unwrap();
        assert_eq!(a, serde_json::to_value(b).unwrap());
    }

    #[test]
    fn rfc7517_a1_parses_and_serialises_back() {
        let set: JwkSet = serde_json::from_str(A1_PUBLIC).unwrap();
        assert_eq!(set.keys.len(), 2);
        assert_eq!(set.keys[0].kty, KeyType::Ec);
        assert_eq!(
            set.find("2011-04-29").unwrap().alg.as_deref(),
            Some("RS256")
        );
        same_json(A1_PUBLIC, &set);
    }

    #[test]
    fn rfc7517_a2_a3_private_and_symmetric_round_trip_and_debug_redacts() {
        let k: Jwk = serde_json::from_str(A2_EC_PRIVATE).unwrap();
        assert!(k.has_private_material());
        same_json(A2_EC_PRIVATE, &k);
        let dbg = format!("{k:?}");
        assert!(!dbg.contains("870MB6gf"), "{dbg}");
        assert!(!k.to_public().has_private_material());

        let set: JwkSet = serde_json::from_str(A3_SYMMETRIC).unwrap();
        same_json(A3_SYMMETRIC, &set);
        assert!(!format!("{set:?}").contains("GawgguFy"));
        // Symmetric keys never become verification keys.
        assert_eq!(
            set.keys[1].verification_key().unwrap_err(),
            Error::InvalidJwk(JwkError::Unsupported)
        );
        assert!(VerificationKeys::from_jwks(&set).is_empty());
    }

    #[test]
    fn rfc7638_thumbprint() {
        let set: JwkSet = serde_json::from_str(A1_PUBLIC).unwrap();
        assert_eq!(
            set.keys[1].thumbprint().unwrap(),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
        let ed: Jwk = serde_json::from_str(RFC8037_PUBLIC).unwrap();
        // RFC 8037 Appendix A.3.
        assert_eq!(
            ed.thumbprint().unwrap(),
            "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
        );
    }

    #[test]
    fn rfc8037_a4_signature_verifies() {
        let ed: Jwk = serde_json::from_str(RFC8037_PUBLIC).unwrap();
        let vk = ed.verification_key().unwrap();
        assert!(vk.supports(Algorithm::EdDSA));
        let msg = b"eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc";
        let sig = "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg";
        assert!(vk.verify(Algorithm::EdDSA, msg, sig));
        assert!(!vk.verify(Algorithm::EdDSA, b"tampered", sig));
    }

    #[test]
    fn enc_keys_and_bad_members_are_refused() {
        let set: JwkSet = serde_json::from_str(A1_PUBLIC).unwrap();
        assert_eq!(
            set.keys[0].verification_key().unwrap_err(),
            Error::InvalidJwk(JwkError::NotForSignatures)
        );
        let keys = VerificationKeys::from_jwks(&set);
        assert_eq!(keys.len(), 1);
        assert!(keys.contains_kid("2011-04-29"));

        let mut short = set.keys[1].clone();
        short.n = Some("AQAB".into());
        assert!(short.verification_key().is_err());
        let mut bad_ec = Jwk::ec("P-256", &[1; 31], &[1; 32]);
        assert!(bad_ec.verification_key().is_err());
        bad_ec.crv = Some("secp256k1".into());
        assert!(bad_ec.verification_key().is_err());
    }

    #[test]
    fn lenient_set_skips_bad_entries() {
        let doc = br#"{"keys":[{"kty":"RSA","n":"AQAB","e":"AQAB","kid":"a"},{"no":"kty"},42]}"#;
        let set = JwkSet::from_json_lenient(doc).unwrap();
        assert_eq!(set.keys.len(), 1);
        assert!(JwkSet::from_json_lenient(b"[]").is_err());
    }

    #[test]
    fn algorithms_parse_and_refuse_none_and_hmac() {
        for a in Algorithm::ALL {
            assert_eq!(a.as_str().parse::<Algorithm>().unwrap(), a);
        }
        for bad in ["none", "HS256", "HS512", "es256", ""] {
            assert!(bad.parse::<Algorithm>().is_err());
        }
    }
}
