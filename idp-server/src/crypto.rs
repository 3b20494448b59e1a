//! Key material: the at-rest encryption key, keys for message authentication codes derived
//! from the same secret, signing keys (generation, sealing, loading, JWT signing). Password
//! hashing is in `hashing`.

use std::fmt;

use aws_lc_rs::aead::{AES_256_GCM, Aad, NONCE_LEN, Nonce, RandomizedNonceKey};
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::hmac;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair, RSA_PKCS1_SHA256,
    RsaKeyPair,
};
use idp_core::{Algorithm, Jwk, JwsSigner, encode_jws};
use serde::Serialize;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::Error;

/// The key that encrypts signing keys at rest (AES-256-GCM). Built from a secret of at least
/// 32 bytes; `Debug` is redacted.
#[derive(Clone)]
pub struct EncryptionKey {
    key: [u8; 32],
}

impl fmt::Debug for EncryptionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("EncryptionKey([redacted])")
    }
}

impl EncryptionKey {
    /// Derives the AES-256 key from a configured secret of at least 32 bytes.
    pub fn from_secret(secret: &str) -> Result<Self, Error> {
        if secret.len() < 32 {
            return Err(Error::Config(
                "encryption_key must be at least 32 bytes (e.g. 64 hex characters)".into(),
            ));
        }
        let mut input = Zeroizing::new(b"idp key-encryption v1\0".to_vec());
        input.extend_from_slice(secret.as_bytes());
        Ok(Self {
            key: idp_core::sha256(&input),
        })
    }

    /// A fresh random secret (64 hex characters), for `--dev`.
    pub fn generate_secret() -> String {
        let mut b = [0u8; 32];
        // The system RNG failing is unrecoverable for a security product.
        #[allow(clippy::expect_used)]
        aws_lc_rs::rand::fill(&mut b).expect("system random number generator failed");
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    fn cipher(&self) -> Result<RandomizedNonceKey, Error> {
        RandomizedNonceKey::new(&AES_256_GCM, &self.key)
            .map_err(|_| Error::Crypto("AES-256-GCM key setup failed".into()))
    }

    /// Seals `plaintext`, binding it to `aad`; returns nonce || ciphertext || tag.
    pub(crate) fn seal(&self, aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, Error> {
        let mut buf = plaintext.to_vec();
        let nonce = self
            .cipher()?
            .seal_in_place_append_tag(Aad::from(aad), &mut buf)
            .map_err(|_| Error::Crypto("sealing failed".into()))?;
        let mut out = nonce.as_ref().to_vec();
        out.extend_from_slice(&buf);
        Ok(out)
    }

    /// Opens what [`EncryptionKey::seal`] produced.
    pub(crate) fn open(&self, aad: &[u8], sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>, Error> {
        let wrong = || {
            Error::Crypto(
                "cannot decrypt a stored signing key: wrong encryption_key or corrupt row".into(),
            )
        };
        if sealed.len() < NONCE_LEN + 16 {
            return Err(wrong());
        }
        let (nonce, ct) = sealed.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| wrong())?;
        let mut buf = Zeroizing::new(ct.to_vec());
        let len = self
            .cipher()?
            .open_in_place(nonce, Aad::from(aad), &mut buf)
            .map_err(|_| wrong())?
            .len();
        buf.truncate(len);
        Ok(buf)
    }
}

/// A key for message authentication codes (HMAC-SHA256) over a list of values. Each key is
/// derived for one purpose from the configured `encryption_key` secret, as
/// HMAC-SHA256(secret, label), so that no two purposes share key material and the AES key
/// that seals signing keys is used for nothing else. `Debug` is redacted.
pub(crate) struct MacKey {
    key: hmac::Key,
}

impl fmt::Debug for MacKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MacKey([redacted])")
    }
}

impl MacKey {
    /// The key for the purpose named `label` (e.g. `"idp csrf v1"`), from a configured
    /// secret of at least 32 bytes.
    pub(crate) fn derive(secret: &str, label: &str) -> Result<Self, Error> {
        if secret.len() < 32 {
            return Err(Error::Config(
                "encryption_key must be at least 32 bytes (e.g. 64 hex characters)".into(),
            ));
        }
        let root = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
        let derived = Zeroizing::new(hmac::sign(&root, label.as_bytes()).as_ref().to_vec());
        Ok(Self {
            key: hmac::Key::new(hmac::HMAC_SHA256, &derived),
        })
    }

    /// The key for the purpose named `label`, derived from the at-rest encryption key as
    /// HMAC-SHA256(key, label) (for what is keyed where only the [`EncryptionKey`] is at
    /// hand, e.g. backup codes).
    pub(crate) fn derive_from(enc: &EncryptionKey, label: &str) -> Self {
        let root = hmac::Key::new(hmac::HMAC_SHA256, &enc.key);
        let derived = Zeroizing::new(hmac::sign(&root, label.as_bytes()).as_ref().to_vec());
        Self {
            key: hmac::Key::new(hmac::HMAC_SHA256, &derived),
        }
    }

    /// The MAC of `parts`. Each part is prefixed with its length, so that two different
    /// lists never feed the same bytes to the MAC (`["ab", "c"]` is not `["a", "bc"]`).
    pub(crate) fn mac(&self, parts: &[&[u8]]) -> [u8; 32] {
        let mut ctx = hmac::Context::with_key(&self.key);
        for part in parts {
            ctx.update(&(part.len() as u64).to_be_bytes());
            ctx.update(part);
        }
        let tag = ctx.sign();
        let mut out = [0u8; 32];
        out.copy_from_slice(tag.as_ref());
        out
    }

    /// Whether `tag` is the MAC of `parts`, compared in constant time.
    pub(crate) fn verify(&self, parts: &[&[u8]], tag: &[u8]) -> bool {
        bool::from(self.mac(parts).as_slice().ct_eq(tag))
    }
}

enum Pair {
    Rsa(RsaKeyPair),
    Ec(EcdsaKeyPair),
    Ed(Ed25519KeyPair),
}

/// A private signing key, parsed once and kept ready to sign.
pub(crate) struct SigningKey {
    kid: String,
    alg: Algorithm,
    pair: Pair,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .finish_non_exhaustive()
    }
}

fn crypto_err(what: &str) -> Error {
    Error::Crypto(what.to_owned())
}

impl SigningKey {
    /// Generates a key for `alg` (RS256 → RSA 2048, ES256 → P-256, EdDSA → Ed25519) and
    /// returns it with its PKCS#8 encoding.
    pub(crate) fn generate(alg: Algorithm) -> Result<(Self, Zeroizing<Vec<u8>>), Error> {
        let (pair, pkcs8) = match alg {
            Algorithm::RS256 => {
                let kp = RsaKeyPair::generate(KeySize::Rsa2048)
                    .map_err(|_| crypto_err("RSA key generation failed"))?;
                let der = AsDer::<aws_lc_rs::encoding::Pkcs8V1Der<'_>>::as_der(&kp)
                    .map_err(|_| crypto_err("RSA key encoding failed"))?;
                let der = Zeroizing::new(der.as_ref().to_vec());
                (Pair::Rsa(kp), der)
            }
            Algorithm::ES256 => {
                let kp = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING)
                    .map_err(|_| crypto_err("EC key generation failed"))?;
                let der = kp
                    .to_pkcs8v1()
                    .map_err(|_| crypto_err("EC key encoding failed"))?;
                (Pair::Ec(kp), Zeroizing::new(der.as_ref().to_vec()))
            }
            Algorithm::EdDSA => {
                let kp = Ed25519KeyPair::generate()
                    .map_err(|_| crypto_err("Ed25519 key generation failed"))?;
                let der = kp
                    .to_pkcs8()
                    .map_err(|_| crypto_err("Ed25519 key encoding failed"))?;
                (Pair::Ed(kp), Zeroizing::new(der.as_ref().to_vec()))
            }
            other => {
                return Err(Error::Config(format!(
                    "signing with {other} is not supported; use RS256, ES256 or EdDSA"
                )));
            }
        };
        let mut key = Self {
            kid: String::new(),
            alg,
            pair,
        };
        key.kid = key
            .public_jwk_without_kid()
            .thumbprint()
            .map_err(|e| Error::Crypto(e.to_string()))?;
        Ok((key, pkcs8))
    }

    /// Parses a PKCS#8 key.
    pub(crate) fn from_pkcs8(kid: &str, alg: Algorithm, der: &[u8]) -> Result<Self, Error> {
        let bad = || crypto_err("stored signing key does not parse");
        let pair = match alg {
            Algorithm::RS256 => Pair::Rsa(RsaKeyPair::from_pkcs8(der).map_err(|_| bad())?),
            Algorithm::ES256 => Pair::Ec(
                EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der)
                    .map_err(|_| bad())?,
            ),
            Algorithm::EdDSA => Pair::Ed(Ed25519KeyPair::from_pkcs8(der).map_err(|_| bad())?),
            _ => return Err(bad()),
        };
        Ok(Self {
            kid: kid.to_owned(),
            alg,
            pair,
        })
    }

    pub(crate) fn kid(&self) -> &str {
        &self.kid
    }

    pub(crate) fn alg(&self) -> Algorithm {
        self.alg
    }

    fn public_jwk_without_kid(&self) -> Jwk {
        match &self.pair {
            Pair::Rsa(kp) => {
                let pk = kp.public_key();
                Jwk::rsa(
                    pk.modulus().big_endian_without_leading_zero(),
                    pk.exponent().big_endian_without_leading_zero(),
                )
            }
            Pair::Ec(kp) => {
                let point = kp.public_key().as_ref();
                // Uncompressed point: 0x04 || x || y.
                let (x, y) = point
                    .get(1..)
                    .and_then(|p| p.split_at_checked(32))
                    .unwrap_or((&[], &[]));
                Jwk::ec("P-256", x, y)
            }
            Pair::Ed(kp) => Jwk::ed25519(kp.public_key().as_ref()),
        }
    }

    /// The public JWK with `kid`, `alg` and `use: sig`.
    pub(crate) fn public_jwk(&self) -> Jwk {
        self.public_jwk_without_kid()
            .with_kid(self.kid.clone())
            .for_signing(self.alg)
    }

    /// Signs `claims` as a compact JWS with header `{"alg","typ","kid"}`, through idp-core's
    /// [`encode_jws`].
    pub(crate) fn sign_jwt<T: Serialize>(&self, typ: &str, claims: &T) -> Result<String, Error> {
        encode_jws(self, Some(typ), claims).map_err(|e| Error::Crypto(e.to_string()))
    }
}

/// aws-lc signs; idp-core writes the JOSE header and the compact serialisation.
impl JwsSigner for SigningKey {
    fn algorithm(&self) -> Algorithm {
        self.alg
    }

    fn key_id(&self) -> Option<&str> {
        Some(&self.kid)
    }

    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, idp_core::Error> {
        let rng = SystemRandom::new();
        match &self.pair {
            Pair::Rsa(kp) => {
                let mut sig = vec![0; kp.public_modulus_len()];
                kp.sign(&RSA_PKCS1_SHA256, &rng, message, &mut sig)
                    .map_err(|_| idp_core::Error::Signing("RSA signing failed"))?;
                Ok(sig)
            }
            Pair::Ec(kp) => Ok(kp
                .sign(&rng, message)
                .map_err(|_| idp_core::Error::Signing("ECDSA signing failed"))?
                .as_ref()
                .to_vec()),
            Pair::Ed(kp) => Ok(kp.sign(message).as_ref().to_vec()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_open_round_trip_and_wrong_key_fails() {
        let k = EncryptionKey::from_secret(&"k".repeat(32)).unwrap();
        let sealed = k.seal(b"kid-1", b"private key bytes").unwrap();
        assert_eq!(
            &k.open(b"kid-1", &sealed).unwrap()[..],
            b"private key bytes"
        );
        assert!(k.open(b"kid-2", &sealed).is_err());
        let other = EncryptionKey::from_secret(&"x".repeat(32)).unwrap();
        assert!(other.open(b"kid-1", &sealed).is_err());
        assert!(k.open(b"kid-1", &sealed[..10]).is_err());
        assert!(EncryptionKey::from_secret("short").is_err());
    }

    #[test]
    fn mac_keys_are_separate_per_purpose_and_secret() {
        let secret = "k".repeat(32);
        let a = MacKey::derive(&secret, "idp csrf v1").unwrap();
        let tag = a.mac(&[b"login", b"nonce", b""]);
        assert!(a.verify(&[b"login", b"nonce", b""], &tag));
        // Another list, even with the same bytes concatenated, does not verify.
        assert!(!a.verify(&[b"logi", b"nnonce", b""], &tag));
        assert!(!a.verify(&[b"login", b"nonce", b"sid"], &tag));
        assert!(!a.verify(&[b"login", b"nonce", b""], &tag[..31]));
        let other_label = MacKey::derive(&secret, "idp other v1").unwrap();
        assert!(!other_label.verify(&[b"login", b"nonce", b""], &tag));
        let other_secret = MacKey::derive(&"x".repeat(32), "idp csrf v1").unwrap();
        assert!(!other_secret.verify(&[b"login", b"nonce", b""], &tag));
        assert!(MacKey::derive("short", "idp csrf v1").is_err());
    }

    #[test]
    fn generated_keys_reload_and_sign_verifiably() {
        for alg in [Algorithm::RS256, Algorithm::ES256, Algorithm::EdDSA] {
            let (key, der) = SigningKey::generate(alg).unwrap();
            let again = SigningKey::from_pkcs8(key.kid(), alg, &der).unwrap();
            assert_eq!(again.public_jwk(), key.public_jwk());
            let jwt = again
                .sign_jwt(
                    "JWT",
                    &serde_json::json!({"iss":"i","aud":"a","exp": i64::MAX / 2}),
                )
                .unwrap();
            let keys = idp_core::VerificationKeys::from_jwks(&idp_core::JwkSet::new(vec![
                key.public_jwk(),
            ]));
            let policy = idp_core::ValidationPolicy::builder()
                .issuer("i")
                .audience("a")
                .algorithms([alg])
                .build()
                .unwrap();
            let v = policy
                .validate::<serde_json::Value>(&jwt, &keys, &idp_core::SystemClock)
                .unwrap();
            // The header is `{"alg","typ","kid"}`, in that order, without whitespace.
            use base64::Engine;
            let header = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(jwt.split('.').next().unwrap())
                .unwrap();
            assert_eq!(
                String::from_utf8(header).unwrap(),
                format!(r#"{{"alg":"{alg}","typ":"JWT","kid":"{}"}}"#, key.kid())
            );
            assert_eq!(v.header.kid.as_deref(), Some(key.kid()));
        }
        assert!(SigningKey::generate(Algorithm::PS256).is_err());
    }
}
