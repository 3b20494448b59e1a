//! OpenID Connect Back-Channel Logout 1.0, the relying-party side: the logout token a
//! provider POSTs to the client's `backchannel_logout_uri`, and the checks of §2.6 that the
//! signature validator does not already make.

use std::time::Duration;

use idp_core::Audience;
use serde_json::{Map, Value};

use crate::error::LogoutTokenError;

/// The member of the `events` claim that makes a JWT a logout token (§2.4).
const LOGOUT_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";

/// The verified claims of a logout token (OpenID Connect Back-Channel Logout 1.0 §2.4),
/// returned by [`Client::verify_logout_token`](crate::Client::verify_logout_token).
///
/// At least one of `sub` and `sid` is present. With `sid`, end the sessions whose ID token
/// carried that `sid`; without it, end every session of `sub` (both from this `iss`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct LogoutToken {
    /// The issuer (the provider this client was built for).
    pub iss: String,
    /// The audiences; one of them is this client's id.
    pub aud: Audience,
    /// When the token was issued (seconds since the epoch).
    pub iat: i64,
    /// When the token expires (seconds since the epoch).
    pub exp: i64,
    /// The token's unique id, for an application that keeps recently seen ones to refuse
    /// a replay (§2.6, step 8, optional).
    pub jti: Option<String>,
    /// The user whose sessions end.
    pub sub: Option<String>,
    /// The provider's session id, as in the `sid` claim of the ID tokens of that session.
    pub sid: Option<String>,
}

/// The `logout_token` parameter of a back-channel logout request body
/// (`application/x-www-form-urlencoded`, §2.5), or `None` when it is absent, empty or given
/// more than once.
///
/// ```
/// use idp_client::logout_token_from_form;
/// assert_eq!(logout_token_from_form(b"logout_token=eyJ.e30.c2ln").as_deref(), Some("eyJ.e30.c2ln"));
/// assert_eq!(logout_token_from_form(b"token=x"), None);
/// assert_eq!(logout_token_from_form(b"logout_token=a&logout_token=b"), None);
/// ```
pub fn logout_token_from_form(body: &[u8]) -> Option<String> {
    let mut found = None;
    for (k, v) in url::form_urlencoded::parse(body) {
        if k == "logout_token" {
            if found.is_some() {
                return None;
            }
            found = Some(v.into_owned());
        }
    }
    found.filter(|t| !t.is_empty())
}

/// Refuses a header `typ` other than `logout+jwt` or `JWT` (compared case-insensitively,
/// `application/` optional); a token without `typ` passes. Keeps e.g. an `at+jwt` access
/// token from being taken for a logout token.
pub(crate) fn check_type(typ: Option<&str>) -> Result<(), LogoutTokenError> {
    let Some(typ) = typ else {
        return Ok(());
    };
    let typ = match typ.get(..12) {
        Some(p) if p.eq_ignore_ascii_case("application/") => &typ[12..],
        _ => typ,
    };
    if typ.eq_ignore_ascii_case("logout+jwt") || typ.eq_ignore_ascii_case("JWT") {
        Ok(())
    } else {
        Err(LogoutTokenError::WrongType)
    }
}

/// The checks of §2.6 that follow the signature, `iss`, `aud` and `exp` (which the
/// validator made): `iat` present and not in the future beyond `leeway`, the `events` claim,
/// `sub` or `sid`, no `nonce`. Pure; `now` in seconds since the epoch.
pub(crate) fn check_claims(
    claims: Map<String, Value>,
    now: i64,
    leeway: Duration,
) -> Result<LogoutToken, LogoutTokenError> {
    let iat = match claims.get("iat") {
        None => return Err(LogoutTokenError::MissingIat),
        Some(v) => v.as_f64().ok_or(LogoutTokenError::BadClaim("iat"))?,
    };
    let leeway = i64::try_from(leeway.as_secs()).unwrap_or(i64::MAX);
    if iat > now.saturating_add(leeway) as f64 {
        return Err(LogoutTokenError::IssuedInFuture);
    }
    let event = claims
        .get("events")
        .and_then(Value::as_object)
        .and_then(|events| events.get(LOGOUT_EVENT))
        .ok_or(LogoutTokenError::MissingEvent)?;
    if !event.is_object() {
        return Err(LogoutTokenError::EventNotObject);
    }
    if claims.contains_key("nonce") {
        return Err(LogoutTokenError::NoncePresent);
    }
    let sub = string_claim(&claims, "sub")?;
    let sid = string_claim(&claims, "sid")?;
    if sub.is_none() && sid.is_none() {
        return Err(LogoutTokenError::MissingSubject);
    }
    let jti = string_claim(&claims, "jti")?;
    // The validator has checked these three; read them again only for their values.
    let iss = string_claim(&claims, "iss")?.ok_or(LogoutTokenError::BadClaim("iss"))?;
    let aud = claims
        .get("aud")
        .and_then(|v| serde_json::from_value::<Audience>(v.clone()).ok())
        .ok_or(LogoutTokenError::BadClaim("aud"))?;
    let exp = claims
        .get("exp")
        .and_then(Value::as_f64)
        .ok_or(LogoutTokenError::BadClaim("exp"))?;
    Ok(LogoutToken {
        iss,
        aud,
        iat: iat as i64,
        exp: exp as i64,
        jti,
        sub,
        sid,
    })
}

/// An optional claim that must be a non-empty string when present.
fn string_claim(
    claims: &Map<String, Value>,
    name: &'static str,
) -> Result<Option<String>, LogoutTokenError> {
    match claims.get(name) {
        None => Ok(None),
        Some(Value::String(s)) if !s.is_empty() => Ok(Some(s.clone())),
        Some(_) => Err(LogoutTokenError::BadClaim(name)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const NOW: i64 = 1_800_000_000;

    fn claims(v: Value) -> Map<String, Value> {
        let mut base = json!({
            "iss": "https://id.example.com", "aud": "web", "iat": NOW, "exp": NOW + 120,
            "jti": "j1", "sub": "u1", "sid": "s1",
            "events": { LOGOUT_EVENT: {} },
        });
        for (k, val) in v.as_object().unwrap() {
            if val.is_null() {
                base.as_object_mut().unwrap().remove(k);
            } else {
                base[k] = val.clone();
            }
        }
        base.as_object().unwrap().clone()
    }

    fn check(v: Value) -> Result<LogoutToken, LogoutTokenError> {
        check_claims(claims(v), NOW, Duration::from_secs(60))
    }

    #[test]
    fn a_valid_token_gives_its_claims() {
        let t = check(json!({})).unwrap();
        assert_eq!(t.iss, "https://id.example.com");
        assert!(t.aud.contains("web"));
        assert_eq!((t.iat, t.exp), (NOW, NOW + 120));
        assert_eq!(t.jti.as_deref(), Some("j1"));
        assert_eq!(t.sub.as_deref(), Some("u1"));
        assert_eq!(t.sid.as_deref(), Some("s1"));
        let t = check(json!({"sub": null, "jti": null})).unwrap();
        assert_eq!((t.sub, t.jti, t.sid.as_deref()), (None, None, Some("s1")));
        let t = check(json!({"sid": null, "aud": ["web", "other"]})).unwrap();
        assert_eq!((t.sub.as_deref(), t.sid), (Some("u1"), None));
        // Unknown claims and other events are ignored; iat within the leeway passes.
        check(json!({"iat": NOW + 60, "x": 1, "events": {LOGOUT_EVENT: {}, "urn:x": 1}})).unwrap();
    }

    #[test]
    fn each_rule_is_enforced() {
        use LogoutTokenError as E;
        let cases = [
            (json!({"iat": null}), E::MissingIat),
            (json!({"iat": "now"}), E::BadClaim("iat")),
            (json!({"iat": NOW + 61}), E::IssuedInFuture),
            (json!({"events": null}), E::MissingEvent),
            (json!({"events": [LOGOUT_EVENT]}), E::MissingEvent),
            (json!({"events": {"urn:other": {}}}), E::MissingEvent),
            (json!({"events": {LOGOUT_EVENT: "yes"}}), E::EventNotObject),
            (json!({"events": {LOGOUT_EVENT: null}}), E::EventNotObject),
            (json!({"nonce": "n"}), E::NoncePresent),
            (json!({"sub": null, "sid": null}), E::MissingSubject),
            (json!({"sub": 7}), E::BadClaim("sub")),
            (json!({"sid": ""}), E::BadClaim("sid")),
            (json!({"jti": {}}), E::BadClaim("jti")),
        ];
        for (v, want) in cases {
            assert_eq!(check(v.clone()), Err(want), "{v}");
        }
        // A `nonce` of null is still a nonce claim.
        let mut c = claims(json!({}));
        c.insert("nonce".into(), Value::Null);
        assert_eq!(check_claims(c, NOW, Duration::ZERO), Err(E::NoncePresent));
    }

    #[test]
    fn typ_is_logout_jwt_jwt_or_absent() {
        for ok in [
            None,
            Some("logout+jwt"),
            Some("application/logout+JWT"),
            Some("JWT"),
            Some("jwt"),
        ] {
            assert_eq!(check_type(ok), Ok(()), "{ok:?}");
        }
        for bad in ["at+jwt", "JOSE", "", "application/", "logout+jwt2"] {
            assert_eq!(
                check_type(Some(bad)),
                Err(LogoutTokenError::WrongType),
                "{bad}"
            );
        }
    }

    #[test]
    fn form_bodies() {
        assert_eq!(
            logout_token_from_form(b"a=1&logout_token=x.y.z").as_deref(),
            Some("x.y.z")
        );
        assert_eq!(
            logout_token_from_form(b"logout_token=a%2Bb").as_deref(),
            Some("a+b")
        );
        assert_eq!(logout_token_from_form(b""), None);
        assert_eq!(logout_token_from_form(b"logout_token="), None);
        assert_eq!(
            logout_token_from_form(b"logout_token=a&logout_token=a"),
            None
        );
        assert_eq!(logout_token_from_form(&[0xff, 0xfe]), None);
    }
}
