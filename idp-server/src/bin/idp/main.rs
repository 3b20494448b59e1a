//! The `idp` command line: run the provider and manage its users, clients and keys.
//!
//! Every flag can also come from an `IDP_*` environment variable; flags win over the
//! configuration file, which wins over the `--dev` presets.

mod cli;
mod commands;
mod serve;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use idp_server::mail::DevMailer;
use idp_server::{Config, EncryptionKey, Error, LogFormat, Provider, RateLimits};

use cli::{Cli, Command, Global};

fn load_config(path: Option<&Path>) -> Result<Config, Error> {
    let Some(path) = path else {
        return Ok(Config::default());
    };
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::Config(format!("cannot read {}: {e}", path.display())))?;
    toml::from_str(&text).map_err(|e| Error::Config(format!("{}: {e}", path.display())))
}

fn sqlite_path(url: &str) -> Option<&str> {
    url.strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .map(|p| p.split('?').next().unwrap_or(p))
}

/// The encryption key: flag/env, then the config file, then a key file beside the SQLite
/// database (created with `--dev`).
fn resolve_encryption_key(
    flag: Option<String>,
    file: Option<String>,
    db_url: &str,
    dev: bool,
) -> Result<String, Error> {
    if let Some(k) = flag.or(file) {
        return Ok(k);
    }
    let key_file = sqlite_path(db_url)
        .filter(|p| !p.is_empty() && *p != ":memory:")
        .map(|p| PathBuf::from(format!("{p}.key")));
    if let Some(path) = &key_file
        && path.exists()
    {
        return std::fs::read_to_string(path)
            .map(|s| s.trim().to_owned())
            .map_err(|e| Error::Config(format!("cannot read {}: {e}", path.display())));
    }
    if dev && key_file.is_none() && db_url != "memory:" {
        // A generated key that is not kept would leave the stored signing keys unreadable
        // after a restart or on another replica.
        return Err(Error::Config(
            "--dev keeps a generated key only beside a SQLite file; with this database set \
             IDP_ENCRYPTION_KEY (at least 32 bytes)"
                .into(),
        ));
    }
    if dev {
        let secret = EncryptionKey::generate_secret();
        if let Some(path) = &key_file {
            write_private(path, &secret)?;
            eprintln!("generated an encryption key in {}", path.display());
        }
        return Ok(secret);
    }
    Err(Error::Config(
        "an encryption key is required: set IDP_ENCRYPTION_KEY (at least 32 bytes), \
         encryption_key in the config file, or use --dev"
            .into(),
    ))
}

fn write_private(path: &Path, contents: &str) -> Result<(), Error> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path)?;
    f.write_all(contents.as_bytes())?;
    Ok(())
}

/// The database the command opens: the flag (or `IDP_DATABASE_URL`), the file, then
/// `sqlite://idp.db`.
fn database_url(global: &Global, file: &Config) -> String {
    global
        .db
        .clone()
        .or_else(|| file.database_url().map(str::to_owned))
        .unwrap_or_else(|| "sqlite://idp.db".to_owned())
}

/// Where `idp serve --dev` writes e-mail when the file has no `[smtp]`: a folder beside the
/// SQLite file (`idp.db.outbox`), or `idp-dev-outbox` in the working directory for another
/// database.
pub(crate) fn dev_outbox(global: &Global, file: &Config) -> Option<PathBuf> {
    if file.smtp().is_some() {
        return None;
    }
    let db = database_url(global, file);
    Some(
        sqlite_path(&db)
            .filter(|p| !p.is_empty() && *p != ":memory:")
            .map_or_else(
                || PathBuf::from("idp-dev-outbox"),
                |p| PathBuf::from(format!("{p}.outbox")),
            ),
    )
}

/// The provider the command works on: the configuration file, then the flags (which win),
/// then the `--dev` presets for what neither set.
pub(crate) async fn build_provider(
    global: &Global,
    file: Config,
    issuer: Option<String>,
    dev: bool,
) -> Result<Provider, Error> {
    let db = database_url(global, &file);
    let outbox = if dev { dev_outbox(global, &file) } else { None };
    let key = resolve_encryption_key(
        global.encryption_key.clone(),
        file.encryption_key().map(str::to_owned),
        &db,
        dev,
    )?;
    let store = idp_server::store::connect(&db).await?;
    let issuer = issuer
        .or_else(|| file.issuer().map(str::to_owned))
        .unwrap_or_else(|| serve::DEV_ISSUER.to_owned());
    // --dev turns rate limits off unless the file sets them.
    let limits = match file.rate_limits() {
        Some(l) => l.clone(),
        None if dev => RateLimits::insecure_none(),
        None => RateLimits::default(),
    };
    let mut builder = Provider::builder()
        .config(file)
        .issuer(issuer)
        .store(store)
        .encryption_key(key)
        .rate_limits(limits);
    // --dev lets browser apps on localhost (any port) call the token, userinfo and
    // revocation endpoints, besides the origins the file lists.
    if dev {
        builder = builder.cors_allow_localhost();
    }
    // --dev without [smtp]: e-mail goes to files and the log.
    if let Some(outbox) = outbox {
        builder = builder.mailer(Arc::new(DevMailer::new(outbox)?));
    }
    builder.build().await
}

async fn run(cli: Cli) -> Result<(), Error> {
    let file = load_config(cli.global.config.as_deref())?;
    let g = &cli.global;
    match &cli.command {
        Command::Serve(args) => serve::serve(g, file, args).await,
        Command::Users(cmd) => {
            let p = build_provider(g, file, None, false).await?;
            let done = commands::users(&p, g, cmd).await;
            flush(&p).await;
            done
        }
        Command::Clients(cmd) => {
            let p = build_provider(g, file, None, false).await?;
            let done = commands::clients(&p, g, cmd).await;
            flush(&p).await;
            done
        }
        Command::Keys(cmd) => {
            let p = build_provider(g, file, None, false).await?;
            commands::keys(&p, g, cmd).await
        }
        Command::Tenants(cmd) => {
            let p = build_provider(g, file, None, false).await?;
            commands::tenants(&p, g, cmd).await
        }
    }
}

/// Sends the back-channel logout tokens a command queued (ending a user's sessions tells
/// the clients) before the process exits.
async fn flush(p: &Provider) {
    if !p.flush_notifications(Duration::from_secs(15)).await {
        eprintln!("warning: some back-channel logout notifications could not be delivered in time");
    }
}

/// The log on standard error: `IDP_LOG` filters (default `info`), `IDP_LOG_FORMAT` or the
/// file's `log_format` chooses text or JSON, and colour only on a terminal.
fn init_logging(format: LogFormat) {
    use std::io::IsTerminal;
    let format = match std::env::var("IDP_LOG_FORMAT").as_deref() {
        Ok("json") => LogFormat::Json,
        Ok("text") => LogFormat::Text,
        _ => format,
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("IDP_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    match format {
        LogFormat::Json => builder.json().init(),
        _ => builder.init(),
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    // The configuration file says how to log; reading it is the one thing before logging.
    let format = load_config(cli.global.config.as_deref())
        .map(|c| c.log_format())
        .unwrap_or_default();
    init_logging(format);
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
