//! OpenID Connect Back-Channel Logout 1.0, the provider's side: a signed `logout_token`
//! POSTed to each client's `backchannel_logout_uri` when a session it got tokens in ends.
//!
//! Delivery never blocks the response of the request that ended the session: tokens go on
//! a bounded queue (a full queue drops and logs), a worker sends them with a bounded number
//! in flight, each attempt with a timeout, retried twice (after 1 s and 3 s) when the
//! client did not answer or answered 5xx. Redirects are not followed.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use idp_core::Algorithm;
use serde::Serialize;
use tokio::sync::{Semaphore, mpsc};

use crate::issuer::Issuer;
use crate::keys::KeyRing;

/// What signing and sending a back-channel `logout_token` needs.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Notify<'a> {
    pub(crate) issuer: &'a Issuer,
    pub(crate) keys: &'a KeyRing,
    pub(crate) alg: Algorithm,
    pub(crate) backchannel: &'a Backchannel,
}

/// The `events` member that makes a JWT a logout token (§2.4).
const LOGOUT_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";
/// How long a logout token is valid.
const TOKEN_LIFETIME: i64 = 120;
/// Deliveries waiting to be sent; more are dropped (and logged).
const QUEUE: usize = 1024;
/// Deliveries in flight at once.
const IN_FLIGHT: usize = 16;
/// One attempt's timeout.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(5);
/// The pauses before the second and third attempts.
const RETRY_AFTER: [Duration; 2] = [Duration::from_secs(1), Duration::from_secs(3)];

#[derive(Serialize)]
struct LogoutClaims<'a> {
    iss: &'a str,
    aud: &'a str,
    iat: i64,
    exp: i64,
    jti: String,
    sub: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    sid: Option<&'a str>,
    events: serde_json::Value,
}

/// One token for one client.
struct Delivery {
    client_id: String,
    uri: String,
    token: String,
}

/// Deliveries queued or in flight, and a way to wait for none.
#[derive(Debug, Default)]
struct Pending {
    count: AtomicUsize,
    idle: tokio::sync::Notify,
}

impl Pending {
    fn done(&self) {
        if self.count.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.idle.notify_waiters();
        }
    }
}

/// The delivery queue and its worker.
#[derive(Debug)]
pub(crate) struct Backchannel {
    tx: mpsc::Sender<Delivery>,
    pending: Arc<Pending>,
}

impl std::fmt::Debug for Delivery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Delivery")
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

impl Backchannel {
    /// Starts the worker (on the current Tokio runtime).
    pub(crate) fn start() -> Self {
        let (tx, rx) = mpsc::channel(QUEUE);
        let pending = Arc::new(Pending::default());
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(ATTEMPT_TIMEOUT)
            .connect_timeout(ATTEMPT_TIMEOUT)
            .build()
            .unwrap_or_default();
        tokio::spawn(run(rx, http, Arc::clone(&pending)));
        Self { tx, pending }
    }

    fn queue(&self, d: Delivery) {
        self.pending.count.fetch_add(1, Ordering::AcqRel);
        if let Err(e) = self.tx.try_send(d) {
            self.pending.done();
            let d = match e {
                mpsc::error::TrySendError::Full(d) | mpsc::error::TrySendError::Closed(d) => d,
            };
            tracing::warn!(target: "idp::audit", event = "backchannel_logout_dropped", client_id = %d.client_id, "back-channel logout queue full; the client is not told");
        }
    }

    /// Waits until every queued delivery is done, or `limit` has passed; whether none is
    /// left. The command line calls it before it exits.
    pub(crate) async fn drain(&self, limit: Duration) -> bool {
        let wait = async {
            loop {
                let idle = self.pending.idle.notified();
                if self.pending.count.load(Ordering::Acquire) == 0 {
                    return;
                }
                idle.await;
            }
        };
        tokio::time::timeout(limit, wait).await.is_ok()
    }
}

impl Notify<'_> {
    /// Signs a logout token for `client_id` about `sub` (and session `sid`) and queues it.
    pub(crate) fn send(&self, client_id: &str, uri: &str, sub: &str, sid: Option<&str>, now: i64) {
        let claims = LogoutClaims {
            iss: self.issuer.as_str(),
            aud: client_id,
            iat: now,
            exp: now + TOKEN_LIFETIME,
            jti: uuid::Uuid::new_v4().to_string(),
            sub,
            sid,
            events: serde_json::json!({ LOGOUT_EVENT: {} }),
        };
        let signed = self
            .keys
            .snapshot()
            .signer(self.alg, now)
            .ok_or_else(|| format!("no active {} signing key", self.alg))
            .and_then(|k| k.sign_jwt("logout+jwt", &claims).map_err(|e| e.to_string()));
        match signed {
            Ok(token) => self.backchannel.queue(Delivery {
                client_id: client_id.to_owned(),
                uri: uri.to_owned(),
                token,
            }),
            Err(e) => {
                tracing::error!(client_id = %client_id, error = %e, "back-channel logout: cannot sign the logout token");
            }
        }
    }
}

async fn run(mut rx: mpsc::Receiver<Delivery>, http: reqwest::Client, pending: Arc<Pending>) {
    let slots = Arc::new(Semaphore::new(IN_FLIGHT));
    while let Some(d) = rx.recv().await {
        let Ok(slot) = Arc::clone(&slots).acquire_owned().await else {
            break;
        };
        let http = http.clone();
        let pending = Arc::clone(&pending);
        tokio::spawn(async move {
            deliver(&http, &d).await;
            drop(slot);
            pending.done();
        });
    }
}

/// Sends one token: up to three attempts; a 2xx ends it, so does a 4xx (the client refused
/// the token: sending it again changes nothing).
async fn deliver(http: &reqwest::Client, d: &Delivery) {
    let body = form_urlencoded::Serializer::new(String::new())
        .append_pair("logout_token", &d.token)
        .finish();
    for attempt in 0..=RETRY_AFTER.len() {
        if attempt > 0 {
            tokio::time::sleep(RETRY_AFTER[attempt - 1]).await;
        }
        let sent = http
            .post(&d.uri)
            .header(
                http::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .body(body.clone())
            .send()
            .await;
        let outcome = match sent {
            Ok(r) if r.status().is_success() => {
                tracing::info!(target: "idp::audit", event = "backchannel_logout_sent", client_id = %d.client_id, status = r.status().as_u16(), "back-channel logout delivered");
                return;
            }
            Ok(r) if r.status().is_client_error() => {
                tracing::warn!(target: "idp::audit", event = "backchannel_logout_refused", client_id = %d.client_id, status = r.status().as_u16(), "the client refused the logout token");
                return;
            }
            Ok(r) => format!("status {}", r.status().as_u16()),
            Err(e) if e.is_timeout() => "timed out".to_owned(),
            Err(_) => "connection failed".to_owned(),
        };
        tracing::warn!(client_id = %d.client_id, attempt = attempt + 1, outcome = %outcome, "back-channel logout attempt failed");
    }
    tracing::warn!(target: "idp::audit", event = "backchannel_logout_failed", client_id = %d.client_id, "back-channel logout not delivered after three attempts");
}
