//! Access-token claims (RFC 9068) and ID-token claims (OpenID Connect Core §2, §5.1).

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::Scope;

/// No custom claims: the default type parameter of the claim structs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoExtra {}

/// The `aud` claim: one audience or several. Serialises a single audience as a string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Audience(Vec<String>);

impl Audience {
    /// One audience.
    pub fn single(aud: impl Into<String>) -> Self {
        Self(vec![aud.into()])
    }

    /// Several audiences.
    pub fn many<I: IntoIterator<Item = S>, S: Into<String>>(auds: I) -> Self {
        Self(auds.into_iter().map(Into::into).collect())
    }

    /// Whether `aud` is one of the audiences.
    pub fn contains(&self, aud: &str) -> bool {
        self.0.iter().any(|a| a == aud)
    }

    /// The audiences.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }

    /// Number of audiences.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there is no audience.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl Serialize for Audience {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.0.len() == 1 {
            s.serialize_str(&self.0[0])
        } else {
            self.0.serialize(s)
        }
    }
}

impl<'de> Deserialize<'de> for Audience {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum OneOrMany {
            One(String),
            Many(Vec<String>),
        }
        Ok(match OneOrMany::deserialize(d)? {
            OneOrMany::One(s) => Self(vec![s]),
            OneOrMany::Many(v) => Self(v),
        })
    }
}

/// Whether an access token was issued to a user (through a browser flow) or to a service
/// (client_credentials).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenUse {
    /// A user's delegated token.
    User,
    /// A machine-to-machine token.
    Service,
}

/// Access-token claims in the RFC 9068 profile, plus idp's `tenant` and `token_use`, plus
/// your own claims `C` (flattened into the same JSON object).
///
/// A field of `C` must not share a name with a claim modelled here (`tenant`, `scope`, …):
/// the named field takes the value and `C` would miss it.
///
/// ```
/// use idp_core::{AccessTokenClaims, Audience, TokenUse};
/// let c: AccessTokenClaims = AccessTokenClaims::new("https://id.example", "svc-1", Audience::single("api"), 100, 1000, "jti-1", "svc-1", TokenUse::Service);
/// let json = serde_json::to_value(&c).unwrap();
/// assert_eq!(json["aud"], "api");
/// assert_eq!(json["token_use"], "service");
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct AccessTokenClaims<C = NoExtra> {
    /// Issuer.
    pub iss: String,
    /// Subject: the user id, or the client id for a service token.
    pub sub: String,
    /// Audience(s): the resource servers the token is for.
    pub aud: Audience,
    /// Expiry, seconds since the epoch.
    pub exp: i64,
    /// Issued at.
    pub iat: i64,
    /// Not before.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub nbf: Option<i64>,
    /// Unique token id (used for revocation).
    pub jti: String,
    /// The client the token was issued to.
    pub client_id: String,
    /// Granted scope.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub scope: Option<Scope>,
    /// When the user authenticated.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub auth_time: Option<i64>,
    /// The tenant of the subject, in multi-tenant deployments.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub tenant: Option<String>,
    /// User or service token.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub token_use: Option<TokenUse>,
    /// The grant the token was issued for (idp's own claim, opaque): the provider checks it
    /// at introspection and userinfo, so that revoking the grant (logout, a password
    /// change, a revoked refresh token) makes the token inactive before it expires.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub gid: Option<String>,
    /// Custom claims.
    #[serde(flatten)]
    pub extra: C,
}

impl<C: Default> AccessTokenClaims<C> {
    /// Claims with the required members; the rest empty.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        iss: impl Into<String>,
        sub: impl Into<String>,
        aud: Audience,
        iat: i64,
        exp: i64,
        jti: impl Into<String>,
        client_id: impl Into<String>,
        token_use: TokenUse,
    ) -> Self {
        Self {
            iss: iss.into(),
            sub: sub.into(),
            aud,
            exp,
            iat,
            nbf: None,
            jti: jti.into(),
            client_id: client_id.into(),
            scope: None,
            auth_time: None,
            tenant: None,
            token_use: Some(token_use),
            gid: None,
            extra: C::default(),
        }
    }
}

impl<C> AccessTokenClaims<C> {
    /// Whether the granted scope includes `token`.
    pub fn has_scope(&self, token: &str) -> bool {
        self.scope.as_ref().is_some_and(|s| s.contains(token))
    }
}

/// The standard profile claims of OpenID Connect Core §5.1.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct StandardClaims {
    /// Full name.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub name: Option<String>,
    /// Given name.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub given_name: Option<String>,
    /// Family name.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub family_name: Option<String>,
    /// Middle name.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub middle_name: Option<String>,
    /// Casual name.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub nickname: Option<String>,
    /// Shorthand name.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub preferred_username: Option<String>,
    /// Profile page URL.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub profile: Option<String>,
    /// Picture URL.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub picture: Option<String>,
    /// Web site URL.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub website: Option<String>,
    /// E-mail address.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub email: Option<String>,
    /// Whether the e-mail address was verified.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub email_verified: Option<bool>,
    /// Gender.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub gender: Option<String>,
    /// Birthday, `YYYY-MM-DD`.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub birthdate: Option<String>,
    /// Time zone.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub zoneinfo: Option<String>,
    /// Locale, BCP 47.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub locale: Option<String>,
    /// Phone number.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub phone_number: Option<String>,
    /// Whether the phone number was verified.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub phone_number_verified: Option<bool>,
    /// Last update, seconds since the epoch.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub updated_at: Option<i64>,
}

/// ID-token claims (OpenID Connect Core §2) with the standard profile claims and your own
/// claims `C`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct IdTokenClaims<C = NoExtra> {
    /// Issuer.
    pub iss: String,
    /// Subject.
    pub sub: String,
    /// Audience: the client id (and possibly others).
    pub aud: Audience,
    /// Expiry.
    pub exp: i64,
    /// Issued at.
    pub iat: i64,
    /// When the user authenticated.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub auth_time: Option<i64>,
    /// The nonce from the authorization request.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub nonce: Option<String>,
    /// Authorized party.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub azp: Option<String>,
    /// Access-token hash.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub at_hash: Option<String>,
    /// Session id (OIDC Front-Channel / Back-Channel Logout).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub sid: Option<String>,
    /// Authentication context class.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub acr: Option<String>,
    /// Authentication methods.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub amr: Option<Vec<String>>,
    /// Tenant of the user.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub tenant: Option<String>,
    /// Profile claims.
    #[serde(flatten)]
    pub profile: StandardClaims,
    /// Custom claims.
    #[serde(flatten)]
    pub extra: C,
}

impl<C: Default> IdTokenClaims<C> {
    /// Claims with the required members; the rest empty.
    pub fn new(
        iss: impl Into<String>,
        sub: impl Into<String>,
        aud: Audience,
        iat: i64,
        exp: i64,
    ) -> Self {
        Self {
            iss: iss.into(),
            sub: sub.into(),
            aud,
            exp,
            iat,
            auth_time: None,
            nonce: None,
            azp: None,
            at_hash: None,
            sid: None,
            acr: None,
            amr: None,
            tenant: None,
            profile: StandardClaims::default(),
            extra: C::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Default, PartialEq, Serialize, Deserialize)]
    struct Custom {
        roles: Vec<String>,
    }

    #[test]
    fn audience_one_or_many() {
        let a: Audience = serde_json::from_str("\"x\"").unwrap();
        assert!(a.contains("x"));
        let b: Audience = serde_json::from_str("[\"x\",\"y\"]").unwrap();
        assert_eq!(b.len(), 2);
        assert_eq!(serde_json::to_string(&b).unwrap(), "[\"x\",\"y\"]");
        assert_eq!(serde_json::to_string(&a).unwrap(), "\"x\"");
    }

    #[test]
    fn custom_claims_flatten() {
        let mut c: AccessTokenClaims<Custom> = AccessTokenClaims::new(
            "iss",
            "sub",
            Audience::single("api"),
            1,
            2,
            "j",
            "cli",
            TokenUse::User,
        );
        c.extra.roles = vec!["admin".into()];
        c.scope = Some("read write".parse().unwrap());
        let v = serde_json::to_value(&c).unwrap();
        assert_eq!(v["roles"][0], "admin");
        assert_eq!(v["scope"], "read write");
        let back: AccessTokenClaims<Custom> = serde_json::from_value(v).unwrap();
        assert_eq!(back, c);
        assert!(back.has_scope("write"));
    }

    #[test]
    fn id_token_profile_claims_flatten() {
        let mut c: IdTokenClaims = IdTokenClaims::new("i", "s", Audience::single("c"), 1, 2);
        c.profile.email = Some("a@b.c".into());
        c.profile.email_verified = Some(true);
        let v = serde_json::to_value(&c).unwrap();
        assert_eq!(v["email"], "a@b.c");
        assert!(v.get("name").is_none());
        let back: IdTokenClaims = serde_json::from_value(v).unwrap();
        assert_eq!(back, c);
    }
}
