//! Serving the provider on a TCP listener with bounds a hostile peer cannot stretch: a
//! deadline for the TLS handshake and for request heads, an idle timeout, a cap on
//! connections at once, and a shutdown that ends within a grace period. The same loop
//! serves the plain-HTTP redirect listener and the metrics listener.
//!
//! Each accepted connection holds a permit of a semaphore sized `max_connections`; the
//! accept loop takes a permit before it accepts, so when all are held the kernel's backlog
//! queues new connections instead of the server holding them open. Each connection runs in
//! a task of one `JoinSet`, so that at the end of the grace period dropping the set closes
//! whatever remains.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use bytes::Bytes;
use http::{HeaderValue, Request, Response, StatusCode, Uri, header};
use http_body::{Frame, SizeHint};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

use crate::Error;
use crate::config::Config;
use crate::metrics::Metrics;
use crate::provider::Provider;
use crate::tls::Tls;

/// How long the accept loop pauses after an accept error that is not about one connection
/// (out of file descriptors, out of memory), so that it does not spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// On shutdown, how long a connection with no request in flight may take to close (at most;
/// the header-read timeout if shorter).
const SHUTDOWN_LINGER: Duration = Duration::from_secs(1);

/// How often the TLS certificate and key files are looked at for a change.
const TLS_POLL: Duration = Duration::from_secs(2);

/// The settings the server reads from the [`Config`], copied once.
#[derive(Clone, Copy, Debug)]
struct Limits {
    header_read_timeout: Duration,
    idle_timeout: Duration,
    max_connections: usize,
    shutdown_grace: Duration,
}

impl Limits {
    fn new(config: &Config) -> Self {
        Self {
            header_read_timeout: config.header_read_timeout(),
            idle_timeout: config.idle_timeout(),
            // `Config::validate` keeps it in range; clamped again so that the semaphore
            // can never be asked for more.
            max_connections: config.max_connections().clamp(1, Semaphore::MAX_PERMITS),
            shutdown_grace: config.shutdown_grace(),
        }
    }

    /// HTTP/1 and HTTP/2 on one port, with the timers the limits need.
    fn connection_builder(&self) -> auto::Builder<TokioExecutor> {
        let mut builder = auto::Builder::new(TokioExecutor::new());
        builder
            .http1()
            .timer(TokioTimer::new())
            .keep_alive(true)
            .header_read_timeout(self.header_read_timeout);
        // Pings while a connection is open find peers that are gone; one that does not
        // answer within the header-read timeout is dropped. The idle bound itself is the
        // watchdog in `serve_connection`, common to both versions.
        builder
            .http2()
            .timer(TokioTimer::new())
            .keep_alive_interval(self.idle_timeout)
            .keep_alive_timeout(self.header_read_timeout);
        builder
    }
}

impl Provider {
    /// Serves [`Provider::router`] on `listener` until `shutdown` completes, with the
    /// connection settings of the [`Config`] (`header_read_timeout`, `idle_timeout`,
    /// `max_connections`, `shutdown_grace`). This is what the `idp` binary runs.
    ///
    /// - HTTP/1 and HTTP/2; over TLS when the [`Config`] names a certificate and key
    ///   (`tls_cert`, `tls_key`), with ALPN `h2` and `http/1.1`. The TLS handshake must
    ///   end within `header_read_timeout`. The files are looked at every two seconds and
    ///   reloaded when they change ([`Provider::reload_tls`] reloads at once); a pair that
    ///   does not load is logged and the one in use stays.
    /// - An HTTP/1 request head must arrive within `header_read_timeout`, counted from the
    ///   moment the server waits for it (so it also bounds the wait between requests on a
    ///   kept-alive connection); a new connection of either version must start its first
    ///   request within it.
    /// - A connection with no request in flight is closed after `idle_timeout`; HTTP/2
    ///   connections are also pinged at that interval.
    /// - At most `max_connections` connections are served at once; while all are taken,
    ///   no new connection is accepted (they wait in the listener's backlog).
    /// - Each request carries the peer address as an
    ///   [`axum::extract::ConnectInfo<SocketAddr>`] extension.
    /// - An accept error (such as running out of file descriptors) is logged and the loop
    ///   pauses briefly; it never ends the server.
    /// - When `shutdown` completes, the listener is closed, requests in flight finish and
    ///   connections without one are closed (within a second); after `shutdown_grace` the
    ///   connections that remain are dropped, and the returned future completes.
    ///
    /// The future owns what it needs (it can be spawned). It returns `Ok(())` once shut
    /// down.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), idp_server::Error> {
    /// use std::sync::Arc;
    /// use idp_server::{Provider, store::MemoryStore};
    ///
    /// let provider = Provider::builder()
    ///     .issuer("http://localhost:4000")
    ///     .store(Arc::new(MemoryStore::new()))
    ///     .encryption_key("an encryption key of at least 32 bytes!")
    ///     .build()
    ///     .await?;
    /// let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    /// let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    /// let server = tokio::spawn(provider.serve(listener, async {
    ///     let _ = stopped.await;
    /// }));
    /// // … serve until it is time to stop:
    /// let _ = stop.send(());
    /// server.await.expect("the server task does not panic")?;
    /// # Ok(()) }
    /// ```
    pub fn serve(
        &self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> impl Future<Output = Result<(), Error>> + Send + 'static {
        let limits = Limits::new(self.config());
        let router = self.own_router();
        let tls = self.tls();
        run(listener, router, limits, tls, shutdown)
    }

    /// Serves, on `listener`, plain-HTTP answers that send every request to the same path
    /// and query under the issuer's `https://` origin (`308 Permanent Redirect`), and
    /// nothing else: what `http_redirect_listen` runs. The connection settings and the
    /// shutdown are those of [`Provider::serve`]. An issuer that is not `https://` is
    /// an error.
    pub fn serve_redirects(
        &self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> impl Future<Output = Result<(), Error>> + Send + 'static {
        let limits = Limits::new(self.config());
        let issuer = self.issuer().to_owned();
        async move {
            let origin = https_origin(&issuer)?;
            run(listener, redirect_router(origin), limits, None, shutdown).await
        }
    }

    /// Serves [`Provider::metrics_router`] (`GET /metrics`) on `listener`, in plain HTTP
    /// with the connection settings of [`Provider::serve`]: what `metrics_listen` runs.
    /// Bind it to an address only the monitoring system reaches.
    pub fn serve_metrics(
        &self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> impl Future<Output = Result<(), Error>> + Send + 'static {
        let limits = Limits::new(self.config());
        run(listener, self.metrics_router(), limits, None, shutdown)
    }
}

/// `https://host[:port]` of an `https://` issuer.
fn https_origin(issuer: &str) -> Result<String, Error> {
    let url = url::Url::parse(issuer).map_err(|e| Error::Config(format!("issuer: {e}")))?;
    if url.scheme() != "https" {
        return Err(Error::Config(
            "http_redirect_listen redirects to the issuer, which must then be an https:// URL"
                .into(),
        ));
    }
    Ok(url.origin().ascii_serialization())
}

/// Answers every request with `308` to the same path and query under `origin`.
fn redirect_router(origin: String) -> Router {
    let origin: Arc<str> = origin.into();
    Router::new().fallback(move |uri: Uri| {
        let origin = Arc::clone(&origin);
        async move {
            let path = uri.path_and_query().map_or("/", |p| p.as_str());
            // Only the path and query of the request are used (an absolute-form request
            // URI cannot choose the host), and they are already valid URI characters.
            let path = if path.starts_with('/') { path } else { "/" };
            let mut resp = Response::new(axum::body::Body::empty());
            match HeaderValue::try_from(format!("{origin}{path}")) {
                Ok(location) => {
                    *resp.status_mut() = StatusCode::PERMANENT_REDIRECT;
                    resp.headers_mut().insert(header::LOCATION, location);
                }
                Err(_) => *resp.status_mut() = StatusCode::BAD_REQUEST,
            }
            resp
        }
    })
}

/// Aborts a spawned task when dropped (the certificate watcher ends with the server).
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The accept loop, then the shutdown.
async fn run(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    tls: Option<TlsSetup>,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), Error> {
    let builder = Arc::new(limits.connection_builder());
    // The files are watched as long as the server runs.
    let _watcher = tls.as_ref().map(|t| {
        let (tls, metrics) = (Arc::clone(&t.tls), Arc::clone(&t.metrics));
        AbortOnDrop(tokio::spawn(async move {
            let mut tick = tokio::time::interval(TLS_POLL);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                if let Some(result) = tls.reload_if_changed() {
                    metrics.tls_reload(result.is_ok());
                }
            }
        }))
    });
    let acceptor = tls.map(|t| TlsAcceptor::from(t.tls.server_config()));
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    let (stop, stopping) = watch::channel(false);
    let mut connections = JoinSet::new();
    let mut shutdown = pin!(shutdown);

    loop {
        // Finished connections leave the set here, so that it holds about the open ones.
        while connections.try_join_next().is_some() {}
        let permit = tokio::select! {
            () = &mut shutdown => break,
            permit = Arc::clone(&permits).acquire_owned() => match permit {
                Ok(p) => p,
                // The semaphore is never closed.
                Err(_) => break,
            },
        };
        let accepted = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((stream, peer)) => match &acceptor {
                None => {
                    connections.spawn(serve_connection(
                        Arc::clone(&builder),
                        stream,
                        peer,
                        router.clone(),
                        limits,
                        stopping.clone(),
                        permit,
                    ));
                }
                Some(acceptor) => {
                    connections.spawn(serve_tls_connection(
                        acceptor.clone(),
                        Arc::clone(&builder),
                        stream,
                        peer,
                        router.clone(),
                        limits,
                        stopping.clone(),
                        permit,
                    ));
                }
            },
            // Errors about one connection that went away before it was accepted.
            Err(e) if is_connection_error(&e) => {
                tracing::debug!(error = %e, "accept: connection failed");
            }
            Err(e) => {
                tracing::warn!(error = %e, "accept failed; pausing before the next accept");
                drop(permit);
                tokio::select! {
                    () = &mut shutdown => break,
                    () = tokio::time::sleep(ACCEPT_BACKOFF) => {}
                }
            }
        }
    }

    // Stop accepting, tell every connection to finish, and give them the grace period.
    drop(listener);
    stop.send_replace(true);
    let drained = tokio::time::timeout(limits.shutdown_grace, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            connections = connections.len(),
            "shutdown grace period over; closing the remaining connections"
        );
        connections.shutdown().await;
    }
    Ok(())
}

fn is_connection_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}

/// What `run` needs to serve TLS: the certificate (which the watcher reloads every
/// [`TLS_POLL`] if its files changed) and the metrics that count the reloads.
struct TlsSetup {
    tls: Arc<Tls>,
    metrics: Arc<Metrics>,
}

impl Provider {
    fn tls(&self) -> Option<TlsSetup> {
        let (tls, metrics) = self.tls_state()?;
        Some(TlsSetup { tls, metrics })
    }
}

/// Completes the TLS handshake within the header-read timeout (or drops the connection),
/// then serves the connection.
#[allow(clippy::too_many_arguments)]
async fn serve_tls_connection(
    acceptor: TlsAcceptor,
    builder: Arc<auto::Builder<TokioExecutor>>,
    stream: TcpStream,
    peer: SocketAddr,
    router: Router,
    limits: Limits,
    mut stopping: watch::Receiver<bool>,
    permit: OwnedSemaphorePermit,
) {
    let handshake = tokio::time::timeout(limits.header_read_timeout, acceptor.accept(stream));
    let stream = tokio::select! {
        result = handshake => match result {
            Ok(Ok(stream)) => stream,
            Ok(Err(e)) => {
                tracing::debug!(%peer, error = %e, "TLS handshake failed");
                return;
            }
            Err(_) => {
                tracing::debug!(%peer, "TLS handshake timed out");
                return;
            }
        },
        _ = stopping.wait_for(|stop| *stop) => return,
    };
    serve_connection(builder, stream, peer, router, limits, stopping, permit).await;
}

/// Serves one connection until it ends, is idle too long, or the server stops. Holds its
/// permit until then.
async fn serve_connection<IO>(
    builder: Arc<auto::Builder<TokioExecutor>>,
    stream: IO,
    peer: SocketAddr,
    router: Router,
    limits: Limits,
    mut stopping: watch::Receiver<bool>,
    _permit: OwnedSemaphorePermit,
) where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let activity = Activity::new();
    let in_flight = Arc::clone(&activity);
    let service = hyper::service::service_fn(move |mut request: Request<Incoming>| {
        request.extensions_mut().insert(ConnectInfo(peer));
        let guard = InFlight::start(Arc::clone(&in_flight));
        let router = router.clone();
        async move {
            let response: Result<Response<axum::body::Body>, Infallible> =
                router.oneshot(request).await;
            // In flight until the body is sent (or dropped).
            response.map(|r| {
                r.map(|body| TrackedBody {
                    body,
                    _in_flight: guard,
                })
            })
        }
    });
    let mut connection = pin!(builder.serve_connection(TokioIo::new(stream), service));

    // How long the connection may stay open with no request in flight once asked to close.
    let linger = tokio::select! {
        result = connection.as_mut() => {
            if let Err(e) = result {
                tracing::debug!(%peer, error = %e, "connection ended with an error");
            }
            return;
        }
        () = idle(&activity, activity.base, limits.header_read_timeout, limits.idle_timeout) => {
            tracing::debug!(%peer, "closing an idle connection");
            limits.header_read_timeout
        }
        _ = stopping.wait_for(|stop| *stop) => limits.header_read_timeout.min(SHUTDOWN_LINGER),
    };
    // Requests in flight finish; an idle HTTP/1 connection closes now. A connection that
    // does not close although no request is in flight (a half-sent HTTP/1 head, an HTTP/2
    // peer that does not answer GOAWAY) is dropped after `linger`. The server's shutdown
    // deadline bounds the wait in any case.
    connection.as_mut().graceful_shutdown();
    tokio::select! {
        result = connection.as_mut() => {
            if let Err(e) = result {
                tracing::debug!(%peer, error = %e, "connection ended with an error");
            }
        }
        () = idle(&activity, Instant::now(), linger, linger) => {
            tracing::debug!(%peer, "dropping a connection that did not close when asked");
        }
    }
}

/// Completes once the connection has had no request in flight for its idle time, counted
/// from `since` or from the end of the last request if later: `first` if no request has
/// ended yet, `idle` once one has. Looks at the connection only when a deadline comes.
async fn idle(activity: &Activity, since: Instant, first: Duration, idle: Duration) {
    // A request that ends before `first` is over starts the shorter `idle` clock, so the
    // watchdog looks at least once per `idle`.
    let mut deadline = since + first.min(idle);
    loop {
        tokio::time::sleep_until(deadline).await;
        let now = Instant::now();
        if activity.in_flight.load(Ordering::Acquire) > 0 {
            // Busy: its end moves the deadline; look again in one idle period at the latest.
            deadline = now + idle;
            continue;
        }
        let expires = match activity.last_end() {
            None => since + first,
            Some(end) => end.max(since) + idle,
        };
        if now >= expires {
            return;
        }
        deadline = expires.min(now + idle);
    }
}

pin_project_lite::pin_project! {
    /// A response body that keeps its request counted as in flight until it is dropped.
    struct TrackedBody {
        #[pin]
        body: axum::body::Body,
        _in_flight: InFlight,
    }
}

impl http_body::Body for TrackedBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        self.project().body.poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// What the idle watchdog of one connection needs: the requests in flight and when the
/// last one ended. Plain atomics, so that a request costs two atomic operations and a clock
/// read, not two wake-ups of the watchdog (which reads them only when its deadline comes).
struct Activity {
    base: Instant,
    in_flight: AtomicUsize,
    /// Milliseconds from `base` to the end of the last request, plus one; 0: none yet.
    last_end: AtomicU64,
}

impl Activity {
    fn new() -> Arc<Self> {
        Arc::new(Self {
            base: Instant::now(),
            in_flight: AtomicUsize::new(0),
            last_end: AtomicU64::new(0),
        })
    }

    /// When the last request ended, or `None` if none has.
    fn last_end(&self) -> Option<Instant> {
        match self.last_end.load(Ordering::Acquire) {
            0 => None,
            ms => Some(self.base + Duration::from_millis(ms - 1)),
        }
    }
}

/// Counts a request as in flight from the call of the service until its response body is
/// dropped (sent, or abandoned).
struct InFlight(Arc<Activity>);

impl InFlight {
    fn start(activity: Arc<Activity>) -> Self {
        activity.in_flight.fetch_add(1, Ordering::AcqRel);
        Self(activity)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let ms = u64::try_from(self.0.base.elapsed().as_millis()).unwrap_or(u64::MAX - 1);
        self.0.last_end.store(ms + 1, Ordering::Release);
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::routing::get;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn requests_carry_the_peer_address() {
        let router = Router::new().route(
            "/peer",
            get(|ConnectInfo(peer): ConnectInfo<SocketAddr>| async move { peer.to_string() }),
        );
        let limits = Limits::new(&Config::default());
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(run(listener, router, limits, None, async {
            let _ = stopped.await;
        }));
        let mut s = TcpStream::connect(addr).await.unwrap();
        let local = s.local_addr().unwrap();
        s.write_all(b"GET /peer HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).await.unwrap();
        assert!(out.starts_with("HTTP/1.1 200"), "{out}");
        assert!(out.ends_with(&local.to_string()), "{out} vs {local}");
        stop.send(()).unwrap();
        server.await.unwrap().unwrap();
    }
}
