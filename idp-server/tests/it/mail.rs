//! E-mail: the SMTP mailer against a real SMTP listener on loopback (the test kit's
//! `SmtpSink`), the queue in front of it, the `--dev` outbox, and the `[smtp]` settings.

use std::sync::Arc;
use std::time::{Duration, Instant};

use idp_server::mail::{
    DevMailer, MailContext, MailKind, MailQueue, MailTemplates, Mailer, Message, SmtpConfig,
    SmtpMailer, SmtpTls,
};
use idp_server::store::MemoryStore;
use idp_server::testkit::SmtpSink;

use crate::common::TestServer;

const WAIT: Duration = Duration::from_secs(15);
const LINK: &str = "https://id.example.com/account/verify?token=Zm9vYmFyYmF6cXV4cXV1eHp5eHp5enp5eHp5enp5eHp5enp5eHp5enp5eHp5eno";

fn ctx() -> MailContext {
    MailContext::new("Acme ID")
        .user_name("Ada Lovelace")
        .link(LINK)
        .expires_in(Duration::from_secs(24 * 3600))
}

#[tokio::test]
async fn smtp_mailer_delivers_a_rendered_message_with_text_and_html() {
    let sink = SmtpSink::start().await.unwrap();
    let mailer = SmtpMailer::new(
        &sink
            .smtp_config("no-reply@acme.example")
            .from_name("Acme ID")
            .credentials("idp-mailer", "app password"),
    )
    .unwrap();
    let templates = MailTemplates::load(None).unwrap();
    let message = templates
        .render(MailKind::VerifyEmail, "ada@example.com", &ctx())
        .unwrap();
    mailer.send(&message).await.unwrap();

    let mail = sink
        .next_message(WAIT)
        .await
        .expect("the sink got a message");
    assert_eq!(mail.envelope_from(), "no-reply@acme.example");
    assert_eq!(mail.recipients(), ["ada@example.com"]);
    assert_eq!(mail.auth_user(), Some("idp-mailer"));
    assert_eq!(mail.header("To"), Some("ada@example.com"));
    let from = mail.header("From").unwrap();
    assert!(
        from.contains("Acme ID") && from.contains("<no-reply@acme.example>"),
        "{from}"
    );
    assert_eq!(
        mail.subject(),
        Some("Confirm your e-mail address for Acme ID")
    );
    assert!(
        mail.header("Content-Type")
            .unwrap()
            .starts_with("multipart/alternative"),
        "{}",
        mail.raw()
    );
    let text = mail.text().expect("a text/plain part");
    assert!(text.starts_with("Hello Ada Lovelace,"), "{text}");
    assert!(text.contains("expires in 24 hours"), "{text}");
    // The whole link, once, on a line of its own: what a person (or a test) follows.
    assert_eq!(mail.links(), [LINK]);
    assert!(text.lines().any(|l| l == LINK), "{text}");
    let html = mail.html().expect("a text/html part");
    assert!(html.contains("<strong>ada@example.com</strong>"), "{html}");
    assert!(
        html.contains(r#"href="https:&#x2f;&#x2f;id.example.com&#x2f;account&#x2f;verify?token="#),
        "{html}"
    );
    assert!(!mail.raw().contains("app password"));
    assert!(
        sink.next_message(Duration::from_millis(100))
            .await
            .is_none()
    );
}

#[tokio::test]
async fn the_provider_sends_through_smtp_settings_and_retries_a_busy_server() {
    let sink = SmtpSink::start().await.unwrap();
    let smtp = sink.smtp_config("no-reply@acme.example");
    let s = TestServer::start_with(Arc::new(MemoryStore::new()), |b| b.smtp(smtp)).await;
    // A busy server: the first attempt gets 451, the queue tries again a second later.
    sink.refuse_next(1);
    let started = Instant::now();
    assert!(
        s.provider
            .send_mail(MailKind::ResetPassword, "ada@example.com", &ctx())
    );
    assert!(started.elapsed() < Duration::from_millis(200));
    let mail = sink
        .next_message(WAIT)
        .await
        .expect("delivered after a retry");
    assert!(started.elapsed() >= Duration::from_secs(1));
    assert_eq!(mail.subject(), Some("Reset your Acme ID password"));
    assert_eq!(mail.links(), [LINK]);
    assert!(s.provider.flush_notifications(WAIT).await);
    assert_eq!(sink.messages().len(), 1);
    s.stop().await;
}

/// A mail server that accepts connections and never says a word.
async fn silent_server() -> (std::net::SocketAddr, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            held.push(stream);
        }
    });
    (addr, task)
}

#[tokio::test]
async fn a_silent_mail_server_never_holds_up_the_caller_and_a_full_queue_drops() {
    let (addr, _server) = silent_server().await;
    let smtp = SmtpConfig::new("127.0.0.1", "no-reply@acme.example")
        .port(addr.port())
        .tls(SmtpTls::None)
        .timeout(Duration::from_secs(30));

    // Through the provider: handing a message over takes no time.
    let s = TestServer::start_with(Arc::new(MemoryStore::new()), {
        let smtp = smtp.clone();
        |b| b.smtp(smtp)
    })
    .await;
    let started = Instant::now();
    for _ in 0..20 {
        s.provider
            .send_mail(MailKind::PasswordChanged, "ada@example.com", &ctx());
    }
    assert!(
        started.elapsed() < Duration::from_millis(500),
        "{:?}",
        started.elapsed()
    );
    // Nothing was delivered, and the queue says so when asked to wait.
    assert!(
        !s.provider
            .flush_notifications(Duration::from_millis(300))
            .await
    );
    s.stop().await;

    // A small queue: the messages beyond what it holds (and the few being sent) are
    // dropped, at once.
    let queue = MailQueue::start(Arc::new(SmtpMailer::new(&smtp).unwrap()), 3);
    let message = Message::new("ada@example.com", "Hello", "Hello.\n", "<p>Hello.</p>");
    let started = Instant::now();
    let queued = (0..30).filter(|_| queue.send(message.clone())).count();
    assert!(
        started.elapsed() < Duration::from_millis(200),
        "{:?}",
        started.elapsed()
    );
    assert!((3..=8).contains(&queued), "{queued} of 30 queued");
}

#[tokio::test]
async fn the_dev_mailer_writes_each_message_to_the_outbox() {
    let dir = tempfile::tempdir().unwrap();
    let outbox = dir.path().join("idp.db.outbox");
    let mailer = Arc::new(DevMailer::new(&outbox).unwrap());
    assert!(outbox.is_dir());
    let s = TestServer::start_with(Arc::new(MemoryStore::new()), {
        let mailer = mailer.clone();
        |b| b.mailer(mailer)
    })
    .await;
    assert!(
        s.provider
            .send_mail(MailKind::VerifyEmail, "ada@example.com", &ctx())
    );
    assert!(
        s.provider
            .send_mail(MailKind::AccountExists, "bob@example.com", &ctx())
    );
    assert!(s.provider.flush_notifications(WAIT).await);
    let mut files: Vec<_> = std::fs::read_dir(&outbox)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert_eq!(files.len(), 2, "{files:?}");
    let all: Vec<String> = files
        .iter()
        .map(|f| {
            assert_eq!(f.extension().unwrap(), "eml");
            std::fs::read_to_string(f).unwrap()
        })
        .collect();
    let verify = all
        .iter()
        .find(|m| m.contains("To: ada@example.com"))
        .unwrap();
    assert!(
        verify.contains("Subject: Confirm your e-mail address for Acme ID"),
        "{verify}"
    );
    assert!(verify.contains(&format!("\r\n{LINK}\r\n")), "{verify}");
    let exists = all
        .iter()
        .find(|m| m.contains("To: bob@example.com"))
        .unwrap();
    assert!(exists.contains("Subject: Your Acme ID account"), "{exists}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&files[0]).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "{mode:o}");
    }
    s.stop().await;
}

const BIN: &str = env!("CARGO_BIN_EXE_idp");

fn idp(dir: &std::path::Path) -> tokio::process::Command {
    let mut c = tokio::process::Command::new(BIN);
    c.current_dir(dir)
        .env_remove("IDP_ENCRYPTION_KEY")
        .env_remove("IDP_DATABASE_URL")
        .env_remove("IDP_ISSUER")
        .env_remove("IDP_LISTEN")
        .env_remove("IDP_CONFIG")
        .kill_on_drop(true);
    c
}

#[tokio::test]
async fn serve_dev_prints_where_mail_goes() {
    use tokio::io::AsyncBufReadExt;
    let dir = tempfile::tempdir().unwrap();
    let mut child = idp(dir.path())
        .args(["serve", "--dev", "--listen", "127.0.0.1:0"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let line = tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(l) = lines.next_line().await.unwrap() {
            if l.starts_with("dev mail:") {
                return l;
            }
        }
        panic!("idp exited without saying where mail goes");
    })
    .await
    .expect("idp serve --dev started in time");
    // The absolute path, whether or not the temporary directory's path has a symlink.
    let outbox = dir.path().join("idp.db.outbox");
    let canonical = dir.path().canonicalize().unwrap().join("idp.db.outbox");
    assert!(
        line.contains(&outbox.display().to_string())
            || line.contains(&canonical.display().to_string()),
        "{line} (expected {})",
        outbox.display()
    );
    assert!(outbox.is_dir());
    child.kill().await.unwrap();
}

async fn config_error(toml: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("idp.toml"), toml).unwrap();
    let out = idp(dir.path())
        .args([
            "--config",
            "idp.toml",
            "--db",
            "sqlite://idp.db",
            "users",
            "list",
        ])
        .env(
            "IDP_ENCRYPTION_KEY",
            "an encryption key of at least 32 bytes!",
        )
        .output()
        .await
        .unwrap();
    assert!(!out.status.success());
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[tokio::test]
async fn smtp_configuration_errors_are_readable() {
    let e = config_error(
        "[smtp]\nhost = \"smtp.example.com\"\ntls = \"ssl\"\nfrom_address = \"a@example.com\"\n",
    )
    .await;
    assert!(e.contains("idp.toml"), "{e}");
    assert!(e.contains("tls = \"ssl\""), "{e}");
    assert!(
        e.contains("unknown variant `ssl`, expected one of `starttls`, `tls`, `none`"),
        "{e}"
    );

    let e = config_error("[smtp]\nport = 587\nfrom_address = \"a@example.com\"\n").await;
    assert!(
        e.contains("smtp.host is required when [smtp] is set"),
        "{e}"
    );

    let e = config_error(
        "[smtp]\nhost = \"smtp.example.com\"\ntls = \"none\"\nfrom_address = \"a@example.com\"\n",
    )
    .await;
    assert!(
        e.contains("smtp.tls = \"none\"") && e.contains("insecure_allow_plaintext"),
        "{e}"
    );

    let e = config_error(
        "[smtp]\nhost = \"smtp.example.com\"\nfrom_address = \"a@example.com\"\nusername = \"u\"\npassword = \"hunter2-secret\"\nport = \"587\"\n",
    )
    .await;
    assert!(e.contains("port"), "{e}");
    assert!(!e.contains("hunter2"), "{e}");
}

/// Reads one SMTP reply (all its lines); its text.
async fn reply<R: tokio::io::AsyncBufRead + Unpin>(r: &mut R) -> String {
    use tokio::io::AsyncBufReadExt;
    let mut all = String::new();
    loop {
        let mut line = String::new();
        let n = tokio::time::timeout(WAIT, r.read_line(&mut line))
            .await
            .unwrap()
            .unwrap();
        all.push_str(&line);
        // The last line of a reply has a space after the code; a closed stream ends it too.
        if n == 0 || line.as_bytes().get(3) != Some(&b'-') {
            return all;
        }
    }
}

async fn say<W: tokio::io::AsyncWrite + Unpin>(w: &mut W, text: &str) {
    use tokio::io::AsyncWriteExt;
    w.write_all(text.as_bytes()).await.unwrap();
}

/// The test kit's SMTP server speaks RFC 5321 to a plain TCP client: command order,
/// dot-unstuffing, RSET and QUIT, and its bounds on lines and message size.
#[tokio::test]
async fn the_smtp_sink_speaks_smtp_and_keeps_its_bounds() {
    let sink = SmtpSink::start().await.unwrap();
    let stream = tokio::net::TcpStream::connect(sink.addr()).await.unwrap();
    let (r, mut w) = stream.into_split();
    let mut r = tokio::io::BufReader::new(r);
    assert!(reply(&mut r).await.starts_with("220 "));
    say(&mut w, "EHLO client.example\r\n").await;
    let ehlo = reply(&mut r).await;
    assert!(ehlo.starts_with("250-") && ehlo.contains("SIZE"), "{ehlo}");
    say(&mut w, "DATA\r\n").await;
    assert!(reply(&mut r).await.starts_with("503 "));
    say(&mut w, "MAIL FROM:<a@example.com> BODY=8BITMIME\r\n").await;
    assert!(reply(&mut r).await.starts_with("250 "));
    say(&mut w, "RCPT TO:<b@example.com>\r\n").await;
    assert!(reply(&mut r).await.starts_with("250 "));
    say(&mut w, "DATA\r\n").await;
    assert!(reply(&mut r).await.starts_with("354 "));
    say(
        &mut w,
        "Subject: dots\r\n\r\nfirst\r\n..second starts with a dot\r\n...\r\n.\r\n",
    )
    .await;
    assert!(reply(&mut r).await.starts_with("250 "));
    let m = sink.next_message(WAIT).await.unwrap();
    assert_eq!(m.envelope_from(), "a@example.com");
    assert_eq!(m.recipients(), ["b@example.com"]);
    assert_eq!(m.subject(), Some("dots"));
    assert_eq!(m.text(), Some("first\n.second starts with a dot\n..\n"));
    // A new transaction after RSET; NOOP; QUIT closes.
    say(&mut w, "MAIL FROM:<c@example.com>\r\n").await;
    assert!(reply(&mut r).await.starts_with("250 "));
    say(&mut w, "RSET\r\n").await;
    assert!(reply(&mut r).await.starts_with("250 "));
    say(&mut w, "RCPT TO:<b@example.com>\r\n").await;
    assert!(
        reply(&mut r).await.starts_with("503 "),
        "RCPT after RSET needs MAIL"
    );
    say(&mut w, "NOOP\r\n").await;
    assert!(reply(&mut r).await.starts_with("250 "));
    say(&mut w, "QUIT\r\n").await;
    assert!(reply(&mut r).await.starts_with("221 "));
    assert_eq!(reply(&mut r).await, "", "closed after QUIT");

    // A line longer than the bound: refused, connection closed.
    let stream = tokio::net::TcpStream::connect(sink.addr()).await.unwrap();
    let (r, mut w) = stream.into_split();
    let mut r = tokio::io::BufReader::new(r);
    reply(&mut r).await;
    say(&mut w, &format!("EHLO {}\r\n", "x".repeat(20_000))).await;
    assert!(reply(&mut r).await.starts_with("500 "));
    assert_eq!(reply(&mut r).await, "", "closed after an over-long line");

    // A message over the size bound: 552, and nothing kept.
    let stream = tokio::net::TcpStream::connect(sink.addr()).await.unwrap();
    let (r, mut w) = stream.into_split();
    let mut r = tokio::io::BufReader::new(r);
    reply(&mut r).await;
    say(&mut w, "HELO client\r\nMAIL FROM:<a@example.com>\r\n").await;
    reply(&mut r).await;
    reply(&mut r).await;
    say(&mut w, "RCPT TO:<b@example.com>\r\nDATA\r\n").await;
    reply(&mut r).await;
    assert!(reply(&mut r).await.starts_with("354 "));
    let line = format!("{}\r\n", "y".repeat(998));
    for _ in 0..1100 {
        say(&mut w, &line).await;
    }
    say(&mut w, ".\r\n").await;
    assert!(reply(&mut r).await.starts_with("552 "));
    assert!(
        sink.next_message(Duration::from_millis(200))
            .await
            .is_none()
    );
    assert_eq!(sink.messages().len(), 1);
}
