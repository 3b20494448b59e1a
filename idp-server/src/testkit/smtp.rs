//! An SMTP server for tests: it listens on `127.0.0.1:0`, accepts every message (RFC 5321:
//! EHLO/HELO, AUTH PLAIN/LOGIN with any credentials, MAIL, RCPT, DATA, RSET, NOOP,
//! QUIT), keeps what it received, and lets a test wait for the next message.

use std::collections::VecDeque;
use std::fmt;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, Semaphore};

use crate::mail::{SmtpConfig, SmtpTls};

/// The longest command or data line read, CRLF included (RFC 5321 §4.5.3.1 asks for 512
/// and 1000; more is tolerated, up to this).
const MAX_LINE: usize = 8 * 1024;
/// The largest message accepted (advertised as `SIZE`).
const MAX_MESSAGE: usize = 1024 * 1024;
/// Recipients of one message.
const MAX_RECIPIENTS: usize = 100;
/// Messages kept; the oldest go first.
const MAX_KEPT: usize = 1000;
/// Connections served at once.
const MAX_CONNECTIONS: usize = 32;
/// How long a client may stay silent.
const IDLE: Duration = Duration::from_secs(30);
/// Commands refused on one connection before it is closed.
const MAX_ERRORS: usize = 10;
/// How deep multipart bodies are read.
const MAX_DEPTH: usize = 4;

/// What the sink keeps: every message, the ones not yet taken by
/// [`SmtpSink::next_message`], and how many of the next messages to refuse.
#[derive(Debug, Default)]
struct Inbox {
    all: Mutex<VecDeque<ReceivedMail>>,
    unread: Mutex<VecDeque<ReceivedMail>>,
    arrived: Notify,
    refuse: AtomicUsize,
}

impl Inbox {
    fn push(&self, m: ReceivedMail) {
        for q in [&self.all, &self.unread] {
            let mut q = q.lock().unwrap_or_else(PoisonError::into_inner);
            if q.len() == MAX_KEPT {
                q.pop_front();
            }
            q.push_back(m.clone());
        }
        self.arrived.notify_waiters();
    }

    fn pop(&self) -> Option<ReceivedMail> {
        self.unread
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop_front()
    }

    /// Whether to refuse this message (and count it).
    fn take_refusal(&self) -> bool {
        self.refuse
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1))
            .is_ok()
    }
}

/// An SMTP server on `127.0.0.1` for tests: point the provider's `[smtp]` at it
/// ([`SmtpSink::smtp_config`]) and read what it sends, verification and reset links
/// included. Stops when dropped.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use std::{sync::Arc, time::Duration};
/// use idp_server::mail::{MailContext, MailKind, SmtpMailer};
/// use idp_server::testkit::{SmtpSink, TestProvider};
///
/// let sink = SmtpSink::start().await?;
/// let idp = TestProvider::builder()
///     .configure({
///         let smtp = sink.smtp_config("id@example.com");
///         move |b| b.smtp(smtp)
///     })
///     .start()
///     .await?;
/// let ctx = MailContext::new("Example").link("https://id.example.com/verify?token=abc");
/// assert!(idp.provider().send_mail(MailKind::VerifyEmail, "ada@example.com", &ctx));
/// let mail = sink.next_message(Duration::from_secs(10)).await.expect("a message");
/// assert_eq!(mail.recipients(), ["ada@example.com"]);
/// assert_eq!(mail.links(), ["https://id.example.com/verify?token=abc"]);
/// # Ok(()) }
/// ```
pub struct SmtpSink {
    addr: SocketAddr,
    inbox: Arc<Inbox>,
    task: tokio::task::JoinHandle<()>,
}

impl fmt::Debug for SmtpSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpSink")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl SmtpSink {
    /// Starts the server on `127.0.0.1:0`.
    pub async fn start() -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let inbox = Arc::new(Inbox::default());
        let task = tokio::spawn(accept(listener, Arc::clone(&inbox)));
        Ok(Self { addr, inbox, task })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `[smtp]` settings that send to this sink as `from_address` (no TLS: loopback).
    pub fn smtp_config(&self, from_address: &str) -> SmtpConfig {
        SmtpConfig::new(self.addr.ip().to_string(), from_address)
            .port(self.addr.port())
            .tls(SmtpTls::None)
            .timeout(Duration::from_secs(5))
    }

    /// The oldest message not yet taken, waiting up to `timeout` for one to arrive;
    /// `None` if none did.
    pub async fn next_message(&self, timeout: Duration) -> Option<ReceivedMail> {
        let wait = async {
            loop {
                let arrived = self.inbox.arrived.notified();
                if let Some(m) = self.inbox.pop() {
                    return m;
                }
                arrived.await;
            }
        };
        tokio::time::timeout(timeout, wait).await.ok()
    }

    /// Every message received so far (the last 1000), oldest first.
    pub fn messages(&self) -> Vec<ReceivedMail> {
        self.inbox
            .all
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .cloned()
            .collect()
    }

    /// Answers the next `n` messages with `451 4.3.0` (try again later) after their data,
    /// as a busy server does: for testing retries.
    pub fn refuse_next(&self, n: usize) {
        self.inbox.refuse.store(n, Ordering::Release);
    }
}

/// One message as received, with its envelope.
#[derive(Clone)]
pub struct ReceivedMail {
    envelope_from: String,
    recipients: Vec<String>,
    auth_user: Option<String>,
    raw: String,
    headers: Vec<(String, String)>,
    text: Option<String>,
    html: Option<String>,
}

impl fmt::Debug for ReceivedMail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReceivedMail")
            .field("recipients", &self.recipients)
            .field("subject", &self.subject())
            .finish_non_exhaustive()
    }
}

impl ReceivedMail {
    /// The envelope sender (`MAIL FROM`).
    pub fn envelope_from(&self) -> &str {
        &self.envelope_from
    }

    /// The envelope recipients (`RCPT TO`).
    pub fn recipients(&self) -> &[String] {
        &self.recipients
    }

    /// The user name the client authenticated as, if it did (any password is accepted).
    pub fn auth_user(&self) -> Option<&str> {
        self.auth_user.as_deref()
    }

    /// The message as received, after dot-unstuffing.
    pub fn raw(&self) -> &str {
        &self.raw
    }

    /// The first header of that name (case-insensitive), unfolded, encoded words
    /// (RFC 2047) decoded.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The `Subject` header, decoded.
    pub fn subject(&self) -> Option<&str> {
        self.header("Subject")
    }

    /// The first `text/plain` part (or body), transfer encoding decoded.
    pub fn text(&self) -> Option<&str> {
        self.text.as_deref()
    }

    /// The first `text/html` part, transfer encoding decoded.
    pub fn html(&self) -> Option<&str> {
        self.html.as_deref()
    }

    /// The `http` and `https` links in the plain text, in order: the verification or reset
    /// link a test follows.
    pub fn links(&self) -> Vec<String> {
        let text = self.text.as_deref().unwrap_or_default();
        let mut out = Vec::new();
        let mut rest = text;
        while let Some(i) = rest.find("http") {
            let candidate = &rest[i..];
            let end = candidate
                .find(|c: char| c.is_whitespace() || matches!(c, '<' | '>' | '"'))
                .unwrap_or(candidate.len());
            let link = &candidate[..end];
            if link.starts_with("https://") || link.starts_with("http://") {
                out.push(link.to_owned());
            }
            rest = &candidate[end.max(4)..];
        }
        out
    }
}

async fn accept(listener: TcpListener, inbox: Arc<Inbox>) {
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let Ok(slot) = Arc::clone(&slots).acquire_owned().await else {
            return;
        };
        let Ok((stream, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let inbox = Arc::clone(&inbox);
        tokio::spawn(async move {
            let _ = session(stream, &inbox).await;
            drop(slot);
        });
    }
}

/// A line read within the bounds: `Ok(None)` at the end of the stream, an error when the
/// line is too long or the client too slow.
async fn read_line<R: AsyncBufRead + Unpin>(
    r: &mut R,
    buf: &mut Vec<u8>,
) -> std::io::Result<Option<()>> {
    buf.clear();
    let n = tokio::time::timeout(IDLE, r.take(MAX_LINE as u64).read_until(b'\n', buf))
        .await
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "idle"))??;
    if n == 0 {
        return Ok(None);
    }
    if !buf.ends_with(b"\n") {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "line too long",
        ));
    }
    Ok(Some(()))
}

/// The address inside `<…>` of `MAIL FROM:<a>` / `RCPT TO:<a>` (parameters after it
/// ignored); `None` when malformed.
fn path_arg(rest: &str) -> Option<String> {
    let rest = rest.trim_start();
    let open = rest.strip_prefix('<')?;
    let close = open.find('>')?;
    Some(open[..close].to_owned())
}

/// The user name of an `AUTH PLAIN` response (`authzid NUL authcid NUL password`).
fn plain_user(b64: &str) -> Option<String> {
    let bytes = STANDARD.decode(b64.trim()).ok()?;
    let mut parts = bytes.split(|b| *b == 0);
    let _authz = parts.next()?;
    let user = parts.next()?;
    parts.next()?;
    String::from_utf8(user.to_vec()).ok()
}

/// One SMTP session.
async fn session(stream: TcpStream, inbox: &Inbox) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut r = BufReader::new(read);
    let mut line = Vec::new();
    write
        .write_all(b"220 idp-test-sink ESMTP ready\r\n")
        .await?;
    let mut from: Option<String> = None;
    let mut rcpts: Vec<String> = Vec::new();
    let mut auth_user: Option<String> = None;
    let mut errors = 0;
    loop {
        match read_line(&mut r, &mut line).await {
            Ok(Some(())) => {}
            Ok(None) => return Ok(()),
            Err(e) => {
                let _ = write
                    .write_all(b"500 5.5.6 line too long or too slow\r\n")
                    .await;
                let _ = write.shutdown().await;
                // Read (a bounded amount of) what the client still sends, so that closing
                // does not reset the connection before the client has read the reply.
                let rest = (&mut r).take(MAX_MESSAGE as u64);
                let _ = tokio::time::timeout(
                    Duration::from_secs(1),
                    tokio::io::copy_buf(&mut BufReader::new(rest), &mut tokio::io::sink()),
                )
                .await;
                return Err(e);
            }
        }
        let text = String::from_utf8_lossy(&line);
        let cmd = text.trim_end_matches(['\r', '\n']);
        let upper = cmd.to_ascii_uppercase();
        let verb = upper.split(' ').next().unwrap_or_default();
        let reply: String = match verb {
            "EHLO" => format!(
                "250-idp-test-sink\r\n250-SIZE {MAX_MESSAGE}\r\n250-8BITMIME\r\n250 AUTH PLAIN LOGIN\r\n"
            ),
            "HELO" => "250 idp-test-sink\r\n".into(),
            "NOOP" => "250 2.0.0 OK\r\n".into(),
            "RSET" => {
                from = None;
                rcpts.clear();
                "250 2.0.0 OK\r\n".into()
            }
            "QUIT" => {
                write.write_all(b"221 2.0.0 bye\r\n").await?;
                return Ok(());
            }
            "AUTH" => {
                let mut words = cmd.split_whitespace().skip(1);
                let mechanism = words.next().unwrap_or_default().to_ascii_uppercase();
                let initial = words.next().map(str::to_owned);
                match mechanism.as_str() {
                    "PLAIN" => {
                        let response = match initial {
                            Some(r) => r,
                            None => {
                                write.write_all(b"334 \r\n").await?;
                                if read_line(&mut r, &mut line).await?.is_none() {
                                    return Ok(());
                                }
                                String::from_utf8_lossy(&line).trim().to_owned()
                            }
                        };
                        match plain_user(&response) {
                            Some(u) => {
                                auth_user = Some(u);
                                "235 2.7.0 authenticated\r\n".into()
                            }
                            None => "501 5.5.2 malformed AUTH PLAIN\r\n".into(),
                        }
                    }
                    "LOGIN" => {
                        let user = match initial {
                            Some(u) => u,
                            None => {
                                // "Username:"
                                write.write_all(b"334 VXNlcm5hbWU6\r\n").await?;
                                if read_line(&mut r, &mut line).await?.is_none() {
                                    return Ok(());
                                }
                                String::from_utf8_lossy(&line).trim().to_owned()
                            }
                        };
                        // "Password:"
                        write.write_all(b"334 UGFzc3dvcmQ6\r\n").await?;
                        if read_line(&mut r, &mut line).await?.is_none() {
                            return Ok(());
                        }
                        match STANDARD
                            .decode(user.trim())
                            .ok()
                            .and_then(|u| String::from_utf8(u).ok())
                        {
                            Some(u) => {
                                auth_user = Some(u);
                                "235 2.7.0 authenticated\r\n".into()
                            }
                            None => "501 5.5.2 malformed AUTH LOGIN\r\n".into(),
                        }
                    }
                    _ => "504 5.5.4 mechanism not supported\r\n".into(),
                }
            }
            "MAIL" if upper.starts_with("MAIL FROM:") => {
                if from.is_some() {
                    "503 5.5.1 nested MAIL command\r\n".into()
                } else {
                    match path_arg(&cmd["MAIL FROM:".len()..]) {
                        Some(a) => {
                            from = Some(a);
                            "250 2.1.0 OK\r\n".into()
                        }
                        None => "501 5.5.4 syntax: MAIL FROM:<address>\r\n".into(),
                    }
                }
            }
            "RCPT" if upper.starts_with("RCPT TO:") => {
                if from.is_none() {
                    "503 5.5.1 MAIL first\r\n".into()
                } else if rcpts.len() >= MAX_RECIPIENTS {
                    "452 4.5.3 too many recipients\r\n".into()
                } else {
                    match path_arg(&cmd["RCPT TO:".len()..]) {
                        Some(a) => {
                            rcpts.push(a);
                            "250 2.1.5 OK\r\n".into()
                        }
                        None => "501 5.5.4 syntax: RCPT TO:<address>\r\n".into(),
                    }
                }
            }
            "DATA" => {
                if rcpts.is_empty() {
                    "503 5.5.1 RCPT first\r\n".into()
                } else {
                    write
                        .write_all(b"354 end data with <CR><LF>.<CR><LF>\r\n")
                        .await?;
                    let Some(raw) = read_data(&mut r, &mut line).await? else {
                        return Ok(());
                    };
                    let envelope_from = from.take().unwrap_or_default();
                    let recipients = std::mem::take(&mut rcpts);
                    match raw {
                        Data::TooBig => "552 5.3.4 message too big\r\n".into(),
                        Data::Message(_) if inbox.take_refusal() => {
                            "451 4.3.0 try again later\r\n".into()
                        }
                        Data::Message(raw) => {
                            inbox.push(parse(envelope_from, recipients, auth_user.clone(), raw));
                            "250 2.0.0 queued\r\n".into()
                        }
                    }
                }
            }
            "VRFY" => "252 2.1.5 cannot verify\r\n".into(),
            _ => "500 5.5.2 command not recognized\r\n".into(),
        };
        if reply.starts_with('5') {
            errors += 1;
        }
        write.write_all(reply.as_bytes()).await?;
        if errors >= MAX_ERRORS {
            write.write_all(b"421 4.7.0 too many errors\r\n").await?;
            return Ok(());
        }
    }
}

enum Data {
    Message(String),
    TooBig,
}

/// The message after `DATA`, up to the line `.`, dot-unstuffed; `None` at the end of the
/// stream. Past [`MAX_MESSAGE`] the rest is read and dropped.
async fn read_data<R: AsyncBufRead + Unpin>(
    r: &mut R,
    line: &mut Vec<u8>,
) -> std::io::Result<Option<Data>> {
    let mut body: Vec<u8> = Vec::new();
    let mut too_big = false;
    loop {
        if read_line(r, line).await?.is_none() {
            return Ok(None);
        }
        if line == b".\r\n" || line == b".\n" {
            break;
        }
        let content: &[u8] = match line.strip_prefix(b".") {
            Some(rest) => rest,
            None => line,
        };
        if body.len() + content.len() > MAX_MESSAGE {
            too_big = true;
        }
        if !too_big {
            body.extend_from_slice(content);
        }
    }
    if too_big {
        return Ok(Some(Data::TooBig));
    }
    Ok(Some(Data::Message(
        String::from_utf8_lossy(&body).into_owned(),
    )))
}

/// Splits a message (or part) into unfolded headers and the body.
fn split_headers(raw: &str) -> (Vec<(String, String)>, &str) {
    let (head, body) = match raw.find("\r\n\r\n") {
        Some(i) => (&raw[..i], &raw[i + 4..]),
        None => match raw.find("\n\n") {
            Some(i) => (&raw[..i], &raw[i + 2..]),
            None => (raw, ""),
        },
    };
    let mut headers: Vec<(String, String)> = Vec::new();
    for l in head.lines() {
        if l.starts_with([' ', '\t']) {
            if let Some((_, v)) = headers.last_mut() {
                v.push(' ');
                v.push_str(l.trim());
            }
        } else if let Some((n, v)) = l.split_once(':') {
            headers.push((n.trim().to_owned(), v.trim().to_owned()));
        }
    }
    for (_, v) in &mut headers {
        *v = decode_words(v);
    }
    (headers, body)
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// A parameter of a header value (`boundary="x"` of a Content-Type).
fn param(value: &str, name: &str) -> Option<String> {
    value.split(';').skip(1).find_map(|p| {
        let (k, v) = p.split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case(name)
            .then(|| v.trim().trim_matches('"').to_owned())
    })
}

/// RFC 2047 encoded words (`=?utf-8?b?…?=`, `=?utf-8?q?…?=`) decoded; others kept.
fn decode_words(v: &str) -> String {
    let mut out = String::new();
    let mut rest = v;
    let mut last_was_word = false;
    while let Some(start) = rest.find("=?") {
        let (before, from) = rest.split_at(start);
        let decoded = from[2..].splitn(3, '?').collect::<Vec<_>>();
        let parsed = (decoded.len() == 3)
            .then(|| {
                let (enc, tail) = (decoded[1], decoded[2]);
                let end = tail.find("?=")?;
                let bytes = match enc.to_ascii_lowercase().as_str() {
                    "b" => STANDARD.decode(&tail[..end]).ok()?,
                    "q" => qp_decode(&tail[..end].replace('_', " ")),
                    _ => return None,
                };
                let consumed = 2 + decoded[0].len() + 1 + enc.len() + 1 + end + 2;
                Some((String::from_utf8_lossy(&bytes).into_owned(), consumed))
            })
            .flatten();
        match parsed {
            Some((text, consumed)) => {
                // Whitespace between two encoded words is dropped (RFC 2047 §6.2).
                if !(last_was_word && before.trim().is_empty()) {
                    out.push_str(before);
                }
                out.push_str(&text);
                rest = &from[consumed..];
                last_was_word = true;
            }
            None => {
                out.push_str(before);
                out.push_str("=?");
                rest = &from[2..];
                last_was_word = false;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Quoted-printable (RFC 2045 §6.7): soft line breaks removed, `=XX` decoded.
fn qp_decode(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'=' {
            if b[i + 1..].starts_with(b"\r\n") {
                i += 3;
                continue;
            }
            if b[i + 1..].starts_with(b"\n") {
                i += 2;
                continue;
            }
            let hex = b
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok());
            if let Some(v) = hex {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    out
}

/// A part's body with its `Content-Transfer-Encoding` undone.
fn decode_body(headers: &[(String, String)], body: &str) -> String {
    let encoding = header(headers, "Content-Transfer-Encoding")
        .unwrap_or("7bit")
        .to_ascii_lowercase();
    let bytes = match encoding.as_str() {
        "base64" => {
            let compact: String = body.chars().filter(|c| !c.is_whitespace()).collect();
            STANDARD.decode(compact).unwrap_or_default()
        }
        "quoted-printable" => qp_decode(body),
        _ => body.as_bytes().to_vec(),
    };
    String::from_utf8_lossy(&bytes).replace("\r\n", "\n")
}

/// The first `text/plain` and `text/html` parts of a message or part.
fn find_parts(
    headers: &[(String, String)],
    body: &str,
    depth: usize,
    text: &mut Option<String>,
    html: &mut Option<String>,
) {
    let ctype = header(headers, "Content-Type").unwrap_or("text/plain");
    let mime = ctype
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    if mime.starts_with("multipart/") {
        let Some(boundary) = param(ctype, "boundary") else {
            return;
        };
        if depth >= MAX_DEPTH {
            return;
        }
        let delimiter = format!("--{boundary}");
        for part in body.split(&delimiter).skip(1) {
            if part.starts_with("--") {
                break;
            }
            let part = part
                .strip_prefix("\r\n")
                .or_else(|| part.strip_prefix('\n'));
            let part = part.unwrap_or_default();
            let part = part
                .strip_suffix("\r\n")
                .or_else(|| part.strip_suffix('\n'))
                .unwrap_or(part);
            let (h, b) = split_headers(part);
            find_parts(&h, b, depth + 1, text, html);
        }
    } else if mime == "text/plain" && text.is_none() {
        *text = Some(decode_body(headers, body));
    } else if mime == "text/html" && html.is_none() {
        *html = Some(decode_body(headers, body));
    }
}

fn parse(
    envelope_from: String,
    recipients: Vec<String>,
    auth_user: Option<String>,
    raw: String,
) -> ReceivedMail {
    let (headers, body) = split_headers(&raw);
    let (mut text, mut html) = (None, None);
    find_parts(&headers, body, 0, &mut text, &mut html);
    ReceivedMail {
        envelope_from,
        recipients,
        auth_user,
        headers,
        text,
        html,
        raw,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_printable_and_encoded_words() {
        assert_eq!(qp_decode("a=3Db=\r\nc=C3=A9"), "a=bcé".as_bytes());
        assert_eq!(qp_decode("trailing ="), b"trailing =");
        assert_eq!(decode_words("=?utf-8?b?SGVsbG8gWm/DqyE=?="), "Hello Zoë!");
        assert_eq!(
            decode_words("=?utf-8?q?Caf=C3=A9_au_lait?= time"),
            "Café au lait time"
        );
        assert_eq!(decode_words("=?utf-8?b?YQ==?= =?utf-8?b?Yg==?="), "ab");
        assert_eq!(decode_words("plain =? text"), "plain =? text");
    }

    #[test]
    fn multipart_parts_are_found_and_decoded() {
        let raw = "Subject: =?utf-8?b?w5w=?=\r\nContent-Type: multipart/alternative;\r\n boundary=\"XYZ\"\r\n\r\n--XYZ\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nOpen https://a.example/x?t=3D1 now=\r\n.\r\n--XYZ\r\nContent-Type: text/html\r\nContent-Transfer-Encoding: base64\r\n\r\nPHA+aGk8L3A+\r\n--XYZ--\r\n";
        let m = parse("f@x".into(), vec!["t@x".into()], None, raw.into());
        assert_eq!(m.subject(), Some("Ü"));
        assert_eq!(m.text(), Some("Open https://a.example/x?t=1 now."));
        assert_eq!(m.html(), Some("<p>hi</p>"));
        assert_eq!(m.links(), ["https://a.example/x?t=1"]);
    }
}
