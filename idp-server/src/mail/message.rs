//! One e-mail, the [`Mailer`] trait that sends it, and how it becomes an RFC 5322 message.

use std::fmt;

use lettre::message::header::ContentType;
use lettre::message::{Body, Mailbox, MultiPart, SinglePart};

/// One e-mail to one recipient, with a plain-text and an HTML body (sent as
/// `multipart/alternative`). The sender is the [`Mailer`]'s to choose.
///
/// `Debug` shows the recipient and the subject only: the bodies carry single-use links.
#[derive(Clone, PartialEq, Eq)]
pub struct Message {
    to: String,
    subject: String,
    text: String,
    html: String,
}

impl Message {
    /// A message to the address `to` (`ada@example.com`, or `Ada <ada@example.com>`).
    pub fn new(
        to: impl Into<String>,
        subject: impl Into<String>,
        text: impl Into<String>,
        html: impl Into<String>,
    ) -> Self {
        Self {
            to: to.into(),
            subject: subject.into(),
            text: text.into(),
            html: html.into(),
        }
    }

    /// The recipient.
    pub fn to(&self) -> &str {
        &self.to
    }

    /// The subject line.
    pub fn subject(&self) -> &str {
        &self.subject
    }

    /// The plain-text body.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The HTML body.
    pub fn html(&self) -> &str {
        &self.html
    }
}

impl fmt::Debug for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Message")
            .field("to", &self.to)
            .field("subject", &self.subject)
            .finish_non_exhaustive()
    }
}

/// Sends e-mail: SMTP ([`SmtpMailer`](super::SmtpMailer)), the `--dev` outbox
/// ([`DevMailer`](super::DevMailer)), or a transport of your own given to
/// [`ProviderBuilder::mailer`](crate::ProviderBuilder::mailer).
///
/// The provider never calls it while a request waits: messages go through a bounded queue
/// ([`MailQueue`](super::MailQueue)) whose worker calls `send`, and retries a
/// [transient](MailError::transient) failure.
///
/// ```
/// use idp_server::mail::{MailError, Mailer, Message};
///
/// #[derive(Debug)]
/// struct Printer;
///
/// #[async_trait::async_trait]
/// impl Mailer for Printer {
///     async fn send(&self, message: &Message) -> Result<(), MailError> {
///         println!("to {}: {}", message.to(), message.subject());
///         Ok(())
///     }
/// }
/// ```
#[async_trait::async_trait]
pub trait Mailer: fmt::Debug + Send + Sync + 'static {
    /// Sends one message, or says why not.
    async fn send(&self, message: &Message) -> Result<(), MailError>;
}

/// Why a message was not sent: transient (try again later: a timeout, a `4xx` reply, no
/// connection) or permanent (a `5xx` reply, an address that does not parse).
#[derive(Debug)]
pub struct MailError {
    transient: bool,
    source: Box<dyn std::error::Error + Send + Sync>,
}

impl MailError {
    /// A failure that may pass: the queue tries the message again.
    pub fn transient(source: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Self {
            transient: true,
            source: source.into(),
        }
    }

    /// A failure that will not pass: the message is given up.
    pub fn permanent(source: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Self {
            transient: false,
            source: source.into(),
        }
    }

    /// Whether trying again may help.
    pub fn is_transient(&self) -> bool {
        self.transient
    }
}

impl fmt::Display for MailError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = if self.transient {
            "transient"
        } else {
            "permanent"
        };
        write!(f, "{kind} mail failure: {}", self.source)
    }
}

impl std::error::Error for MailError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(self.source.as_ref())
    }
}

/// The longest line of a 7-bit body, CRLF excluded (RFC 5322 §2.1.1).
const MAX_7BIT_LINE: usize = 998;

/// A body as 7-bit text when it can be (ASCII without NUL or lone CR, lines of at most 998
/// characters), so that a long link stays whole and copyable in the raw message (lettre
/// would pick quoted-printable for lines over 76 characters); quoted-printable or base64
/// otherwise.
fn body(text: &str) -> Body {
    let seven_bit = text.bytes().all(|b| b.is_ascii() && b != 0 && b != b'\r')
        && text.lines().all(|l| l.len() <= MAX_7BIT_LINE);
    if !seven_bit {
        return Body::new(text.to_owned());
    }
    let mut crlf = String::with_capacity(text.len() + text.len() / 40);
    for line in text.split_inclusive('\n') {
        match line.strip_suffix('\n') {
            Some(l) => {
                crlf.push_str(l);
                crlf.push_str("\r\n");
            }
            None => crlf.push_str(line),
        }
    }
    Body::dangerous_pre_encoded(
        crlf.into_bytes(),
        lettre::message::header::ContentTransferEncoding::SevenBit,
    )
}

/// The RFC 5322 message from `from` to the message's recipient: `multipart/alternative`
/// with the plain text first.
pub(crate) fn build(from: &Mailbox, m: &Message) -> Result<lettre::Message, MailError> {
    let to: Mailbox =
        m.to.parse()
            .map_err(|e| MailError::permanent(format!("recipient address: {e}")))?;
    let alternative = MultiPart::alternative()
        .singlepart(
            SinglePart::builder()
                .header(ContentType::TEXT_PLAIN)
                .body(body(&m.text)),
        )
        .singlepart(
            SinglePart::builder()
                .header(ContentType::TEXT_HTML)
                .body(body(&m.html)),
        );
    lettre::Message::builder()
        .from(from.clone())
        .to(to)
        // One line, whatever a custom caller put in it.
        .subject(
            m.subject
                .chars()
                .filter(|c| !c.is_control())
                .collect::<String>(),
        )
        .multipart(alternative)
        .map_err(|e| MailError::permanent(format!("message: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_messages_keep_links_readable_and_debug_hides_bodies() {
        let from: Mailbox = "Idp <idp@example.com>".parse().unwrap();
        let link = format!("https://id.example.com/verify?token={}", "a".repeat(120));
        let m = Message::new(
            "ada@example.com",
            "Verify your address",
            format!("Open {link}\n"),
            format!("<a href=\"{link}\">Verify</a>"),
        );
        let raw = String::from_utf8(build(&from, &m).unwrap().formatted()).unwrap();
        assert!(raw.contains("To: ada@example.com"), "{raw}");
        assert!(raw.contains("Subject: Verify your address"), "{raw}");
        assert!(raw.contains("multipart/alternative"), "{raw}");
        assert!(raw.contains(&format!("Open {link}\r\n")), "{raw}");
        assert!(raw.contains("Content-Transfer-Encoding: 7bit"), "{raw}");
        // Not ASCII: encoded, and still the same text once decoded.
        let m8 = Message::new("ada@example.com", "Zoë", "Grüße\n", "<p>Grüße</p>");
        let raw8 = String::from_utf8(build(&from, &m8).unwrap().formatted()).unwrap();
        assert!(!raw8.contains("Grüße"), "{raw8}");
        assert!(!raw8.contains("7bit"), "{raw8}");
        let shown = format!("{m:?}");
        assert!(
            shown.contains("ada@example.com") && !shown.contains("token"),
            "{shown}"
        );

        let injected = Message::new("ada@example.com", "Hi\r\nBcc: eve@example.com", "t", "h");
        let raw = String::from_utf8(build(&from, &injected).unwrap().formatted()).unwrap();
        assert!(!raw.contains("\r\nBcc:"), "{raw}");

        let bad = Message::new("not an address", "s", "t", "h");
        let e = build(&from, &bad).unwrap_err();
        assert!(!e.is_transient(), "{e}");
    }
}
