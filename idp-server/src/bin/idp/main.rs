//! The `idp` command line: run the provider and manage its users, clients and keys.
//!
//! Every flag can also come from an `IDP_*` environment variable; flags win over the
//! configuration file, which wins over the `--dev` presets.

mod check;
mod cli;
mod commands;
mod db;
mod serve;

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use idp_server::{Config, Error, LogFormat, Provider};

use cli::{Cli, Command, ConfigCmd};
use db::Need;

/// Why a command stopped.
#[derive(Debug)]
pub(crate) enum Failure {
    /// Standard output was closed by its reader (`idp users list | head`): a quiet exit.
    BrokenPipe,
    /// What went wrong, as a sentence for the operator.
    Message(String),
    /// Several problems (`idp config check`): a summary and each problem.
    Problems {
        summary: String,
        problems: Vec<String>,
    },
}

impl Failure {
    pub(crate) fn msg(m: impl Into<String>) -> Self {
        Self::Message(m.into())
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::BrokenPipe => f.write_str("standard output was closed"),
            Self::Message(m) => f.write_str(m),
            Self::Problems { summary, .. } => f.write_str(summary),
        }
    }
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Self::Message(e.to_string())
    }
}

/// Writes one line to standard output; a closed pipe ends the command quietly.
pub(crate) fn say(line: &str) -> Result<(), Failure> {
    let mut out = std::io::stdout().lock();
    out.write_all(line.as_bytes())
        .and_then(|()| out.write_all(b"\n"))
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::BrokenPipe => Failure::BrokenPipe,
            _ => Failure::msg(format!("cannot write to standard output: {e}")),
        })
}

/// Writes a note or warning to standard error (never to stdout, which may be JSON).
pub(crate) fn note(line: &str) {
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}

fn load_config(path: Option<&Path>) -> Result<Config, Failure> {
    let Some(path) = path else {
        return Ok(Config::default());
    };
    let text = std::fs::read_to_string(path)
        .map_err(|e| Failure::msg(format!("cannot read {}: {e}", path.display())))?;
    let config: Config = toml::from_str(&text)
        .map_err(|e| Failure::msg(format!("{}: {}", path.display(), e.to_string().trim())))?;
    Ok(config)
}

/// The provider over an existing database, for the management commands.
async fn existing(g: &cli::Global) -> Result<Provider, Failure> {
    let file = load_config(g.config.as_deref())?;
    Ok(db::open(g, file, None, Need::Existing).await?.0)
}

async fn run(cli: Cli) -> Result<(), Failure> {
    let g = &cli.global;
    match &cli.command {
        Command::Config(ConfigCmd::Check { file }) => {
            let file = file.as_deref().or(g.config.as_deref()).ok_or_else(|| {
                Failure::msg("name the file to check: idp config check FILE (or --config FILE)")
            })?;
            check::config_check(g, file).await
        }
        Command::Serve(args) => serve::serve(g, load_config(g.config.as_deref())?, args).await,
        Command::Init => commands::init(g, load_config(g.config.as_deref())?).await,
        Command::Users(cmd) => {
            let p = existing(g).await?;
            let done = commands::users(&p, g, cmd).await;
            flush(&p).await;
            done
        }
        Command::Clients(cmd) => {
            let p = existing(g).await?;
            let done = commands::clients(&p, g, cmd).await;
            flush(&p).await;
            done
        }
        Command::Keys(cmd) => commands::keys(&existing(g).await?, g, cmd).await,
        Command::Tenants(cmd) => commands::tenants(&existing(g).await?, g, cmd).await,
    }
}

/// Sends the back-channel logout tokens a command queued (ending a user's sessions tells
/// the clients) before the process exits.
async fn flush(p: &Provider) {
    if !p.flush_notifications(Duration::from_secs(15)).await {
        note("warning: some back-channel logout notifications could not be delivered in time");
    }
}

/// The log on standard error: `IDP_LOG` filters (default `info`), `IDP_LOG_FORMAT` or the
/// file's `log_format` chooses text or JSON, and colour only on a terminal.
fn init_logging(format: LogFormat) {
    use std::io::IsTerminal;
    let format = match std::env::var("IDP_LOG_FORMAT").as_deref() {
        Ok("json") => LogFormat::Json,
        Ok("text" | "pretty") => LogFormat::Text,
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

/// Reports a failure on standard error: `error: …`, or `{"error": …}` under `--json`.
fn report(failure: &Failure, json: bool) {
    if json {
        let mut body = serde_json::json!({ "error": failure.to_string() });
        if let Failure::Problems { problems, .. } = failure {
            body["problems"] = serde_json::json!(problems);
        }
        note(&body.to_string());
    } else {
        match failure {
            Failure::Problems { problems, .. } => {
                for p in problems {
                    note(&format!("error: {p}"));
                }
            }
            other => note(&format!("error: {other}")),
        }
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    // Known before parsing, so that a usage error is JSON too.
    let json = args.iter().any(|a| a == "--json");
    let cli = match Cli::try_parse_from(&args) {
        Ok(cli) => cli,
        Err(e) => {
            use clap::error::ErrorKind;
            if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) || !json {
                // Help on stdout, usage errors on stderr, a closed pipe ignored.
                let _ = e.print();
                return ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(2));
            }
            let text = e.render().to_string();
            let message: Vec<&str> = text
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with("Usage:") && !l.starts_with("For more"))
                .collect();
            let message = message.join(" ");
            report(
                &Failure::msg(message.strip_prefix("error: ").unwrap_or(&message)),
                true,
            );
            return ExitCode::from(2);
        }
    };
    // The configuration file says how to log; reading it is the one thing before logging.
    let format = load_config(cli.global.config.as_deref())
        .map(|c| c.log_format())
        .unwrap_or_default();
    init_logging(format);
    let json = cli.global.json;
    let done = run(cli).await;
    let _ = std::io::stdout().flush();
    match done {
        Ok(()) | Err(Failure::BrokenPipe) => ExitCode::SUCCESS,
        Err(f) => {
            report(&f, json);
            ExitCode::FAILURE
        }
    }
}
