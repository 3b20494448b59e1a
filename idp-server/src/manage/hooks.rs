//! Hooks: application code the provider awaits at fixed moments, with the context of the
//! change. Each may change what it is given or refuse it with a message:
//!
//! | moment | given | may |
//! |---|---|---|
//! | before a user is inserted | [`NewUser`] | change it, refuse |
//! | before a user is updated | the stored [`User`] and the [`UserUpdate`] | change the update, refuse |
//! | before a client is inserted | [`NewClient`] | change it, refuse |
//! | before a client is updated | the stored [`Client`] and the [`ClientUpdate`] | change the update, refuse |
//! | after a sign-in (password checked, before the session starts) | the [`User`] | refuse the sign-in |
//! | before a token is issued | the custom claims ([`TokenClaims`]) | add, change or remove custom claims, refuse |
//!
//! A refusal fails the operation with [`Error::Rejected`] and the hook's message (the
//! management API and the CLI show it; a refused sign-in shows it on the login page, a
//! refused token is `access_denied`). A hook that panics is caught: the operation fails
//! with [`Error::HookFailed`], which the HTTP endpoints answer as a 500 without detail.
//! Before-token hooks may not produce a registered claim (`sub`, `email`, `tenant`…):
//! that is a [`Error::HookFailed`] too.

use std::future::Future;
use std::net::IpAddr;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;

use futures_util::FutureExt;
use serde_json::{Map, Value};

use super::records::{ClientUpdate, NewClient, NewUser, UserUpdate};
use crate::Error;
use crate::attributes::{RESERVED_CLAIMS, TokenKind};
use crate::store::{Client, User};

/// Who makes a change.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Actor {
    /// Application code calling the management API directly (the default).
    Code,
    /// The `idp` command line.
    Cli,
    /// An administrator through an HTTP API: the subject of their access token.
    Admin(String),
    /// The person themselves (a sign-in, their account pages): their subject.
    User(String),
    /// Someone signing up on the registration page (who has no account yet).
    Registration,
}

/// The context a hook runs in.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct HookContext {
    /// The tenant of the record or the sign-in.
    pub tenant: Option<String>,
    /// Who makes the change.
    pub actor: Actor,
    /// The client address of the HTTP request behind it, when there is one.
    pub client_addr: Option<IpAddr>,
    /// The OAuth client involved (sign-ins and tokens).
    pub client_id: Option<String>,
}

impl HookContext {
    /// A context for `actor`, without tenant, address or client.
    pub fn new(actor: Actor) -> Self {
        Self {
            tenant: None,
            actor,
            client_addr: None,
            client_id: None,
        }
    }

    pub(crate) fn tenant(mut self, tenant: Option<&str>) -> Self {
        self.tenant = tenant.map(str::to_owned);
        self
    }

    pub(crate) fn client_addr(mut self, addr: Option<IpAddr>) -> Self {
        self.client_addr = addr;
        self
    }

    pub(crate) fn client_id(mut self, id: &str) -> Self {
        self.client_id = Some(id.to_owned());
        self
    }
}

/// The custom claims a token is about to carry, for a before-token hook.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct TokenClaims {
    /// Which token (or the userinfo response).
    pub kind: TokenKind,
    /// The user, for user tokens; `None` for a service token.
    pub user_id: Option<String>,
    /// The granted scope, space-separated.
    pub scope: String,
    /// The custom claims (from the configured `claims` mapping); the hook returns them
    /// changed. Registered claims are not here and may not be added.
    pub claims: Map<String, Value>,
}

impl TokenClaims {
    pub(crate) fn new(
        kind: TokenKind,
        user_id: Option<String>,
        scope: &idp_core::Scope,
        claims: Map<String, Value>,
    ) -> Self {
        Self {
            kind,
            user_id,
            scope: scope.to_string(),
            claims,
        }
    }
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;
type Hook<I, O> = Arc<dyn Fn(HookContext, I) -> BoxFuture<Result<O, String>> + Send + Sync>;

/// The hooks of a provider; see the module docs.
#[derive(Clone, Default)]
pub(crate) struct Hooks {
    pub(crate) insert_user: Option<Hook<NewUser, NewUser>>,
    pub(crate) update_user: Option<Hook<(User, UserUpdate), UserUpdate>>,
    pub(crate) insert_client: Option<Hook<NewClient, NewClient>>,
    pub(crate) update_client: Option<Hook<(Client, ClientUpdate), ClientUpdate>>,
    pub(crate) after_sign_in: Option<Hook<User, ()>>,
    pub(crate) before_token: Option<Hook<TokenClaims, Map<String, Value>>>,
}

impl std::fmt::Debug for Hooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hooks")
            .field("insert_user", &self.insert_user.is_some())
            .field("update_user", &self.update_user.is_some())
            .field("insert_client", &self.insert_client.is_some())
            .field("update_client", &self.update_client.is_some())
            .field("after_sign_in", &self.after_sign_in.is_some())
            .field("before_token", &self.before_token.is_some())
            .finish()
    }
}

/// Wraps an async closure as a stored hook.
pub(crate) fn hook<I, O, F, Fut>(f: F) -> Hook<I, O>
where
    F: Fn(HookContext, I) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<O, String>> + Send + 'static,
{
    Arc::new(move |ctx, input| Box::pin(f(ctx, input)))
}

/// Runs `hook` (if set) on `input`: its output, a refusal, or a caught panic. Without a
/// hook, `input` unchanged through `none`.
pub(crate) async fn run<I, O>(
    hook: Option<&Hook<I, O>>,
    moment: &'static str,
    ctx: HookContext,
    input: I,
    none: impl FnOnce(I) -> O,
) -> Result<O, Error> {
    let Some(hook) = hook else {
        return Ok(none(input));
    };
    match AssertUnwindSafe(hook(ctx, input)).catch_unwind().await {
        Ok(Ok(out)) => Ok(out),
        Ok(Err(message)) => {
            tracing::info!(target: "idp::audit", event = "hook_refused", moment, message = ?crate::error::loggable(&message), "a hook refused");
            Err(Error::Rejected(message))
        }
        Err(_) => {
            tracing::error!(moment, "a hook panicked");
            Err(Error::HookFailed(moment))
        }
    }
}

impl Hooks {
    /// The before-token hook on `claims`, checked: what it returns may not use a
    /// registered claim name.
    pub(crate) async fn token_claims(
        &self,
        ctx: HookContext,
        claims: TokenClaims,
    ) -> Result<Map<String, Value>, Error> {
        let out = run(
            self.before_token.as_ref(),
            "before_token",
            ctx,
            claims,
            |c| c.claims,
        )
        .await?;
        if let Some(bad) = out.keys().find(|k| RESERVED_CLAIMS.contains(&k.as_str())) {
            tracing::error!(claim = ?crate::error::loggable(bad), "a before-token hook set a registered claim");
            return Err(Error::HookFailed("before_token"));
        }
        Ok(out)
    }
}
