//! The database a command works on and the key that encrypts its signing keys: which URL,
//! whether it must exist already, where the key comes from and whether it is random enough.
//!
//! The checks run in the order an operator fixes things: the URL (no scheme, unknown
//! scheme, `memory:` where nothing would be kept), then whether the database exists, then
//! the key. Only `idp init` and `idp serve` create a database.

use std::path::{Path, PathBuf};

use base64::Engine;
use idp_server::{Config, EncryptionKey, Provider, RateLimits};

use crate::cli::Global;
use crate::{Failure, note, serve};

/// What a command needs of the database.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Need {
    /// Read or change existing data: the database must exist and hold signing keys.
    Existing,
    /// `idp init`: the database must not exist yet; it is created.
    New,
    /// `idp serve`: created when missing; `dev` generates a key if none is set.
    Serve { dev: bool },
}

/// A database URL, classified without opening anything.
#[derive(Debug)]
pub(crate) enum Database {
    /// `memory:` or an in-memory SQLite URL: gone when the process exits.
    Memory,
    /// A SQLite file.
    SqliteFile(PathBuf),
    /// PostgreSQL (or another server the store knows).
    Server,
}

/// The URL the command uses: `--db`/`IDP_DATABASE_URL`, then the file's `database_url`,
/// then `sqlite://idp.db`.
pub(crate) fn url(global: &Global, file: &Config) -> String {
    global
        .db
        .clone()
        .or_else(|| file.database_url().map(str::to_owned))
        .unwrap_or_else(|| "sqlite://idp.db".to_owned())
}

impl Database {
    /// Classifies `url`; a value without a scheme or with one no store knows is refused
    /// with the fix. Nothing but the scheme of an unknown URL is repeated (the rest may
    /// hold a password).
    pub(crate) async fn parse(url: &str) -> Result<Self, Failure> {
        if url == "memory:" {
            return Ok(Self::Memory);
        }
        if let Some(db) = sqlite(url) {
            return Ok(db);
        }
        let scheme = url.split_once(':').map(|(s, _)| s).filter(|s| {
            s.len() > 1
                && s.starts_with(|c: char| c.is_ascii_alphabetic())
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
        });
        match scheme {
            None => Err(Failure::msg(format!(
                "the database URL {url:?} has no scheme: for a SQLite file write \
                 sqlite://{url} (or use postgres://USER@HOST/DB)"
            ))),
            Some("postgres" | "postgresql") => Ok(Self::Server),
            // The store's own message lists what this build supports; nothing is opened.
            Some(_) => match idp_server::store::connect(url).await {
                Err(e) => Err(Failure::msg(e.to_string())),
                Ok(_) => Ok(Self::Server),
            },
        }
    }

    /// The SQLite file, if this is one.
    pub(crate) fn sqlite_file(&self) -> Option<&Path> {
        match self {
            Self::SqliteFile(p) => Some(p),
            _ => None,
        }
    }
}

/// The database as messages name it: the SQLite path, or the server URL without its
/// user name and password.
pub(crate) fn describe(url: &str) -> String {
    if let Some(Database::SqliteFile(p)) = sqlite(url) {
        return p.display().to_string();
    }
    match url::Url::parse(url) {
        Ok(mut u) if u.has_host() => {
            let _ = u.set_username("");
            let _ = u.set_password(None);
            u.to_string()
        }
        _ => url
            .split_once(':')
            .map_or_else(String::new, |(s, _)| format!("{s}:…")),
    }
}

/// A `sqlite:` URL: a file, or in memory (by sqlx's rules: `sqlite::memory:`,
/// `sqlite://:memory:`, `mode=memory`).
fn sqlite(url: &str) -> Option<Database> {
    let rest = url.strip_prefix("sqlite:")?;
    let rest = rest.strip_prefix("//").unwrap_or(rest);
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    if path.is_empty() || path == ":memory:" || query.contains("mode=memory") {
        return Some(Database::Memory);
    }
    Some(Database::SqliteFile(PathBuf::from(path)))
}

/// The placeholder an earlier README showed in its configuration sample, and the one it
/// shows now: public text, never a key.
const PLACEHOLDERS: [&str; 2] = [
    "at least 32 bytes, e.g. 64 hex characters",
    "REPLACE with the output of: openssl rand -hex 32",
];

/// How random a configured key looks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Strength {
    /// 64+ hex digits, or base64 of 32+ bytes, whose bytes are not mostly repeats.
    Random,
    /// Anything else of 32+ bytes (a phrase): accepted only for a database whose signing
    /// keys it already encrypts.
    Text,
}

/// The key rule. Refused outright: fewer than 32 bytes, a published placeholder. Random:
/// 64 or more hex digits, or standard/URL-safe base64 (padded or not) of at least 32
/// bytes, with at least 16 distinct byte values among them (32 random bytes have ~30).
pub(crate) fn key_strength(key: &str, source: &str) -> Result<Strength, Failure> {
    if key.len() < 32 {
        return Err(Failure::msg(format!(
            "{source} is too short: it must be 64 hex characters or base64 of at least 32 \
             random bytes (make one with `openssl rand -hex 32`)"
        )));
    }
    if PLACEHOLDERS.iter().any(|p| key.trim() == *p) {
        return Err(Failure::msg(format!(
            "{source} is the README's placeholder, not a key: replace it with 64 hex \
             characters (make them with `openssl rand -hex 32`)"
        )));
    }
    Ok(match decode_key(key) {
        Some(bytes) if bytes.len() >= 32 && distinct(&bytes) >= 16 => Strength::Random,
        _ => Strength::Text,
    })
}

fn decode_key(key: &str) -> Option<Vec<u8>> {
    let key = key.trim();
    if key.len().is_multiple_of(2) && key.bytes().all(|b| b.is_ascii_hexdigit()) {
        return (0..key.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&key[i..i + 2], 16).ok())
            .collect();
    }
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    [STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD]
        .iter()
        .find_map(|e| e.decode(key).ok())
}

fn distinct(bytes: &[u8]) -> usize {
    let mut seen = [false; 256];
    for b in bytes {
        seen[usize::from(*b)] = true;
    }
    seen.iter().filter(|s| **s).count()
}

fn text_key_message(source: &str, db: &str) -> String {
    format!(
        "{source} looks like text, not a random key; a new database ({db}) needs 64 hex \
         characters or base64 of at least 32 random bytes (make one with `openssl rand -hex 32`)"
    )
}

/// Where the key came from, for messages (never the key itself).
struct Key {
    secret: String,
    source: String,
    generated: Option<PathBuf>,
}

/// The encryption key: flag/env, then the config file, then a key file beside the SQLite
/// database (written by `idp init` and `--dev`); generated when `generate` allows it.
fn resolve_key(
    global: &Global,
    file: &Config,
    db: &Database,
    url: &str,
    generate: bool,
) -> Result<Key, Failure> {
    if let Some(k) = &global.encryption_key {
        return Ok(Key {
            secret: k.clone(),
            source: "the encryption key (--encryption-key or IDP_ENCRYPTION_KEY)".into(),
            generated: None,
        });
    }
    if let Some(k) = file.encryption_key() {
        let name = global
            .config
            .as_deref()
            .map_or_else(|| "the configuration".into(), |p| p.display().to_string());
        return Ok(Key {
            secret: k.to_owned(),
            source: format!("encryption_key in {name}"),
            generated: None,
        });
    }
    let key_file = db
        .sqlite_file()
        .map(|p| PathBuf::from(format!("{}.key", p.display())));
    if let Some(path) = &key_file
        && path.exists()
    {
        let secret = std::fs::read_to_string(path)
            .map(|s| s.trim().to_owned())
            .map_err(|e| Failure::msg(format!("cannot read {}: {e}", path.display())))?;
        return Ok(Key {
            secret,
            source: format!("the key file {}", path.display()),
            generated: None,
        });
    }
    match (db, generate) {
        (Database::Memory, true) => Ok(Key {
            secret: EncryptionKey::generate_secret(),
            source: "a generated key".into(),
            generated: None,
        }),
        (Database::SqliteFile(_), true) => {
            let path = key_file.unwrap_or_default();
            let secret = EncryptionKey::generate_secret();
            write_private(&path, &secret)?;
            note(&format!(
                "generated an encryption key in {} (keep it with the database: without it \
                 the signing keys cannot be read)",
                path.display()
            ));
            Ok(Key {
                secret,
                source: format!("the key file {}", path.display()),
                generated: Some(path),
            })
        }
        (Database::Server, true) => Err(Failure::msg(format!(
            "no encryption key for {}: a generated key can be kept only beside a SQLite \
             file; set IDP_ENCRYPTION_KEY (64 hex characters, `openssl rand -hex 32`)",
            describe(url)
        ))),
        (_, false) => Err(Failure::msg(format!(
            "no encryption key for {}: set IDP_ENCRYPTION_KEY (64 hex characters, `openssl \
             rand -hex 32`) or encryption_key in the config file{}",
            describe(url),
            key_file.map_or_else(String::new, |p| format!(
                ", or put it in {} (`idp init` writes one there)",
                p.display()
            ))
        ))),
    }
}

fn write_private(path: &Path, contents: &str) -> Result<(), Failure> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts
        .open(path)
        .map_err(|e| Failure::msg(format!("cannot create {}: {e}", path.display())))?;
    f.write_all(contents.as_bytes())
        .map_err(|e| Failure::msg(format!("cannot write {}: {e}", path.display())))?;
    Ok(())
}

/// What [`open`] did besides returning the provider.
#[derive(Debug)]
pub(crate) struct Opened {
    /// The database as messages name it.
    pub(crate) db: String,
    /// The key file `idp init` or `--dev` wrote, if one was generated.
    pub(crate) generated_key: Option<PathBuf>,
    /// Where `--dev` writes e-mail (no `[smtp]` in the file).
    pub(crate) outbox: Option<PathBuf>,
}

/// The provider the command works on: the configuration file, then the flags (which win),
/// then the `--dev` presets for what neither set.
pub(crate) async fn open(
    global: &Global,
    file: Config,
    issuer: Option<String>,
    need: Need,
) -> Result<(Provider, Opened), Failure> {
    // Settings first: a mistake in the file must not leave a new, empty database behind.
    // Only `serve` reads the TLS files.
    if matches!(need, Need::Serve { .. }) {
        file.check()?;
    } else {
        file.check_without_tls()?;
    }
    let url = url(global, &file);
    let db = Database::parse(&url).await?;
    let name = describe(&url);
    let dev = matches!(need, Need::Serve { dev: true });
    match (&db, need) {
        (Database::Memory, Need::Existing | Need::New) => {
            return Err(Failure::msg(format!(
                "{url} is an in-memory database: it would be gone when this command exits; \
                 use the database the server uses (sqlite://PATH or postgres://USER@HOST/DB)"
            )));
        }
        (Database::SqliteFile(path), Need::Existing) if !path.exists() => {
            return Err(Failure::msg(format!(
                "database {} does not exist; check --db (or database_url), or create it \
                 with `idp init --db {url}`",
                path.display()
            )));
        }
        (Database::SqliteFile(path), Need::New) if path.exists() => {
            return Err(Failure::msg(format!(
                "database {} already exists; `idp init` creates only new databases",
                path.display()
            )));
        }
        (Database::SqliteFile(path), _) => {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
                && !dir.is_dir()
            {
                return Err(Failure::msg(format!(
                    "cannot create database {}: directory {} does not exist",
                    path.display(),
                    dir.display()
                )));
            }
        }
        _ => {}
    }
    let new_file = db.sqlite_file().is_some_and(|p| !p.exists());
    let generate = match need {
        Need::Existing => false,
        Need::New => true,
        // A generated key for `memory:` is kept as long as the data: the process.
        Need::Serve { dev } => dev || matches!(db, Database::Memory),
    };
    let key = resolve_key(global, &file, &db, &url, generate)?;
    let strength = key_strength(&key.secret, &key.source)?;
    if strength == Strength::Text && (new_file || matches!(db, Database::Memory)) {
        return Err(Failure::msg(text_key_message(&key.source, &name)));
    }
    let store = idp_server::store::connect(&url)
        .await
        .map_err(idp_server::Error::from)?;
    let has_keys = !store
        .list_keys()
        .await
        .map_err(idp_server::Error::from)?
        .is_empty();
    match need {
        Need::Existing if !has_keys => {
            return Err(Failure::msg(format!(
                "database {name} holds no idp data yet (no signing keys); create it with \
                 `idp init` (or start `idp serve` on it)"
            )));
        }
        Need::New if has_keys => {
            return Err(Failure::msg(format!(
                "database {name} is already initialised (it has signing keys)"
            )));
        }
        _ => {}
    }
    if strength == Strength::Text {
        if !has_keys {
            return Err(Failure::msg(text_key_message(&key.source, &name)));
        }
        note(&format!(
            "warning: {} looks like text, not a random key; it is accepted because the \
             signing keys in {name} are encrypted with it (a new database needs 64 hex \
             characters, `openssl rand -hex 32`)",
            key.source
        ));
    }
    let issuer = issuer
        .or_else(|| file.issuer().map(str::to_owned))
        .unwrap_or_else(|| serve::DEV_ISSUER.to_owned());
    // --dev turns rate limits off unless the file sets them.
    let limits = match file.rate_limits() {
        Some(l) => l.clone(),
        None if dev => RateLimits::insecure_none(),
        None => RateLimits::default(),
    };
    // --dev without [smtp]: e-mail goes to files beside the SQLite file (or in the
    // working directory for another database) and to the log.
    let outbox = (dev && file.smtp().is_none()).then(|| {
        db.sqlite_file().map_or_else(
            || PathBuf::from("idp-dev-outbox"),
            |p| PathBuf::from(format!("{}.outbox", p.display())),
        )
    });
    let mut builder = Provider::builder()
        .config(file)
        .issuer(issuer)
        .store(store)
        .encryption_key(key.secret)
        .rate_limits(limits);
    // --dev lets browser apps on localhost (any port) call the token, userinfo and
    // revocation endpoints, besides the origins the file lists.
    if dev {
        builder = builder.cors_allow_localhost();
    }
    // Only `serve` serves: the other commands do not read the TLS private key (which an
    // operator's account may not be allowed to read).
    if !matches!(need, Need::Serve { .. }) {
        builder = builder.without_tls();
    }
    if let Some(dir) = &outbox {
        builder = builder.mailer(std::sync::Arc::new(idp_server::mail::DevMailer::new(
            dir.clone(),
        )?));
    }
    let provider = builder.build().await?;
    Ok((
        provider,
        Opened {
            db: name,
            generated_key: key.generated,
            outbox,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_rule() {
        let s = |k: &str| key_strength(k, "key").map_err(|f| f.to_string());
        assert_eq!(s(&EncryptionKey::generate_secret()), Ok(Strength::Random));
        assert_eq!(
            s("q4mGRbnNwO3m3a0Yb6yT1c0bRz8gN+0Qk1bS0wH9d3s="),
            Ok(Strength::Random)
        );
        assert_eq!(
            s("q4mGRbnNwO3m3a0Yb6yT1c0bRz8gN-0Qk1bS0wH9d3s"),
            Ok(Strength::Random)
        );
        assert_eq!(s(&"ab".repeat(32)), Ok(Strength::Text));
        assert_eq!(s(&"k".repeat(64)), Ok(Strength::Text));
        assert_eq!(
            s("a management test key that is long enough"),
            Ok(Strength::Text)
        );
        assert!(s("short").unwrap_err().contains("too short"));
        for p in PLACEHOLDERS {
            assert!(s(p).unwrap_err().contains("placeholder"));
        }
    }

    #[tokio::test]
    async fn urls() {
        assert!(matches!(
            Database::parse("sqlite://a/b.db?mode=rwc").await,
            Ok(Database::SqliteFile(p)) if p == Path::new("a/b.db")
        ));
        assert!(matches!(
            Database::parse("sqlite::memory:").await,
            Ok(Database::Memory)
        ));
        let e = Database::parse("idp.db").await.unwrap_err().to_string();
        assert!(e.contains("sqlite://idp.db"), "{e}");
        let e = Database::parse("mysql://u:hunter2@h/db")
            .await
            .unwrap_err()
            .to_string();
        assert!(e.contains("mysql") && !e.contains("hunter2"), "{e}");
        assert_eq!(describe("postgres://u:pw@h:5/db"), "postgres://h:5/db");
        assert_eq!(describe("sqlite://x/y.db"), "x/y.db");
    }
}
