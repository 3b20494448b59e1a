//! The [`JwtAuth`] service.

use std::fmt;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::{Request, Response};
use idp_core::{AccessTokenClaims, NoExtra};
use serde::de::DeserializeOwned;
use tower_service::Service;

use super::layer::{Shared, Verifier};
use super::{JwtAuthFuture, JwtAuthLayer, bearer_token};
use crate::challenge::{AuthState, Rejection};
use crate::keys;

/// Validates bearer tokens in front of `S`; built by [`JwtAuthLayer`], which documents the
/// responses.
pub struct JwtAuth<S, C = NoExtra> {
    inner: S,
    layer: JwtAuthLayer<C>,
}

impl<S: Clone, C> Clone for JwtAuth<S, C> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            layer: self.layer.clone(),
        }
    }
}

impl<S: fmt::Debug, C> fmt::Debug for JwtAuth<S, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwtAuth")
            .field("inner", &self.inner)
            .field("layer", &self.layer)
            .finish()
    }
}

impl<S, C> JwtAuth<S, C> {
    /// Wraps `inner` with the configuration of `layer` (the same as
    /// `layer.layer(inner)`).
    pub fn new(inner: S, layer: JwtAuthLayer<C>) -> Self {
        Self { inner, layer }
    }

    /// The layer (configuration) this service was built with, to protect another service
    /// the same way; it shares this service's key and token caches.
    pub fn layer(&self) -> &JwtAuthLayer<C> {
        &self.layer
    }

    /// The inner service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The inner service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// Consumes `self`, returning the inner service.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

pub(crate) fn insert_verified<B, C>(
    req: &mut Request<B>,
    shared: &Shared<C>,
    claims: AccessTokenClaims<C>,
) where
    C: Clone + Send + Sync + 'static,
{
    let state = AuthState::Verified {
        realm: shared.realm.clone(),
        scope: claims.scope.clone().unwrap_or_default(),
        tenant: claims.tenant.clone(),
    };
    req.extensions_mut().insert(state);
    req.extensions_mut().insert(claims);
}

impl<S, C, ReqB, ResB> Service<Request<ReqB>> for JwtAuth<S, C>
where
    S: Service<Request<ReqB>, Response = Response<ResB>> + Clone,
    ResB: Default,
    C: DeserializeOwned + Clone + Send + Sync + 'static,
{
    type Response = Response<ResB>;
    type Error = S::Error;
    type Future = JwtAuthFuture<S, ReqB, C>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<ReqB>) -> Self::Future {
        let shared = &self.layer.shared;
        let reject = |r: Rejection| JwtAuthFuture::rejected(r, shared.realm.clone());
        let token = match bearer_token(req.headers()) {
            Ok(Some(token)) => token,
            Ok(None) if shared.allow_anonymous => {
                req.extensions_mut().insert(AuthState::Anonymous {
                    realm: shared.realm.clone(),
                });
                return JwtAuthFuture::calling(self.inner.call(req));
            }
            Ok(None) => return reject(Rejection::Missing),
            Err(r) => return reject(r),
        };
        // Introspection mode: the provider decides, asynchronously (its answers have their
        // own short cache).
        let keys = match &shared.verifier {
            Verifier::Keys(keys) => keys,
            Verifier::Introspection(_) => {
                let token = token.to_owned();
                let clone = self.inner.clone();
                let inner = std::mem::replace(&mut self.inner, clone);
                let shared = Arc::clone(shared);
                let validation = Box::pin(async move {
                    let result = match &shared.verifier {
                        Verifier::Introspection(i) => i.check::<C>(&token).await,
                        Verifier::Keys(_) => Err(Rejection::Misconfigured),
                    };
                    (result, shared)
                });
                return JwtAuthFuture::validating(validation, inner, req);
            }
        };

        // A token validated before, still within its `nbf`..`exp`: no decode, no key, no
        // signature check; the inner service is called in place.
        let key = shared.token_key(token);
        if let Some(claims) = shared.cached(key.as_ref()) {
            insert_verified(&mut req, shared, claims);
            return JwtAuthFuture::calling(self.inner.call(req));
        }

        // The one decode of the token's header, and the policy's pre-check: what no key
        // could make valid is refused here, before any key lookup or fetch.
        let jwt = match keys::parse(&shared.policy, token) {
            Ok(jwt) => jwt,
            Err(r) => return reject(r),
        };

        // Static keys: validate now, no clone of the inner service (nor any allocation but
        // the claims, and their copy in the token cache).
        if let Some(result) = keys.validate_now::<C>(&shared.policy, &jwt) {
            return match result {
                Ok(claims) => {
                    shared.remember(key, &claims);
                    insert_verified(&mut req, shared, claims);
                    JwtAuthFuture::calling(self.inner.call(req))
                }
                Err(r) => reject(r),
            };
        }

        // Keys behind a cache: validate asynchronously. The inner service that `poll_ready`
        // made ready goes into the future (to be called once the token is verified), and a
        // fresh clone, not yet polled, takes its place here.
        let jwt = jwt.into_owned();
        let clone = self.inner.clone();
        let inner = std::mem::replace(&mut self.inner, clone);
        let shared = Arc::clone(shared);
        let validation = Box::pin(async move {
            let result = match &shared.verifier {
                Verifier::Keys(keys) => keys.validate::<C>(&shared.policy, &jwt).await,
                Verifier::Introspection(_) => Err(Rejection::Misconfigured),
            };
            if let Ok(claims) = &result {
                shared.remember(key, claims);
            }
            (result, shared)
        });
        JwtAuthFuture::validating(validation, inner, req)
    }
}
