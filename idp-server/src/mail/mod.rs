//! E-mail: the [`Mailer`] trait and its implementations ([`SmtpMailer`], the `--dev`
//! [`DevMailer`]), the bounded [`MailQueue`] in front of them, and the message templates
//! ([`MailTemplates`], one per [`MailKind`]).
//!
//! The provider holds one mailer: the one given to
//! [`ProviderBuilder::mailer`](crate::ProviderBuilder::mailer), else an [`SmtpMailer`] for
//! the configuration's `[smtp]` section ([`SmtpConfig`]), else none. Messages go through
//! the queue, so that no request waits for the mail server.

mod dev;
mod message;
mod outbox;
mod queue;
mod smtp;
mod templates;

pub use dev::DevMailer;
pub use message::{MailError, Mailer, Message};
pub(crate) use outbox::Outbox;
pub use queue::MailQueue;
pub use smtp::{SmtpConfig, SmtpMailer, SmtpTls};
pub use templates::{MailContext, MailKind, MailTemplates};
