//! The provider as a Tower middleware, for plain hyper/tower applications: requests for the
//! provider's paths (under the issuer's path) are answered by the provider, every other
//! request goes to the wrapped service.
//!
//! ```
//! use std::convert::Infallible;
//! use std::sync::Arc;
//! use http::{Request, Response, StatusCode};
//! use idp_server::{Provider, store::MemoryStore};
//! use tower::{ServiceBuilder, ServiceExt, service_fn};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let provider = Provider::builder()
//!     .issuer("http://localhost:8080/auth") // the provider lives under /auth
//!     .store(Arc::new(MemoryStore::new()))
//!     .encryption_key("an encryption key of at least 32 bytes!")
//!     .build()
//!     .await
//!     .unwrap();
//! let app = service_fn(|_req: Request<axum::body::Body>| async {
//!     Ok::<_, Infallible>(Response::new(axum::body::Body::from("the app")))
//! });
//! let svc = ServiceBuilder::new().layer(provider.layer()).service(app);
//!
//! let discovery = Request::get("/auth/.well-known/openid-configuration")
//!     .body(axum::body::Body::empty())
//!     .unwrap();
//! assert_eq!(svc.clone().oneshot(discovery).await.unwrap().status(), StatusCode::OK);
//! let other = Request::get("/orders").body(axum::body::Body::empty()).unwrap();
//! let resp = svc.oneshot(other).await.unwrap();
//! assert_eq!(resp.status(), StatusCode::OK); // answered by the app
//! # }
//! ```

use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::Router;
use axum::body::Body;
use bytes::Bytes;
use http::{Request, Response, Uri};
use pin_project_lite::pin_project;
use tower_layer::Layer;
use tower_service::Service;

use crate::issuer::paths;

/// Layer that serves the provider in front of another service. Build it with
/// [`Provider::layer`](crate::Provider::layer).
#[derive(Clone)]
pub struct ProviderLayer {
    router: Router,
    prefix: String,
}

impl fmt::Debug for ProviderLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProviderLayer")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl ProviderLayer {
    /// A layer answering `router`'s paths under `prefix` (the issuer's path).
    pub(crate) fn new(router: Router, prefix: &str) -> Self {
        Self {
            router,
            prefix: prefix.to_owned(),
        }
    }
}

impl<S> Layer<S> for ProviderLayer {
    type Service = ProviderService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        ProviderService {
            inner,
            router: self.router.clone(),
            prefix: self.prefix.clone(),
        }
    }
}

/// The service made by [`ProviderLayer`].
#[derive(Clone)]
pub struct ProviderService<S> {
    inner: S,
    router: Router,
    prefix: String,
}

impl<S: fmt::Debug> fmt::Debug for ProviderService<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProviderService")
            .field("inner", &self.inner)
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl<S> ProviderService<S> {
    /// The wrapped service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The wrapped service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// Unwraps the inner service.
    pub fn into_inner(self) -> S {
        self.inner
    }

    /// The path relative to the provider if the request is for one of its endpoints.
    fn provider_path<'a>(&self, path: &'a str) -> Option<&'a str> {
        // RFC 8414 §3.1: the metadata URL of an issuer with a path inserts the well-known
        // segment before it.
        if !self.prefix.is_empty()
            && path.strip_prefix(paths::AS_METADATA) == Some(self.prefix.as_str())
        {
            return Some(paths::AS_METADATA);
        }
        let rest = path.strip_prefix(self.prefix.as_str())?;
        paths::is_ours(rest).then_some(rest)
    }
}

fn rewrite(uri: &Uri, path: &str) -> Uri {
    let pq = match uri.query() {
        Some(q) => format!("{path}?{q}"),
        None => path.to_owned(),
    };
    Uri::builder()
        .path_and_query(pq)
        .build()
        .unwrap_or_else(|_| Uri::from_static("/"))
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for ProviderService<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    ReqBody: http_body::Body<Data = Bytes> + Send + 'static,
    ReqBody::Error: Into<axum::BoxError>,
    ResBody: http_body::Body<Data = Bytes> + Send + 'static,
    ResBody::Error: Into<axum::BoxError>,
{
    type Response = Response<Body>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        if let Some(path) = self.provider_path(req.uri().path()) {
            let uri = rewrite(req.uri(), path);
            let (mut parts, body) = req.into_parts();
            parts.uri = uri;
            let req = Request::from_parts(parts, Body::new(body));
            let fut = Service::call(&mut self.router, req);
            ResponseFuture {
                state: State::Provider { fut },
            }
        } else {
            ResponseFuture {
                state: State::Inner {
                    fut: self.inner.call(req),
                },
            }
        }
    }
}

type RouterFuture = <Router as Service<Request<Body>>>::Future;

pin_project! {
    /// Response future of [`ProviderService`].
    pub struct ResponseFuture<F> {
        #[pin]
        state: State<F>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<F> {
        Provider { #[pin] fut: RouterFuture },
        Inner { #[pin] fut: F },
    }
}

impl<F> fmt::Debug for ResponseFuture<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ResponseFuture")
    }
}

impl<F, ResBody, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<ResBody>, E>>,
    ResBody: http_body::Body<Data = Bytes> + Send + 'static,
    ResBody::Error: Into<axum::BoxError>,
{
    type Output = Result<Response<Body>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().state.project() {
            StateProj::Provider { fut } => {
                let res: Result<Response<Body>, Infallible> = std::task::ready!(fut.poll(cx));
                Poll::Ready(Ok(match res {
                    Ok(r) => r,
                    Err(never) => match never {},
                }))
            }
            StateProj::Inner { fut } => {
                let res = std::task::ready!(fut.poll(cx))?;
                Poll::Ready(Ok(res.map(Body::new)))
            }
        }
    }
}
