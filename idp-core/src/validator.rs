//! The token validator: signature (with an algorithm allow-list), `iss`, `aud`, `exp`/`nbf`
//! with leeway, `typ`, `nonce` and `azp`. Tokens are parsed by [`crate::UnverifiedJwt`]; this
//! module holds every refusal that depends on a policy.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::{Algorithm, Audience, Clock, Error, TokenError, UnverifiedJwt, VerificationKeys};

/// The parts of a JOSE header the validator reads.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct JwtHeader {
    /// The signing algorithm.
    pub alg: Algorithm,
    /// The key id.
    pub kid: Option<String>,
    /// The media type (`at+jwt`, `JWT`, …).
    pub typ: Option<String>,
}

/// A validated token: its header and typed claims.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Validated<C> {
    /// The header.
    pub header: JwtHeader,
    /// The claims.
    pub claims: C,
}

/// What a token must satisfy. Build with [`ValidationPolicy::builder`].
///
/// Issuer, audience and at least one algorithm are required; `exp` is always required
/// and checked. Checks can be loosened only through methods named `insecure_*`.
///
/// ```
/// use idp_core::{Algorithm, ValidationPolicy};
/// let policy = ValidationPolicy::builder()
///     .issuer("https://id.example.com")
///     .audience("orders-api")
///     .algorithms([Algorithm::ES256, Algorithm::RS256])
///     .required_typ("at+jwt")
///     .build()
///     .unwrap();
/// assert!(ValidationPolicy::builder().audience("x").build().is_err()); // no issuer
/// # let _ = policy;
/// ```
#[derive(Debug, Clone)]
pub struct ValidationPolicy {
    issuer: Option<String>,
    audiences: Vec<String>,
    algorithms: Vec<Algorithm>,
    leeway: Duration,
    typ: Option<String>,
    nonce: Option<String>,
    azp: Option<String>,
    allow_expired: bool,
}

/// Builder for [`ValidationPolicy`].
#[derive(Debug, Clone)]
pub struct ValidationPolicyBuilder {
    issuer: Option<String>,
    any_issuer: bool,
    audiences: Vec<String>,
    any_audience: bool,
    algorithms: Vec<Algorithm>,
    leeway: Duration,
    typ: Option<String>,
    nonce: Option<String>,
    azp: Option<String>,
    allow_expired: bool,
}

impl ValidationPolicy {
    /// Starts a policy: leeway 60 s, no algorithms (you must choose), no `typ` check.
    pub fn builder() -> ValidationPolicyBuilder {
        ValidationPolicyBuilder {
            issuer: None,
            any_issuer: false,
            audiences: Vec::new(),
            any_audience: false,
            algorithms: Vec::new(),
            leeway: Duration::from_secs(60),
            typ: None,
            nonce: None,
            azp: None,
            allow_expired: false,
        }
    }

    /// The expected issuer.
    pub fn issuer(&self) -> Option<&str> {
        self.issuer.as_deref()
    }

    /// The allowed algorithms.
    pub fn algorithms(&self) -> &[Algorithm] {
        &self.algorithms
    }

    /// The accepted audiences (empty when any audience is accepted).
    pub fn audiences(&self) -> &[String] {
        &self.audiences
    }

    /// The clock skew tolerated on `exp` and `nbf`.
    pub fn leeway(&self) -> Duration {
        self.leeway
    }

    /// Whether tokens whose `exp` has passed are accepted
    /// ([`insecure_allow_expired`](ValidationPolicyBuilder::insecure_allow_expired)).
    pub fn accepts_expired(&self) -> bool {
        self.allow_expired
    }

    /// The `nonce` every token must carry, if any.
    pub fn nonce(&self) -> Option<&str> {
        self.nonce.as_deref()
    }

    /// The same policy expecting `nonce` (for one ID token).
    pub fn with_nonce(&self, nonce: impl Into<String>) -> Self {
        let mut p = self.clone();
        p.nonce = Some(nonce.into());
        p
    }

    /// Validates a compact JWS against `keys` and returns its header and claims: it is
    /// [`UnverifiedJwt::parse`] then [`verify`](Self::verify).
    ///
    /// Errors say which check failed; [`TokenError::UnknownKey`] means a refreshed key set
    /// may help.
    pub fn validate<C: DeserializeOwned>(
        &self,
        token: &str,
        keys: &VerificationKeys,
        clock: &dyn Clock,
    ) -> Result<Validated<C>, Error> {
        let jwt = UnverifiedJwt::parse(token)?;
        self.verify(&jwt, keys, clock)
    }

    /// Refuses a parsed token that no key set could make valid under this policy: its
    /// `alg` is not in the policy's allow-list ([`TokenError::AlgorithmNotAllowed`]) or its
    /// signature is empty ([`TokenError::BadSignature`]).
    ///
    /// **The contract.** `precheck` is exactly the part of [`verify`](Self::verify) that
    /// needs neither keys nor a clock, and `verify` begins by calling it. Hence a token that
    /// `precheck` refuses is refused by `verify` with the same error whatever the keys, and a
    /// token it accepts can fail against an empty key set only with
    /// [`TokenError::UnknownKey`]. Callers that fetch keys (a JWKS cache, a discovery
    /// document) run `parse` + `precheck` first so that hopeless tokens cost no fetch.
    ///
    /// ```
    /// use idp_core::{Algorithm, TokenError, UnverifiedJwt, ValidationPolicy};
    /// let policy = ValidationPolicy::builder()
    ///     .issuer("https://id.example.com")
    ///     .audience("orders-api")
    ///     .algorithms([Algorithm::ES256])
    ///     .build()
    ///     .unwrap();
    /// // {"alg":"RS256","kid":"k1"}: a real algorithm, but not one this policy allows.
    /// let jwt = UnverifiedJwt::parse("eyJhbGciOiJSUzI1NiIsImtpZCI6ImsxIn0.e30.c2ln").unwrap();
    /// assert_eq!(
    ///     policy.precheck(&jwt),
    ///     Err(idp_core::Error::InvalidToken(TokenError::AlgorithmNotAllowed))
    /// );
    /// ```
    pub fn precheck(&self, jwt: &UnverifiedJwt<'_>) -> Result<(), Error> {
        Ok(self.precheck_token(jwt)?)
    }

    fn precheck_token(&self, jwt: &UnverifiedJwt<'_>) -> Result<(), TokenError> {
        if !self.algorithms.contains(&jwt.alg()) {
            return Err(TokenError::AlgorithmNotAllowed);
        }
        if jwt.signature_b64().is_empty() {
            return Err(TokenError::BadSignature);
        }
        Ok(())
    }

    /// Verifies a parsed token against `keys` and `clock`: the [`precheck`](Self::precheck),
    /// then the key (by `kid`, else the only key for `alg`) and its algorithm, the
    /// signature, and the claims (`exp`/`nbf` with leeway, `iss`, `aud`, `typ`, `nonce`,
    /// `azp`). The header is not decoded again.
    ///
    /// Errors say which check failed; [`TokenError::UnknownKey`] means a refreshed key set
    /// may help.
    pub fn verify<C: DeserializeOwned>(
        &self,
        jwt: &UnverifiedJwt<'_>,
        keys: &VerificationKeys,
        clock: &dyn Clock,
    ) -> Result<Validated<C>, Error> {
        let payload = self.verify_signature(jwt, keys)?;
        let header = jwt.header();
        let claims = self.check_claims(header, payload, clock)?;
        Ok(Validated {
            header: header.clone(),
            claims,
        })
    }

    fn verify_signature(
        &self,
        jwt: &UnverifiedJwt<'_>,
        keys: &VerificationKeys,
    ) -> Result<Value, TokenError> {
        self.precheck_token(jwt)?;
        let alg = jwt.alg();
        let key = keys.select(jwt.kid(), alg).ok_or(TokenError::UnknownKey)?;
        if !key.supports(alg) {
            return Err(TokenError::AlgorithmNotAllowed);
        }
        if !key.verify(alg, jwt.signing_input(), jwt.signature_b64()) {
            return Err(TokenError::BadSignature);
        }
        let payload_bytes = URL_SAFE_NO_PAD
            .decode(jwt.payload_b64())
            .map_err(|_| TokenError::Malformed)?;
        let payload: Value =
            serde_json::from_slice(&payload_bytes).map_err(|_| TokenError::Malformed)?;
        if !payload.is_object() {
            return Err(TokenError::Malformed);
        }
        Ok(payload)
    }

    fn check_claims<C: DeserializeOwned>(
        &self,
        header: &JwtHeader,
        payload: Value,
        clock: &dyn Clock,
    ) -> Result<C, TokenError> {
        if let Some(required) = &self.typ {
            let typ = header.typ.as_deref().ok_or(TokenError::WrongType)?;
            let typ = strip_application(typ);
            if !typ.eq_ignore_ascii_case(strip_application(required)) {
                return Err(TokenError::WrongType);
            }
        }

        #[derive(Deserialize)]
        struct Registered {
            iss: Option<String>,
            aud: Option<Audience>,
            exp: Option<f64>,
            nbf: Option<f64>,
            nonce: Option<String>,
            azp: Option<String>,
        }
        let reg = Registered::deserialize(&payload).map_err(|_| TokenError::Malformed)?;

        let now = clock.unix_now() as f64;
        let leeway = self.leeway.as_secs() as f64;
        let exp = reg.exp.ok_or(TokenError::MissingClaim("exp"))?;
        if now > exp + leeway && !self.allow_expired {
            return Err(TokenError::Expired);
        }
        if let Some(nbf) = reg.nbf
            && now + leeway < nbf
        {
            return Err(TokenError::NotYetValid);
        }
        if let Some(expected) = &self.issuer {
            let iss = reg.iss.as_deref().ok_or(TokenError::MissingClaim("iss"))?;
            if iss != expected {
                return Err(TokenError::WrongIssuer);
            }
        }
        if !self.audiences.is_empty() {
            let aud = reg.aud.as_ref().ok_or(TokenError::MissingClaim("aud"))?;
            if !self.audiences.iter().any(|a| aud.contains(a)) {
                return Err(TokenError::WrongAudience);
            }
        }
        if let Some(expected) = &self.nonce
            && reg.nonce.as_deref() != Some(expected.as_str())
        {
            return Err(TokenError::NonceMismatch);
        }
        if let Some(client_id) = &self.azp {
            let many = reg.aud.as_ref().is_some_and(|a| a.len() > 1);
            match reg.azp.as_deref() {
                Some(azp) if azp != client_id => return Err(TokenError::WrongAuthorizedParty),
                None if many => return Err(TokenError::WrongAuthorizedParty),
                _ => {}
            }
        }
        C::deserialize(payload).map_err(|_| TokenError::Malformed)
    }
}

fn strip_application(typ: &str) -> &str {
    match typ.get(..12) {
        Some(p) if p.eq_ignore_ascii_case("application/") => &typ[12..],
        _ => typ,
    }
}

impl ValidationPolicyBuilder {
    /// The issuer every token must name in `iss`.
    pub fn issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuer = Some(issuer.into());
        self
    }

    /// Accepts any issuer. Only for a key set that belongs to exactly one issuer.
    pub fn insecure_any_issuer(mut self) -> Self {
        self.any_issuer = true;
        self
    }

    /// Adds an accepted audience; a token must name at least one accepted audience.
    pub fn audience(mut self, aud: impl Into<String>) -> Self {
        self.audiences.push(aud.into());
        self
    }

    /// Adds several accepted audiences.
    pub fn audiences<I: IntoIterator<Item = S>, S: Into<String>>(mut self, auds: I) -> Self {
        self.audiences.extend(auds.into_iter().map(Into::into));
        self
    }

    /// Accepts any audience: tokens meant for another service will pass. Avoid.
    pub fn insecure_any_audience(mut self) -> Self {
        self.any_audience = true;
        self
    }

    /// The allowed signing algorithms (required; `none` and HMAC cannot be named).
    pub fn algorithms<I: IntoIterator<Item = Algorithm>>(mut self, algs: I) -> Self {
        self.algorithms = algs.into_iter().collect();
        self
    }

    /// Clock skew tolerated on `exp` and `nbf` (default 60 s, at most 5 minutes).
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway;
        self
    }

    /// Requires the header's `typ` (compared case-insensitively, `application/` optional),
    /// e.g. `at+jwt` for RFC 9068 access tokens.
    pub fn required_typ(mut self, typ: impl Into<String>) -> Self {
        self.typ = Some(typ.into());
        self
    }

    /// Requires `nonce` to equal this value.
    pub fn nonce(mut self, nonce: impl Into<String>) -> Self {
        self.nonce = Some(nonce.into());
        self
    }

    /// Checks `azp` against this client id: if present it must match, and it must be
    /// present when `aud` has several values.
    pub fn authorized_party(mut self, client_id: impl Into<String>) -> Self {
        self.azp = Some(client_id.into());
        self
    }

    /// Accepts tokens whose `exp` has passed (the claim must still be present). Only for
    /// hints about a past sign-in, such as OIDC's `id_token_hint`, never for access.
    pub fn insecure_allow_expired(mut self) -> Self {
        self.allow_expired = true;
        self
    }

    /// Checks the settings.
    pub fn build(self) -> Result<ValidationPolicy, Error> {
        if self.issuer.is_none() && !self.any_issuer {
            return Err(Error::InvalidPolicy("an issuer is required"));
        }
        if self.audiences.is_empty() && !self.any_audience {
            return Err(Error::InvalidPolicy("at least one audience is required"));
        }
        if self.algorithms.is_empty() {
            return Err(Error::InvalidPolicy("at least one algorithm is required"));
        }
        if self.leeway > Duration::from_secs(300) {
            return Err(Error::InvalidPolicy("leeway above 5 minutes"));
        }
        Ok(ValidationPolicy {
            issuer: if self.any_issuer { None } else { self.issuer },
            audiences: if self.any_audience {
                Vec::new()
            } else {
                self.audiences
            },
            algorithms: self.algorithms,
            leeway: self.leeway,
            typ: self.typ,
            nonce: self.nonce,
            azp: self.azp,
            allow_expired: self.allow_expired,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::FixedClock;
    use crate::test_support::header_decodes;

    #[test]
    fn validate_decodes_the_header_once() {
        let policy = ValidationPolicy::builder()
            .issuer("https://id.example.com")
            .audience("api")
            .algorithms([Algorithm::ES256])
            .build()
            .unwrap();
        // {"alg":"ES256","kid":"k1"}
        let token = "eyJhbGciOiJFUzI1NiIsImtpZCI6ImsxIn0.e30.c2ln";
        let before = header_decodes();
        let e = policy
            .validate::<Value>(token, &VerificationKeys::default(), &FixedClock::at_unix(0))
            .unwrap_err();
        assert_eq!(e, Error::InvalidToken(TokenError::UnknownKey));
        assert_eq!(header_decodes() - before, 1);

        let before = header_decodes();
        let jwt = UnverifiedJwt::parse(token).unwrap();
        policy.precheck(&jwt).unwrap();
        let _ = policy.verify::<Value>(&jwt, &VerificationKeys::default(), &FixedClock::at_unix(0));
        assert_eq!(header_decodes() - before, 1);
    }
}
