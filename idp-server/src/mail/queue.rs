//! The outgoing queue: a request hands a message over and goes on; a worker sends it.
//!
//! Handing over never waits: the queue is bounded and a full queue drops the message with
//! a warning, so neither a slow nor an unreachable mail server shows in a request's time.
//! The worker sends a few messages at once, and tries a message whose failure is
//! transient twice more (after 1 s and 5 s).

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::{Semaphore, mpsc};

use super::message::{Mailer, Message};
use crate::error::loggable;

/// Messages sent at once.
const IN_FLIGHT: usize = 4;
/// The pauses before the second and third attempts.
const RETRY_AFTER: [Duration; 2] = [Duration::from_secs(1), Duration::from_secs(5)];

/// Messages queued or being sent, and a way to wait for none.
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

/// A bounded queue of outgoing messages in front of a [`Mailer`], drained by a background
/// task. What the provider uses for every message; cheap to clone (clones share the queue).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// # #[derive(Debug)] struct Nowhere;
/// # #[async_trait::async_trait]
/// # impl idp_server::mail::Mailer for Nowhere {
/// #     async fn send(&self, _: &Message) -> Result<(), idp_server::mail::MailError> { Ok(()) }
/// # }
/// use std::{sync::Arc, time::Duration};
/// use idp_server::mail::{MailQueue, Message};
///
/// let queue = MailQueue::start(Arc::new(Nowhere), 100);
/// assert!(queue.send(Message::new("ada@example.com", "Hello", "Hello, Ada.", "<p>Hello, Ada.</p>")));
/// assert!(queue.drain(Duration::from_secs(5)).await);
/// # }
/// ```
#[derive(Clone)]
pub struct MailQueue {
    tx: mpsc::Sender<Message>,
    pending: Arc<Pending>,
    mailer: Arc<dyn Mailer>,
}

impl fmt::Debug for MailQueue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MailQueue")
            .field("mailer", &self.mailer)
            .field("pending", &self.pending.count.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl MailQueue {
    /// A queue of at most `capacity` waiting messages (at least 1) in front of `mailer`,
    /// with its worker started on the current Tokio runtime.
    ///
    /// # Panics
    ///
    /// Outside a Tokio runtime.
    #[track_caller]
    pub fn start(mailer: Arc<dyn Mailer>, capacity: usize) -> Self {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        let pending = Arc::new(Pending::default());
        tokio::spawn(run(rx, Arc::clone(&mailer), Arc::clone(&pending)));
        Self {
            tx,
            pending,
            mailer,
        }
    }

    /// Queues `message` without waiting; `false` when the queue is full (the message is
    /// dropped, and a warning logged).
    pub fn send(&self, message: Message) -> bool {
        self.pending.count.fetch_add(1, Ordering::AcqRel);
        match self.tx.try_send(message) {
            Ok(()) => true,
            Err(e) => {
                self.pending.done();
                let m = match e {
                    mpsc::error::TrySendError::Full(m) | mpsc::error::TrySendError::Closed(m) => m,
                };
                tracing::warn!(
                    to = ?loggable(m.to()),
                    subject = ?loggable(m.subject()),
                    "mail queue full: message dropped"
                );
                false
            }
        }
    }

    /// Waits until every message queued so far is sent or given up, or `limit` has passed;
    /// whether none is left.
    pub async fn drain(&self, limit: Duration) -> bool {
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

async fn run(mut rx: mpsc::Receiver<Message>, mailer: Arc<dyn Mailer>, pending: Arc<Pending>) {
    let slots = Arc::new(Semaphore::new(IN_FLIGHT));
    while let Some(m) = rx.recv().await {
        let Ok(slot) = Arc::clone(&slots).acquire_owned().await else {
            break;
        };
        let mailer = Arc::clone(&mailer);
        let pending = Arc::clone(&pending);
        tokio::spawn(async move {
            deliver(mailer.as_ref(), &m).await;
            drop(slot);
            pending.done();
        });
    }
}

/// Up to three attempts; a permanent failure ends it at once.
async fn deliver(mailer: &dyn Mailer, m: &Message) {
    for attempt in 0..=RETRY_AFTER.len() {
        if attempt > 0 {
            tokio::time::sleep(RETRY_AFTER[attempt - 1]).await;
        }
        match mailer.send(m).await {
            Ok(()) => {
                tracing::debug!(to = ?loggable(m.to()), subject = ?loggable(m.subject()), "mail sent");
                return;
            }
            Err(e) if e.is_transient() && attempt < RETRY_AFTER.len() => {
                tracing::warn!(to = ?loggable(m.to()), attempt = attempt + 1, error = %e, "sending mail failed; trying again");
            }
            Err(e) => {
                tracing::warn!(to = ?loggable(m.to()), subject = ?loggable(m.subject()), attempts = attempt + 1, error = %e, "mail not sent");
                return;
            }
        }
    }
}
