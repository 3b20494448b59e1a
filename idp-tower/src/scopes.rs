//! The scope guard: [`RequireScopesLayer`] (configuration), [`RequireScopes`] (the service)
//! and [`RequireScopesFuture`] (its response future).
//!
//! The example that builds a stack and asserts the status codes is on
//! [`RequireScopesLayer`], where rustdoc shows it.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::{Request, Response};
use idp_core::Scope;
use pin_project_lite::pin_project;
use tower_layer::Layer;
use tower_service::Service;

use crate::challenge::{AuthState, Rejection};

/// Requires scopes of the token that [`JwtAuthLayer`](crate::JwtAuthLayer) verified: every
/// listed scope must be granted.
///
/// | request | response |
/// |---|---|
/// | the token grants every required scope | the inner service's |
/// | a scope is missing | `403`, `WWW-Authenticate: Bearer realm="…", error="insufficient_scope", scope="…"` (all required scopes) |
/// | anonymous (the auth layer [allows it](crate::JwtAuthLayerBuilder::allow_anonymous)) | `401`, `WWW-Authenticate: Bearer realm="…"` |
/// | no [`JwtAuthLayer`](crate::JwtAuthLayer) in front | `500`, no detail: a server bug, logged as an error |
///
/// Put it *inside* the auth layer. With axum, [`route_layer`] makes it a per-route guard:
/// `.route("/orders", post(create).route_layer(RequireScopesLayer::new(["write:orders"])))`
/// under a router-wide `.layer(auth)`.
///
/// [`route_layer`]: https://docs.rs/axum/0.8/axum/routing/method_routing/struct.MethodRouter.html#method.route_layer
///
/// # Example
///
/// ```
/// # use aws_lc_rs::{rand::SystemRandom, signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING}};
/// # use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD as B64};
/// use std::convert::Infallible;
/// use http::{Request, Response, StatusCode};
/// use idp_tower::idp_core::{Algorithm, Jwk, JwkSet, ValidationPolicy, VerificationKeys};
/// use idp_tower::{JwtAuthLayer, RequireScopesLayer};
/// use tower::{Layer, ServiceBuilder, ServiceExt, service_fn};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let key = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING)?;
/// # let point = key.public_key().as_ref();
/// # let jwk = Jwk::ec("P-256", &point[1..33], &point[33..65]).with_kid("k1").for_signing(Algorithm::ES256);
/// # let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_secs();
/// # let input = format!("{}.{}",
/// #     B64.encode(r#"{"alg":"ES256","kid":"k1"}"#),
/// #     B64.encode(serde_json::json!({"iss": "https://id.example.com", "sub": "svc",
/// #         "aud": "orders-api", "iat": now, "exp": now + 300, "jti": "j1",
/// #         "client_id": "svc", "scope": "read:orders"}).to_string()));
/// # let sig = key.sign(&SystemRandom::new(), input.as_bytes()).map_err(|_| "sign")?;
/// # let read_token = format!("{input}.{}", B64.encode(sig.as_ref()));
/// let handler = service_fn(|_req: Request<String>| async {
///     Ok::<_, Infallible>(Response::new(String::from("ok")))
/// });
/// let policy = ValidationPolicy::builder()
///     .issuer("https://id.example.com")
///     .audience("orders-api")
///     .algorithms([Algorithm::ES256])
///     .build()?;
/// let keys = VerificationKeys::from_jwks(&JwkSet::new(vec![jwk]));
/// let auth = JwtAuthLayer::keys(policy, keys)
///     .build()?;
/// let reader = ServiceBuilder::new()
///     .layer(auth.clone())
///     .layer(RequireScopesLayer::new(["read:orders"]))
///     .service(handler.clone());
/// let writer = ServiceBuilder::new()
///     .layer(auth)
///     .layer(RequireScopesLayer::new(["read:orders", "write:orders"]))
///     .service(handler.clone());
/// let request = || {
///     Request::post("/orders")
///         .header("authorization", format!("Bearer {read_token}"))
///         .body(String::new())
/// };
///
/// // `read_token` grants "read:orders".
/// assert_eq!(reader.oneshot(request()?).await?.status(), StatusCode::OK);
/// let res = writer.oneshot(request()?).await?;
/// assert_eq!(res.status(), StatusCode::FORBIDDEN);
/// assert_eq!(
///     res.headers()["www-authenticate"],
///     r#"Bearer realm="orders-api", error="insufficient_scope", scope="read:orders write:orders""#
/// );
///
/// // The guard alone, without the auth layer in front: a server bug.
/// let misconfigured = RequireScopesLayer::new(["read:orders"]).layer(handler);
/// let res = misconfigured.oneshot(request()?).await?;
/// assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct RequireScopesLayer {
    required: Arc<Scope>,
}

impl RequireScopesLayer {
    /// Requires every scope token of `scopes` (each item may hold several, space-separated).
    ///
    /// # Panics
    ///
    /// If a scope token has a character RFC 6749 §3.3 does not allow (a space-separated list
    /// is split, a `"` or `\` or a control character panics). For scopes read from
    /// configuration, parse a [`Scope`] and use [`from_scope`](Self::from_scope).
    #[track_caller]
    pub fn new<I, T>(scopes: I) -> Self
    where
        I: IntoIterator<Item = T>,
        T: AsRef<str>,
    {
        match Scope::from_tokens(scopes) {
            Ok(scope) => Self::from_scope(scope),
            Err(e) => panic!("RequireScopesLayer::new: {e}"),
        }
    }

    /// Requires every token of `scope`.
    pub fn from_scope(scope: Scope) -> Self {
        Self {
            required: Arc::new(scope),
        }
    }

    /// The required scope.
    pub fn required(&self) -> &Scope {
        &self.required
    }
}

impl<S> Layer<S> for RequireScopesLayer {
    type Service = RequireScopes<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RequireScopes::new(inner, self.clone())
    }
}

/// Answers `403 insufficient_scope` unless the verified token grants the required scopes;
/// built by [`RequireScopesLayer`], which documents the responses.
#[derive(Debug, Clone)]
pub struct RequireScopes<S> {
    inner: S,
    layer: RequireScopesLayer,
}

impl<S> RequireScopes<S> {
    /// Wraps `inner` with the requirement of `layer` (the same as `layer.layer(inner)`).
    pub fn new(inner: S, layer: RequireScopesLayer) -> Self {
        Self { inner, layer }
    }

    /// The layer (configuration) this service was built with.
    pub fn layer(&self) -> &RequireScopesLayer {
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

/// The decision for a request, from what the auth layer left in its extensions.
pub(crate) fn check_scope(
    state: Option<&AuthState>,
    required: &Scope,
) -> Result<(), (Rejection, Option<Arc<str>>)> {
    match state {
        None => {
            tracing::error!(
                "a scope check ran without JwtAuthLayer in front of it; answering 500 (put \
                 the scope guard inside the auth layer)"
            );
            Err((Rejection::Misconfigured, None))
        }
        Some(AuthState::Anonymous { realm }) => Err((Rejection::Missing, Some(realm.clone()))),
        Some(AuthState::Verified { realm, scope, .. }) => {
            if required.is_subset(scope) {
                Ok(())
            } else {
                tracing::debug!(required = %required, granted = %scope, "insufficient scope");
                Err((
                    Rejection::InsufficientScope(required.to_string()),
                    Some(realm.clone()),
                ))
            }
        }
    }
}

impl<S, ReqB, ResB> Service<Request<ReqB>> for RequireScopes<S>
where
    S: Service<Request<ReqB>, Response = Response<ResB>>,
    ResB: Default,
{
    type Response = Response<ResB>;
    type Error = S::Error;
    type Future = RequireScopesFuture<S::Future, ResB>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<ReqB>) -> Self::Future {
        let state = req.extensions().get::<AuthState>();
        match check_scope(state, &self.layer.required) {
            Ok(()) => RequireScopesFuture {
                state: State::Calling {
                    future: self.inner.call(req),
                },
            },
            Err((rejection, realm)) => RequireScopesFuture {
                state: State::Rejected {
                    response: Some(rejection.into_response(realm.as_deref())),
                },
            },
        }
    }
}

pin_project! {
    /// Response future of [`RequireScopes`].
    pub struct RequireScopesFuture<F, B> {
        #[pin]
        state: State<F, B>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<F, B> {
        Calling {
            #[pin]
            future: F,
        },
        Rejected {
            response: Option<Response<B>>,
        },
    }
}

impl<F, B, E> Future for RequireScopesFuture<F, B>
where
    F: Future<Output = Result<Response<B>, E>>,
    B: Default,
{
    type Output = Result<Response<B>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().state.project() {
            StateProj::Calling { future } => future.poll(cx),
            StateProj::Rejected { response } => Poll::Ready(Ok(response
                .take()
                // Polled after completion: answer rather than panic.
                .unwrap_or_else(|| Rejection::Misconfigured.into_response(None)))),
        }
    }
}

impl<F, B> fmt::Debug for RequireScopesFuture<F, B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match &self.state {
            State::Calling { .. } => "calling",
            State::Rejected { .. } => "rejected",
        };
        f.debug_struct("RequireScopesFuture")
            .field("state", &state)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decisions() {
        let required: Scope = "a b".parse().unwrap();
        let realm: Arc<str> = Arc::from("api");
        let verified = |s: &str| AuthState::Verified {
            realm: realm.clone(),
            scope: s.parse().unwrap(),
            tenant: None,
        };
        assert!(check_scope(Some(&verified("a b c")), &required).is_ok());
        assert_eq!(
            check_scope(Some(&verified("a")), &required).unwrap_err().0,
            Rejection::InsufficientScope("a b".into())
        );
        assert_eq!(
            check_scope(Some(&AuthState::Anonymous { realm }), &required)
                .unwrap_err()
                .0,
            Rejection::Missing
        );
        assert_eq!(
            check_scope(None, &required).unwrap_err().0,
            Rejection::Misconfigured
        );
    }

    #[test]
    #[should_panic(expected = "RequireScopesLayer::new")]
    fn bad_scope_panics_at_construction() {
        let _ = RequireScopesLayer::new(["read\"orders"]);
    }

    #[test]
    fn scopes_are_split() {
        let l = RequireScopesLayer::new(["read:orders write:orders", "admin"]);
        assert_eq!(l.required().len(), 3);
    }
}
