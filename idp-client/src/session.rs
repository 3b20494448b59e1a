//! [`TokenManager`]: one signed-in user's tokens in a web backend, kept fresh.

use std::time::{Duration, SystemTime};

use idp_core::{AccessToken, ErrorCode};
use tokio::sync::Mutex;

use crate::client::{Client, TokenSet};
use crate::error::Error;

/// How long before expiry the access token is refreshed, by default.
const DEFAULT_AHEAD: Duration = Duration::from_secs(30);

/// Hands out a user's current access token, refreshing it ahead of expiry.
///
/// - One refresh at a time: callers that arrive while one is in flight wait for it and get
///   its result, so a rotated refresh token is never sent twice (which a provider that
///   detects reuse, like idp, answers by revoking the whole grant).
/// - The rotated refresh token replaces the old one.
/// - A refresh refused with `invalid_grant` (the grant was revoked: logout, password change,
///   expiry), or an expired access token without a refresh token, is
///   [`Error::SignInRequired`] from then on, without further requests.
/// - A refresh that fails otherwise (network, 5xx) while the current token is still valid
///   hands out the current token; once it has expired, the error.
///
/// Keep one per user session (for example in the session store, behind an `Arc`).
///
/// ```no_run
/// # async fn f(client: idp_client::Client, tokens: idp_client::TokenSet) -> Result<(), idp_client::Error> {
/// use idp_client::TokenManager;
/// let manager = TokenManager::new(client, tokens);
/// let at = manager.access_token().await?; // fresh, whatever time it is
/// # let _ = at; Ok(()) }
/// ```
#[derive(Debug)]
pub struct TokenManager {
    client: Client,
    ahead: Duration,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    tokens: TokenSet,
    /// The grant is gone: sign in again.
    ended: bool,
}

impl TokenManager {
    /// Manages `tokens` (from [`Client::exchange_code`] or a refresh) with `client`.
    pub fn new(client: Client, tokens: TokenSet) -> Self {
        Self {
            client,
            ahead: DEFAULT_AHEAD,
            state: Mutex::new(State {
                tokens,
                ended: false,
            }),
        }
    }

    /// Refreshes this long before the access token expires (default 30 s).
    pub fn refresh_ahead(mut self, ahead: Duration) -> Self {
        self.ahead = ahead;
        self
    }

    /// The current tokens (to persist with the session, or to read the ID token's claims).
    pub async fn tokens(&self) -> TokenSet {
        self.state.lock().await.tokens.clone()
    }

    /// An access token that is valid now, refreshed first if it expires within the
    /// refresh-ahead window.
    pub async fn access_token(&self) -> Result<AccessToken, Error> {
        let mut state = self.state.lock().await;
        if state.ended {
            return Err(Error::SignInRequired);
        }
        let now = self.client.clock().now();
        let expires_at = state.tokens.expires_at();
        let expired = expires_at.is_some_and(|e| e <= now);
        let due = expires_at.is_some_and(|e| e <= now + self.ahead);
        let current = state.tokens.tokens.access_token.clone();
        if !due {
            return Ok(current);
        }
        let Some(rt) = state.tokens.tokens.refresh_token.clone() else {
            if expired {
                state.ended = true;
                return Err(Error::SignInRequired);
            }
            return Ok(current);
        };
        match self.client.refresh(&rt).send().await {
            Ok(fresh) => {
                let at = fresh.tokens.access_token.clone();
                state.tokens = fresh;
                Ok(at)
            }
            Err(e)
                if e.oauth_error()
                    .is_some_and(|r| r.error == ErrorCode::InvalidGrant) =>
            {
                state.ended = true;
                Err(Error::SignInRequired)
            }
            Err(_) if !expired && still_valid(expires_at, now) => Ok(current),
            Err(e) => Err(e),
        }
    }
}

fn still_valid(expires_at: Option<SystemTime>, now: SystemTime) -> bool {
    expires_at.is_none_or(|e| e > now)
}
