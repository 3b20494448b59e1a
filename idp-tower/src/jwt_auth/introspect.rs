//! Introspection mode: each token is checked by the provider (RFC 7662) rather than by its
//! signature, so opaque tokens work and a revocation bites at once (within the short
//! cache lifetime).

use std::sync::Arc;
use std::time::Duration;

use idp_client::Client;
use idp_core::{AccessToken, AccessTokenClaims, Clock, IntrospectionResponse, ValidationPolicy};
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::cache::TokenKey;
use crate::challenge::Rejection;

/// The provider's answers about tokens, kept for a short while.
pub(crate) struct Introspector {
    client: Client,
    /// The expected `iss`; `None` when the policy accepts any issuer.
    issuer: Option<String>,
    /// The accepted audiences; empty when the policy accepts any audience.
    audiences: Vec<String>,
    clock: Arc<dyn Clock>,
    answers: moka::sync::Cache<TokenKey, Arc<IntrospectionResponse>>,
}

impl Introspector {
    pub(crate) fn new(
        client: Client,
        policy: &ValidationPolicy,
        clock: Arc<dyn Clock>,
        ttl: Duration,
        max_entries: u64,
    ) -> Self {
        Self {
            client,
            issuer: policy.issuer().map(str::to_owned),
            audiences: policy.audiences().to_vec(),
            clock,
            answers: moka::sync::Cache::builder()
                .max_capacity(max_entries)
                .time_to_live(ttl)
                .build(),
        }
    }

    /// The claims of `token` if the provider says it is active, for one of our audiences,
    /// from our issuer, and not expired.
    pub(crate) async fn check<C: DeserializeOwned>(
        &self,
        token: &str,
    ) -> Result<AccessTokenClaims<C>, Rejection> {
        let key = TokenKey::of(token);
        let answer = match self.answers.get(&key) {
            Some(a) => a,
            None => {
                let a = self
                    .client
                    .introspect(&AccessToken::new(token))
                    .await
                    .map_err(|e| {
                        tracing::warn!(error = %e, "token introspection failed");
                        Rejection::Unavailable
                    })?;
                let a = Arc::new(a);
                self.answers.insert(key, Arc::clone(&a));
                a
            }
        };
        let inactive = Rejection::InvalidToken("the token is not active");
        if !answer.active {
            return Err(inactive);
        }
        let now = self.clock.unix_now();
        if answer.exp.is_some_and(|e| e <= now) {
            return Err(inactive);
        }
        if let (Some(iss), Some(ours)) = (answer.iss.as_deref(), self.issuer.as_deref())
            && iss != ours
        {
            return Err(Rejection::InvalidToken("the token is from another issuer"));
        }
        let ours = self.audiences.is_empty()
            || answer
                .aud
                .as_ref()
                .is_some_and(|aud| self.audiences.iter().any(|a| aud.contains(a)));
        if !ours {
            return Err(Rejection::InvalidToken("the token is not for this API"));
        }
        claims(&answer, self.issuer.as_deref(), now).ok_or(Rejection::InvalidToken(
            "the introspection response does not carry the claims this API reads",
        ))
    }
}

/// The access-token claims of an active introspection response: its members, with what a
/// provider may leave out filled in (`iss` ours, `iat` now, empty `jti`/`client_id`).
fn claims<C: DeserializeOwned>(
    answer: &IntrospectionResponse,
    issuer: Option<&str>,
    now: i64,
) -> Option<AccessTokenClaims<C>> {
    let mut v = serde_json::to_value(answer).ok()?;
    let obj = v.as_object_mut()?;
    obj.remove("active");
    obj.entry("iss")
        .or_insert_with(|| Value::from(issuer.unwrap_or_default()));
    obj.entry("iat").or_insert_with(|| Value::from(now));
    obj.entry("jti").or_insert_with(|| Value::from(""));
    obj.entry("client_id").or_insert_with(|| Value::from(""));
    obj.entry("sub").or_insert_with(|| Value::from(""));
    obj.entry("exp")
        .or_insert_with(|| Value::from(i64::MAX / 4));
    serde_json::from_value(v).ok()
}
