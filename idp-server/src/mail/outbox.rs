//! What the provider's state holds: the templates and, when a mailer is configured, the
//! queue in front of it. The one call a handler makes is [`Outbox::send`].

use std::sync::Arc;
use std::time::Duration;

use super::message::Mailer;
use super::queue::MailQueue;
use super::templates::{MailContext, MailKind, MailTemplates};
use crate::error::loggable;

/// How many messages may wait for the mailer; more are dropped with a warning.
const QUEUE_CAPACITY: usize = 1024;

/// The provider's outgoing mail.
#[derive(Debug)]
pub(crate) struct Outbox {
    templates: MailTemplates,
    queue: Option<MailQueue>,
}

impl Outbox {
    /// With `mailer` behind a queue, or none (messages are dropped with a warning).
    pub(crate) fn new(templates: MailTemplates, mailer: Option<Arc<dyn Mailer>>) -> Self {
        Self {
            templates,
            queue: mailer.map(|m| MailQueue::start(m, QUEUE_CAPACITY)),
        }
    }

    /// Whether a mailer is configured (`[smtp]`, `--dev`, or one given in code). Features
    /// that depend on mail (registration, password reset) check it when they start.
    #[expect(dead_code, reason = "the account pages (issue 15) check it")]
    pub(crate) fn is_enabled(&self) -> bool {
        self.queue.is_some()
    }

    /// Renders the message of `kind` for `to` and queues it, without waiting for the mail
    /// server. `false`: not queued (no mailer, a full queue, a template failure), and
    /// logged without the message's links.
    pub(crate) fn send(&self, kind: MailKind, to: &str, ctx: &MailContext) -> bool {
        let Some(queue) = &self.queue else {
            tracing::warn!(kind = kind.name(), to = ?loggable(to), "no mailer configured (set [smtp]): message not sent");
            return false;
        };
        match self.templates.render(kind, to, ctx) {
            Ok(m) => queue.send(m),
            Err(e) => {
                tracing::error!(kind = kind.name(), error = %e, "cannot render a mail template");
                false
            }
        }
    }

    /// Waits (up to `limit`) until the messages queued so far are sent or given up.
    pub(crate) async fn drain(&self, limit: Duration) -> bool {
        match &self.queue {
            Some(q) => q.drain(limit).await,
            None => true,
        }
    }
}
