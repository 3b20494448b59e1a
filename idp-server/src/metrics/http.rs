//! Counts and times every request the router answers, labelled by the route template
//! that matched (axum's [`MatchedPath`]), never by the raw path: a request that matched no
//! route counts as [`OTHER`].

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Instant;

use axum::extract::MatchedPath;
use http::{Request, Response};
use tower_layer::Layer;
use tower_service::Service;

use super::registry::{Metrics, OTHER};

/// Records `idp_http_requests_total` and `idp_http_request_duration_seconds`.
#[derive(Clone, Debug)]
pub(crate) struct RequestMetricsLayer {
    metrics: Arc<Metrics>,
}

impl RequestMetricsLayer {
    pub(crate) fn new(metrics: Arc<Metrics>) -> Self {
        Self { metrics }
    }
}

impl<S> Layer<S> for RequestMetricsLayer {
    type Service = RequestMetrics<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RequestMetrics {
            inner,
            metrics: Arc::clone(&self.metrics),
        }
    }
}

/// The service of [`RequestMetricsLayer`].
#[derive(Clone, Debug)]
pub(crate) struct RequestMetrics<S> {
    inner: S,
    metrics: Arc<Metrics>,
}

impl<S, B, R> Service<Request<B>> for RequestMetrics<S>
where
    S: Service<Request<B>, Response = Response<R>>,
{
    type Response = Response<R>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let endpoint = req
            .extensions()
            .get::<MatchedPath>()
            .map_or(OTHER, MatchedPath::as_str)
            .to_owned();
        ResponseFuture {
            inner: self.inner.call(req),
            metrics: Arc::clone(&self.metrics),
            endpoint,
            start: Instant::now(),
        }
    }
}

pin_project_lite::pin_project! {
    /// The response future of [`RequestMetrics`].
    pub(crate) struct ResponseFuture<F> {
        #[pin]
        inner: F,
        metrics: Arc<Metrics>,
        endpoint: String,
        start: Instant,
    }
}

impl<F, R, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<R>, E>>,
{
    type Output = Result<Response<R>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let result = ready!(this.inner.poll(cx));
        if let Ok(resp) = &result {
            this.metrics
                .request(this.endpoint, resp.status().as_u16(), this.start.elapsed());
        }
        Poll::Ready(result)
    }
}
