//! `Provider::serve` under connections that misbehave, against the real server on loopback:
//! half-sent request heads, silent and idle connections, more connections than the cap, and
//! shutdown with connections open. Socket counts stay well below the descriptor limit.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use idp_server::store::MemoryStore;
use idp_server::{Error, Provider, ProviderBuilder};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio::time::{Instant, timeout};

use crate::common::KEY;

const LIVE: &[u8] = b"GET /health/live HTTP/1.1\r\nHost: x\r\n\r\n";
/// A request head without its final blank line: the server waits for the rest.
const HALF_HEAD: &[u8] = b"GET /health/live HTTP/1.1\r\nHost: x\r\n";

/// A provider served by `Provider::serve` on 127.0.0.1:0.
struct Served {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<Result<(), Error>>,
}

impl Served {
    async fn start(configure: impl FnOnce(ProviderBuilder) -> ProviderBuilder) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let builder = Provider::builder()
            .issuer(format!("http://{addr}"))
            .store(Arc::new(MemoryStore::new()))
            .encryption_key(KEY);
        let provider = configure(builder).build().await.unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(provider.serve(listener, async {
            let _ = stopped.await;
        }));
        Self {
            addr,
            stop: Some(stop),
            task,
        }
    }

    async fn connect(&self) -> TcpStream {
        TcpStream::connect(self.addr).await.unwrap()
    }

    /// Sends the shutdown signal; the server task is `self.task`.
    fn signal_shutdown(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Reads one HTTP/1 response (head and a `Content-Length` body); returns its head.
async fn read_response(s: &mut TcpStream) -> String {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = s.read(&mut chunk).await.unwrap();
        assert!(n > 0, "EOF before a whole response head: {buf:?}");
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let len: usize = head
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse().unwrap())
        })
        .unwrap_or(0);
    while buf.len() < head_end + len {
        let n = s.read(&mut chunk).await.unwrap();
        assert!(n > 0, "EOF inside a response body");
        buf.extend_from_slice(&chunk[..n]);
    }
    head
}

/// `GET /health/live` on a new connection; returns the status line.
async fn live(served: &Served) -> String {
    let mut s = served.connect().await;
    s.write_all(LIVE).await.unwrap();
    let head = read_response(&mut s).await;
    head.lines().next().unwrap_or_default().to_owned()
}

/// Reads until the server closes the connection; returns the bytes it sent before. A
/// reset counts as closed too (the peer is gone either way).
async fn read_until_closed(s: &mut TcpStream) -> Vec<u8> {
    let mut out = Vec::new();
    let mut chunk = [0u8; 1024];
    loop {
        match s.read(&mut chunk).await {
            Ok(0) => return out,
            Ok(n) => out.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return out,
            Err(e) => panic!("read: {e}"),
        }
    }
}

#[tokio::test]
async fn half_sent_heads_do_not_starve_a_normal_request_and_are_closed_after_the_timeout() {
    let header_timeout = Duration::from_millis(300);
    let served = Served::start(|b| {
        b.max_connections(600)
            .header_read_timeout(header_timeout)
            .idle_timeout(Duration::from_secs(30))
    })
    .await;
    let started = Instant::now();
    let mut half_open = Vec::with_capacity(500);
    for _ in 0..500 {
        let mut s = served.connect().await;
        s.write_all(HALF_HEAD).await.unwrap();
        half_open.push(s);
    }
    // All 500 are open and waiting; a normal request is still answered at once.
    let status = timeout(Duration::from_secs(1), live(&served))
        .await
        .expect("a normal request was not answered within a second");
    assert_eq!(status, "HTTP/1.1 200 OK");
    // The server closes each half-open socket once its header-read timeout is over.
    let deadline = Instant::now() + Duration::from_secs(10);
    for s in &mut half_open {
        tokio::time::timeout_at(deadline, read_until_closed(s))
            .await
            .expect("a half-sent head was not closed by the server");
    }
    assert!(started.elapsed() >= header_timeout);
    // And the server still serves.
    assert_eq!(live(&served).await, "HTTP/1.1 200 OK");
}

#[tokio::test]
async fn connections_that_send_nothing_or_only_the_http2_preface_are_closed() {
    let header_timeout = Duration::from_millis(300);
    let served = Served::start(|b| {
        b.header_read_timeout(header_timeout)
            .idle_timeout(Duration::from_secs(30))
    })
    .await;
    let started = Instant::now();
    let silent = served.connect().await;
    let mut h2 = served.connect().await;
    // The HTTP/2 client preface and an empty SETTINGS frame, then no request.
    h2.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00")
        .await
        .unwrap();
    for mut s in [silent, h2] {
        timeout(Duration::from_secs(5), read_until_closed(&mut s))
            .await
            .expect("a connection without a request was not closed");
    }
    assert!(started.elapsed() >= header_timeout);
}

#[tokio::test]
async fn beyond_max_connections_a_connection_waits_until_one_closes() {
    const N: usize = 3;
    let served = Served::start(|b| {
        b.max_connections(N)
            .header_read_timeout(Duration::from_secs(30))
            .idle_timeout(Duration::from_secs(30))
    })
    .await;
    // N kept-alive connections, each served once and left open.
    let mut open = Vec::new();
    for _ in 0..N {
        let mut s = served.connect().await;
        s.write_all(LIVE).await.unwrap();
        read_response(&mut s).await;
        open.push(s);
    }
    // The N+1-th: the kernel completes the handshake (backlog), the server does not serve.
    let mut extra = served.connect().await;
    extra.write_all(LIVE).await.unwrap();
    let mut one = [0u8; 1];
    assert!(
        timeout(Duration::from_millis(500), extra.read(&mut one))
            .await
            .is_err(),
        "the connection beyond the cap was served"
    );
    // One of the N closes: the waiting connection is accepted and answered.
    drop(open.pop());
    let head = timeout(Duration::from_secs(5), read_response(&mut extra))
        .await
        .expect("the waiting connection was not served after a slot freed");
    assert!(head.starts_with("HTTP/1.1 200 OK"), "{head}");
}

#[tokio::test]
async fn an_idle_kept_alive_connection_is_closed_after_the_idle_timeout() {
    let idle = Duration::from_millis(300);
    // The header-read timeout is far longer, so what closes the connection is the idle one.
    let served = Served::start(|b| {
        b.idle_timeout(idle)
            .header_read_timeout(Duration::from_secs(30))
    })
    .await;
    let mut s = served.connect().await;
    // Two requests on one connection, the second after a pause shorter than the timeout.
    s.write_all(LIVE).await.unwrap();
    read_response(&mut s).await;
    tokio::time::sleep(idle / 3).await;
    s.write_all(LIVE).await.unwrap();
    let head = read_response(&mut s).await;
    assert!(head.starts_with("HTTP/1.1 200 OK"), "{head}");
    let last_answer = Instant::now();
    let rest = timeout(Duration::from_secs(5), read_until_closed(&mut s))
        .await
        .expect("the idle connection was not closed");
    assert!(rest.is_empty(), "{rest:?}");
    assert!(last_answer.elapsed() >= idle - Duration::from_millis(50));
}

#[tokio::test]
async fn shutdown_ends_within_the_grace_period_despite_open_connections() {
    let grace = Duration::from_secs(1);
    let mut served = Served::start(|b| {
        b.shutdown_grace(grace)
            .header_read_timeout(Duration::from_secs(60))
            .idle_timeout(Duration::from_secs(60))
    })
    .await;
    // An idle kept-alive connection, a half-sent head, and a request whose body never
    // comes (in flight until the deadline drops it).
    let mut idle = served.connect().await;
    idle.write_all(LIVE).await.unwrap();
    read_response(&mut idle).await;
    let mut half = served.connect().await;
    half.write_all(HALF_HEAD).await.unwrap();
    let mut stuck = served.connect().await;
    stuck
        .write_all(
            b"POST /oauth/token HTTP/1.1\r\nHost: x\r\n\
              Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\n\
              grant_type=",
        )
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;

    served.signal_shutdown();
    let result = timeout(grace + Duration::from_secs(2), &mut served.task)
        .await
        .expect("the server did not stop within the grace period");
    result.unwrap().unwrap();
    // Every connection was closed, and the listener is gone.
    for s in [&mut idle, &mut half, &mut stuck] {
        timeout(Duration::from_secs(1), read_until_closed(s))
            .await
            .expect("a connection outlived the server");
    }
    assert!(TcpStream::connect(served.addr).await.is_err());
}

#[tokio::test]
async fn requests_in_flight_complete_on_graceful_shutdown() {
    let mut served = Served::start(|b| b.shutdown_grace(Duration::from_secs(10))).await;
    let body = b"grant_type=client_credentials&client_id=nobody&client_secret=x";
    let mut s = served.connect().await;
    let head = format!(
        "POST /oauth/token HTTP/1.1\r\nHost: x\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).await.unwrap();
    s.write_all(&body[..10]).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;

    // Shutdown starts while the request is in flight (its body half sent).
    served.signal_shutdown();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!served.task.is_finished());
    s.write_all(&body[10..]).await.unwrap();
    let head = timeout(Duration::from_secs(5), read_response(&mut s))
        .await
        .expect("the request in flight was not answered");
    // Answered (the client is unknown), and told that the connection closes.
    assert!(head.starts_with("HTTP/1.1 401"), "{head}");
    assert!(
        head.to_ascii_lowercase().contains("connection: close"),
        "{head}"
    );
    timeout(Duration::from_secs(5), read_until_closed(&mut s))
        .await
        .expect("the connection was not closed after its last response");
    timeout(Duration::from_secs(5), &mut served.task)
        .await
        .expect("the server did not stop after the last request")
        .unwrap()
        .unwrap();
}
