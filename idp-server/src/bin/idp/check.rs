//! `idp config check FILE`: loads a configuration file and reports what the provider would
//! refuse at start-up, without opening (or creating) the database.

use std::path::Path;

use idp_server::Config;

use crate::cli::Global;
use crate::commands::print_json;
use crate::db::{self, Database, Strength};
use crate::{Failure, say};

/// Problems (the provider would not start) and warnings (it would, but look).
#[derive(Default)]
struct Findings {
    problems: Vec<String>,
    warnings: Vec<String>,
}

pub(crate) async fn config_check(g: &Global, path: &Path) -> Result<(), Failure> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path)
        .map_err(|e| Failure::msg(format!("cannot read {name}: {e}")))?;
    let config: Config = toml::from_str(&text).map_err(|e| Failure::Problems {
        summary: format!("{name} is not a valid configuration"),
        problems: vec![format!("{name}: {}", e.to_string().trim())],
    })?;
    let mut f = Findings::default();
    if let Err(e) = config.check() {
        f.problems.push(e.to_string());
    }
    match config.issuer() {
        None => f.warnings.push(
            "no issuer: `idp serve` would use http://localhost:4000 (set issuer = \
             \"https://id.example.com\")"
                .into(),
        ),
        Some(i) => match url::Url::parse(i) {
            Ok(u) if matches!(u.scheme(), "https" | "http") => {}
            _ => f
                .problems
                .push(format!("issuer {i:?} is not an http(s) URL")),
        },
    }
    let mut database = None;
    match config.database_url() {
        None => f
            .warnings
            .push("no database_url: commands use sqlite://idp.db in the working directory".into()),
        Some(url) => {
            database = Some(db::describe(url));
            match Database::parse(url).await {
                Err(e) => f.problems.push(format!("database_url: {e}")),
                Ok(Database::Memory) => f.warnings.push(
                    "database_url is in memory: everything is lost when the server stops".into(),
                ),
                Ok(Database::SqliteFile(p)) => {
                    let dir = p.parent().filter(|d| !d.as_os_str().is_empty());
                    if let Some(dir) = dir
                        && !dir.is_dir()
                    {
                        f.problems.push(format!(
                            "database_url: directory {} does not exist",
                            dir.display()
                        ));
                    } else if !p.exists() {
                        f.warnings.push(format!(
                            "database {} does not exist yet: `idp init --config {name}` \
                             creates it",
                            p.display()
                        ));
                    }
                }
                Ok(Database::Server) => {}
            }
        }
    }
    match config.encryption_key() {
        None => f.warnings.push(
            "no encryption_key: set IDP_ENCRYPTION_KEY when running (64 hex characters, \
             `openssl rand -hex 32`)"
                .into(),
        ),
        Some(k) => match db::key_strength(k, "encryption_key") {
            Err(e) => f.problems.push(e.to_string()),
            Ok(Strength::Text) => f.problems.push(
                "encryption_key looks like text, not a random key: use 64 hex characters or \
                 base64 of at least 32 random bytes (`openssl rand -hex 32`); a text key is \
                 accepted only for a database whose signing keys it already encrypts"
                    .into(),
            ),
            Ok(Strength::Random) => {}
        },
    }
    if !f.problems.is_empty() {
        let n = f.problems.len();
        return Err(Failure::Problems {
            summary: format!(
                "{name}: {n} problem{}: {}",
                if n == 1 { "" } else { "s" },
                f.problems.join("; ")
            ),
            problems: f
                .problems
                .into_iter()
                .map(|p| format!("{name}: {p}"))
                .collect(),
        });
    }
    let listen = config
        .listen()
        .map_or_else(|| "127.0.0.1:4000 (default)".to_owned(), str::to_owned);
    let issuer = config.issuer().unwrap_or("http://localhost:4000 (default)");
    let database = database.unwrap_or_else(|| "idp.db (default)".into());
    if g.json {
        return print_json(&serde_json::json!({
            "ok": true,
            "file": name,
            "issuer": config.issuer(),
            "listen": config.listen(),
            "database": config.database_url().map(db::describe),
            "encryption_key_set": config.encryption_key().is_some(),
            "warnings": f.warnings,
        }));
    }
    say(&format!("{name}: ok"))?;
    say(&format!("  issuer:   {issuer}"))?;
    say(&format!("  listen:   {listen}"))?;
    say(&format!("  database: {database}"))?;
    say(&format!(
        "  encryption key: {}",
        if config.encryption_key().is_some() {
            "set"
        } else {
            "not set"
        }
    ))?;
    for w in &f.warnings {
        say(&format!("  warning: {w}"))?;
    }
    Ok(())
}
