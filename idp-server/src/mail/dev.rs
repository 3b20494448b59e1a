//! The `idp serve --dev` mailer: each message is a file in an outbox folder, and a log line
//! that names its recipient and subject (never its links).

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use lettre::message::Mailbox;

use super::message::{MailError, Mailer, Message, build};
use crate::Error;
use crate::error::loggable;

/// Writes each message as an RFC 5322 file (`.eml`, which mail programs open) to an
/// outbox folder, and logs its recipient and subject. For development: nothing leaves the
/// machine. The files hold the messages' single-use links; the folder is readable by its
/// owner only.
///
/// ```
/// # fn main() -> Result<(), idp_server::Error> {
/// # let dir = std::env::temp_dir().join(format!("idp-doc-outbox-{}", std::process::id()));
/// use idp_server::mail::DevMailer;
/// let mailer = DevMailer::new(&dir)?;
/// assert!(mailer.outbox().is_dir());
/// # std::fs::remove_dir_all(&dir)?; Ok(()) }
/// ```
pub struct DevMailer {
    outbox: PathBuf,
    from: Mailbox,
    sequence: AtomicU64,
}

impl fmt::Debug for DevMailer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DevMailer")
            .field("outbox", &self.outbox)
            .finish_non_exhaustive()
    }
}

impl DevMailer {
    /// A mailer writing to `outbox`, which is created (owner-only) when missing.
    pub fn new(outbox: impl Into<PathBuf>) -> Result<Self, Error> {
        let outbox = outbox.into();
        let mut dir = std::fs::DirBuilder::new();
        dir.recursive(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::DirBuilderExt;
            dir.mode(0o700);
        }
        dir.create(&outbox)
            .map_err(|e| Error::Config(format!("mail outbox {}: {e}", outbox.display())))?;
        Ok(Self {
            outbox,
            from: Mailbox::new(
                Some("idp (dev)".into()),
                lettre::Address::new("no-reply", "localhost")
                    .map_err(|e| Error::Config(format!("dev mailer sender: {e}")))?,
            ),
            sequence: AtomicU64::new(0),
        })
    }

    /// The folder the messages are written to.
    pub fn outbox(&self) -> &Path {
        &self.outbox
    }
}

/// Writes `bytes` to a new file at `path`, readable by its owner only.
fn write_new(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    opts.open(path)?.write_all(bytes)
}

#[async_trait::async_trait]
impl Mailer for DevMailer {
    async fn send(&self, message: &Message) -> Result<(), MailError> {
        let bytes = build(&self.from, message)?.formatted();
        let millis = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis());
        let n = self.sequence.fetch_add(1, Ordering::Relaxed);
        let path = self
            .outbox
            .join(format!("{millis}-{}-{n}.eml", std::process::id()));
        let target = path.clone();
        tokio::task::spawn_blocking(move || write_new(&target, &bytes))
            .await
            .map_err(MailError::transient)?
            .map_err(MailError::transient)?;
        tracing::info!(
            to = ?loggable(message.to()),
            subject = ?loggable(message.subject()),
            file = %path.display(),
            "dev mailer: message written to the outbox"
        );
        Ok(())
    }
}
