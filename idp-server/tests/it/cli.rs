//! The `idp` binary: `serve --dev`, graceful shutdown, and the management subcommands.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

const BIN: &str = env!("CARGO_BIN_EXE_idp");

/// A random-looking encryption key (64 hex characters), as `openssl rand -hex 32` makes.
const KEY: &str = "3f9c2a7be41d5068c7a9f1e2d3b4c5a6978877665544332211a0b1c2d3e4f5a6";

fn idp(dir: &Path) -> Command {
    let mut c = Command::new(BIN);
    c.current_dir(dir)
        .env_remove("IDP_ENCRYPTION_KEY")
        .env_remove("IDP_DATABASE_URL")
        .env_remove("IDP_ISSUER")
        .env_remove("IDP_LISTEN")
        .env_remove("IDP_CONFIG")
        .kill_on_drop(true);
    c
}

/// Starts `idp serve --dev` on an ephemeral port; returns the child, its base URL and the
/// lines it printed up to "listening".
async fn serve_dev(dir: &Path) -> (Child, String, Vec<String>) {
    let mut child = idp(dir)
        .args(["serve", "--dev", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut seen = Vec::new();
    let mut base = None;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while seen.len() < 9 || base.is_none() {
        let line = tokio::time::timeout_at(deadline, lines.next_line())
            .await
            .expect("idp serve --dev did not start in time")
            .unwrap()
            .expect("idp exited early");
        if let Some(url) = line.strip_prefix("idp listening on ") {
            base = Some(url.to_owned());
        }
        seen.push(line);
    }
    // Keep draining stdout so the child never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    (child, base.unwrap(), seen)
}

async fn output(dir: &Path, args: &[&str]) -> (bool, String, String) {
    let out = idp(dir).args(args).output().await.unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

async fn json(dir: &Path, args: &[&str]) -> serde_json::Value {
    let mut all = args.to_vec();
    all.push("--json");
    let (ok, out, err) = output(dir, &all).await;
    assert!(ok, "idp {args:?} failed: {err}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"))
}

fn terminate(child: &Child) {
    let pid = child.id().unwrap().to_string();
    let status = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(status.success());
}

#[tokio::test]
async fn serve_dev_prints_credentials_is_idempotent_and_shuts_down_gracefully() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, base, lines) = serve_dev(dir.path()).await;
    let text = lines.join("\n");
    assert!(text.contains("issuer: http://localhost:4000"), "{text}");
    assert!(
        text.contains("dev@example.com / dev-password-123"),
        "{text}"
    );
    assert!(text.contains("test-app / test-secret"), "{text}");
    assert!(text.contains("http://localhost:3000/callback"), "{text}");
    assert!(dir.path().join("idp.db").exists());
    assert!(dir.path().join("idp.db.key").exists());

    let http = reqwest::Client::new();
    let d: serde_json::Value = http
        .get(format!("{base}/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(d["issuer"], "http://localhost:4000");
    // The dev device client gets codes for the device page.
    assert!(text.contains("dev device client: dev-device"), "{text}");
    let codes: serde_json::Value = http
        .post(format!("{base}/oauth/device_authorization"))
        .form(&[
            ("client_id", "dev-device"),
            ("scope", "openid offline_access"),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        codes["verification_uri"], "http://localhost:4000/device",
        "{codes}"
    );
    let jwks: serde_json::Value = http
        .get(format!("{base}/.well-known/jwks.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let kids_before = jwks["keys"].clone();

    terminate(&child);
    let status = tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "exit after SIGTERM: {status:?}");

    // Second start: same keys, still one dev user and one dev client.
    let (child2, base2, _) = serve_dev(dir.path()).await;
    let jwks2: serde_json::Value = http
        .get(format!("{base2}/.well-known/jwks.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(jwks2["keys"], kids_before);
    let users = json(dir.path(), &["users", "list"]).await;
    assert_eq!(users.as_array().unwrap().len(), 1, "{users}");
    let clients = json(dir.path(), &["clients", "list"]).await;
    let ids: Vec<&str> = clients
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["client_id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        ["dev-device", "test-app", "test-cli", "test-service"],
        "{clients}"
    );
    drop(child2);
}

#[tokio::test]
async fn management_subcommands_against_a_database() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("m.db").display());
    let d = dir.path();
    let key = KEY;
    let with = |args: &[&str]| -> Vec<String> {
        let mut v: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        v.extend([
            "--db".into(),
            db.clone(),
            "--encryption-key".into(),
            key.into(),
        ]);
        v
    };
    let run = |args: Vec<String>| async move {
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        output(d, &refs).await
    };
    let (ok, out, err) = run(with(&["init"])).await;
    assert!(ok && out.contains("created database"), "{out}{err}");

    let (ok, out, err) = run(with(&[
        "users",
        "add",
        "--email",
        "ada@example.com",
        "--password",
        "long enough pw",
        "--tenant",
        "acme",
    ]))
    .await;
    assert!(ok, "{err}");
    assert!(out.contains("created user ada@example.com"), "{out}");
    let (ok, _, err) = run(with(&[
        "users",
        "add",
        "--email",
        "ada@example.com",
        "--tenant",
        "acme",
    ]))
    .await;
    assert!(!ok);
    assert!(err.contains("already registered"), "{err}");
    let (ok, _, err) = run(with(&["users", "add", "--email", "broken"])).await;
    assert!(!ok && err.contains("malformed email"), "{err}");

    let list = {
        let mut a = with(&["users", "list", "--tenant", "acme"]);
        a.push("--json".into());
        let (ok, out, err) = run(a).await;
        assert!(ok, "{err}");
        serde_json::from_str::<serde_json::Value>(&out).unwrap()
    };
    assert_eq!(list[0]["email"], "ada@example.com");
    let (ok, out, _) = run(with(&[
        "users",
        "disable",
        "ada@example.com",
        "--tenant",
        "acme",
    ]))
    .await;
    assert!(ok && out.contains("disabled"), "{out}");
    let (ok, _, err) = run(with(&[
        "users",
        "set-password",
        "ada@example.com",
        "--tenant",
        "acme",
        "--password",
        "short",
    ]))
    .await;
    assert!(!ok && err.contains("at least 8"), "{err}");

    let (ok, out, err) = run(with(&[
        "clients",
        "add",
        "--id",
        "svc",
        "--grant",
        "client_credentials",
        "--scope",
        "read write",
        "--audience",
        "api",
    ]))
    .await;
    assert!(ok, "{err}");
    assert!(out.contains("client secret (shown once): "), "{out}");
    let (ok, _, err) = run(with(&[
        "clients",
        "add",
        "--id",
        "bad",
        "--redirect-uri",
        "http://example.com/cb",
    ]))
    .await;
    assert!(!ok && err.contains("non-loopback"), "{err}");
    let (ok, _, err) = run(with(&[
        "clients",
        "add",
        "--id",
        "bad",
        "--grant",
        "telepathy",
    ]))
    .await;
    assert!(
        !ok && err.contains("telepathy")
            && err.contains("authorization_code, refresh_token, client_credentials, device_code"),
        "{err}"
    );
    // The device grant, by its URN or its short name, public or confidential.
    let (ok, _, err) = run(with(&[
        "clients",
        "add",
        "--id",
        "tv",
        "--public",
        "--grant",
        "device_code",
        "--scope",
        "openid offline_access",
    ]))
    .await;
    assert!(ok, "{err}");
    let (ok, out, err) = run(with(&[
        "clients",
        "add",
        "--id",
        "set-top-box",
        "--grant",
        "urn:ietf:params:oauth:grant-type:device_code",
        "--grant",
        "refresh_token",
    ]))
    .await;
    assert!(ok && out.contains("shown once"), "{out}{err}");
    let mut a = with(&["clients", "list"]);
    a.push("--json".into());
    let (_, out, _) = run(a).await;
    let clients: serde_json::Value = serde_json::from_str(&out).unwrap();
    let grants = |id: &str| {
        clients
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["client_id"] == id)
            .map(|c| c["grant_types"].clone())
            .unwrap_or_else(|| panic!("no {id} in {clients}"))
    };
    assert_eq!(
        grants("tv"),
        serde_json::json!(["urn:ietf:params:oauth:grant-type:device_code"])
    );
    assert_eq!(
        grants("set-top-box"),
        serde_json::json!([
            "urn:ietf:params:oauth:grant-type:device_code",
            "refresh_token"
        ])
    );
    let (ok, out, err) = run(with(&["clients", "rotate-secret", "--id", "svc"])).await;
    assert!(ok && out.contains("shown once"), "{out}{err}");

    let mut a = with(&["keys", "list"]);
    a.push("--json".into());
    let (_, out, _) = run(a).await;
    let keys: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(keys.as_array().unwrap().len(), 2);
    let (ok, _, err) = run(with(&["keys", "rotate"])).await;
    assert!(ok, "{err}");
    let mut a = with(&["keys", "list"]);
    a.push("--json".into());
    let (_, out, _) = run(a).await;
    let keys: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(keys.as_array().unwrap().len(), 4);
    assert_eq!(
        keys.as_array()
            .unwrap()
            .iter()
            .filter(|k| !k["retired_at"].is_null())
            .count(),
        2
    );

    let (ok, out, _) = run(with(&["clients", "delete", "--id", "svc"])).await;
    assert!(ok && out.contains("deleted"), "{out}");
    // Without an encryption key the CLI says what is missing.
    let (ok, _, err) = output(d, &["keys", "list", "--db", &db]).await;
    assert!(!ok && err.contains("encryption key"), "{err}");
}

#[tokio::test]
async fn config_file_sets_issuer_and_lifetimes_and_flags_win() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("idp.toml"),
        format!(
            "issuer = \"https://id.example.com\"\n\
             database_url = \"sqlite://{}\"\n\
             encryption_key = \"{KEY}\"\n\
             access_token_ttl = \"5m\"\n\
             jwks_max_age = \"1m\"\n",
            d.join("cfg.db").display()
        ),
    )
    .unwrap();
    let mut child = idp(d)
        .args(["serve", "--config", "idp.toml", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = tokio::time::timeout(Duration::from_secs(60), lines.next_line())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let base = first.strip_prefix("idp listening on ").unwrap().to_owned();
    let http = reqwest::Client::new();
    let d_json: serde_json::Value = http
        .get(format!("{base}/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(d_json["issuer"], "https://id.example.com");
    assert_eq!(
        d_json["token_endpoint"],
        "https://id.example.com/oauth/token"
    );
    let jwks = http
        .get(format!("{base}/.well-known/jwks.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(jwks.headers()["cache-control"], "public, max-age=60");
    drop(child);

    // A flag wins over the file.
    let mut child = idp(d)
        .args([
            "serve",
            "--config",
            "idp.toml",
            "--listen",
            "127.0.0.1:0",
            "--issuer",
            "https://other.example.com",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut issuer_line = String::new();
    for _ in 0..3 {
        let l = tokio::time::timeout(Duration::from_secs(60), lines.next_line())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        if l.starts_with("issuer:") {
            issuer_line = l;
        }
    }
    assert_eq!(issuer_line, "issuer: https://other.example.com");
    drop(child);

    // Unknown settings are refused.
    std::fs::write(d.join("bad.toml"), "isuer = \"typo\"\n").unwrap();
    let (ok, _, err) = output(d, &["serve", "--config", "bad.toml"]).await;
    assert!(!ok && err.contains("isuer"), "{err}");
}

#[tokio::test]
async fn dev_mode_refuses_a_key_it_could_not_keep_and_urls_are_not_echoed() {
    let dir = tempfile::tempdir().unwrap();
    let (ok, _, err) = output(
        dir.path(),
        &[
            "serve",
            "--dev",
            "--db",
            "postgres://idp@127.0.0.1:1/idp",
            "--listen",
            "127.0.0.1:0",
        ],
    )
    .await;
    assert!(!ok && err.contains("IDP_ENCRYPTION_KEY"), "{err}");
    let (ok, _, err) = output(
        dir.path(),
        &[
            "users",
            "list",
            "--db",
            "postgress://admin:hunter2@db/idp",
            "--encryption-key",
            "k".repeat(32).as_str(),
        ],
    )
    .await;
    assert!(!ok && err.contains("unsupported database URL"), "{err}");
    assert!(!err.contains("hunter2"), "password echoed: {err}");
}

/// `users set-password` and `users end-sessions` end access and say so in the audit log;
/// `IDP_LOG_FORMAT=json` writes one JSON object per line, without colour codes and without
/// the password; `clients add --backchannel-logout-uri` is checked like a redirect URI.
#[tokio::test]
async fn ending_access_on_the_command_line_logs_json_audit_events() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let db = format!("sqlite://{}", d.join("a.db").display());
    let base = ["--db", db.as_str(), "--encryption-key", KEY];
    let run = |args: &[&str]| {
        let mut all: Vec<&str> = args.to_vec();
        all.extend(base);
        let mut c = idp(d);
        c.args(all)
            .env("IDP_LOG_FORMAT", "json")
            .env("IDP_LOG", "idp::audit=info,warn");
        async move { c.output().await.unwrap() }
    };
    assert!(run(&["init"]).await.status.success());
    let out = run(&[
        "users",
        "add",
        "--email",
        "ada@example.com",
        "--password",
        "first long password",
    ])
    .await;
    assert!(out.status.success());
    let out = run(&[
        "users",
        "set-password",
        "ada@example.com",
        "--password",
        "second long password",
    ])
    .await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out2 = run(&["users", "end-sessions", "ada@example.com"]).await;
    assert!(
        out2.status.success(),
        "{}",
        String::from_utf8_lossy(&out2.stderr)
    );
    assert!(String::from_utf8_lossy(&out2.stdout).contains("ended every session"));

    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out2.stderr)
    );
    assert!(
        !log.contains('\u{1b}'),
        "colour codes in a redirected log: {log}"
    );
    assert!(!log.contains("second long password"));
    let events: Vec<String> = log
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap_or_else(|e| panic!("{e}: {l}"))
        })
        .filter(|e| e["target"] == "idp::audit")
        .map(|e| e["fields"]["event"].as_str().unwrap_or_default().to_owned())
        .collect();
    for expected in ["password_changed", "user_access_ended"] {
        assert!(
            events.iter().any(|e| e == expected),
            "{expected} not in {events:?}"
        );
    }

    let out = run(&[
        "clients",
        "add",
        "--id",
        "rp",
        "--redirect-uri",
        "https://rp.example/cb",
        "--scope",
        "openid",
        "--backchannel-logout-uri",
        "http://rp.example/logout",
    ])
    .await;
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("http"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run(&[
        "clients",
        "add",
        "--id",
        "rp",
        "--redirect-uri",
        "https://rp.example/cb",
        "--scope",
        "openid",
        "--backchannel-logout-uri",
        "https://rp.example/logout",
    ])
    .await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
async fn attributes_on_the_command_line_follow_the_configured_schema() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("idp.toml"),
        format!(
            "issuer = \"https://id.example.com\"\n\
             database_url = \"sqlite://{}\"\n\
             encryption_key = \"{KEY}\"\n\
             scopes_supported = [\"openid\", \"roles\"]\n\
             [scope_descriptions]\n\
             roles = \"Your role\"\n\
             [user_attributes.role]\n\
             type = \"enum\"\n\
             values = [\"user\", \"admin\", \"owner\"]\n\
             required = true\n\
             [user_attributes.department]\n\
             type = \"string\"\n\
             default = \"general\"\n\
             [user_attributes.seats]\n\
             type = \"integer\"\n\
             [client_attributes.logoUrl]\n\
             type = \"url\"\n\
             [[claims]]\n\
             attribute = \"role\"\n\
             claim = \"role\"\n\
             scope = \"roles\"\n\
             tokens = [\"access_token\"]\n",
            d.join("attrs.db").display()
        ),
    )
    .unwrap();
    let cfg = ["--config", "idp.toml"];
    let (ok, _, err) = output(d, &["init", "--config", "idp.toml"]).await;
    assert!(ok, "{err}");
    let u = json(
        d,
        &[
            &cfg[..],
            &[
                "users",
                "add",
                "--email",
                "a@example.com",
                "--attr",
                "role=admin",
                "--attr",
                "seats=3",
            ],
        ]
        .concat(),
    )
    .await;
    assert_eq!(
        u["attributes"],
        serde_json::json!({"role": "admin", "seats": 3, "department": "general"})
    );
    // Refusals name the attribute; nothing is stored.
    for (attrs, want) in [
        (vec![], "attribute `role` is required"),
        (
            vec!["--attr", "role=root"],
            "attribute `role` must be one of user, admin, owner",
        ),
        (
            vec!["--attr", "role=user", "--attr", "seats=many"],
            "attribute `seats` must be an integer",
        ),
        (
            vec!["--attr", "role=user", "--attr", "colour=red"],
            "attribute `colour` is not defined",
        ),
    ] {
        let args = [
            &cfg[..],
            &["users", "add", "--email", "b@example.com"],
            &attrs[..],
        ]
        .concat();
        let (ok, _, err) = output(d, &args).await;
        assert!(!ok && err.contains(want), "{args:?}: {err}");
    }
    let (ok, _, err) = output(
        d,
        &[
            &cfg[..],
            &[
                "users",
                "add",
                "--email",
                "c@example.com",
                "--attr",
                "novalue",
            ],
        ]
        .concat(),
    )
    .await;
    assert!(!ok && err.contains("KEY=VALUE"), "{err}");
    let listed = json(d, &[&cfg[..], &["users", "list"]].concat()).await;
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");
    let (ok, _, err) = output(
        d,
        &[
            &cfg[..],
            &[
                "clients",
                "add",
                "--id",
                "svc",
                "--grant",
                "client_credentials",
                "--scope",
                "roles",
                "--attr",
                "logoUrl=ftp://x",
            ],
        ]
        .concat(),
    )
    .await;
    assert!(
        !ok && err.contains("attribute `logoUrl` must be an http(s) URL"),
        "{err}"
    );

    // A claim that would shadow a registered one stops the provider from starting.
    let text = std::fs::read_to_string(d.join("idp.toml")).unwrap();
    std::fs::write(
        d.join("bad.toml"),
        text.replace("claim = \"role\"", "claim = \"sub\""),
    )
    .unwrap();
    let (ok, _, err) = output(d, &["--config", "bad.toml", "users", "list"]).await;
    assert!(!ok && err.contains("`sub` is a registered claim"), "{err}");
}

#[tokio::test]
async fn tenants_on_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let db = format!("sqlite://{}", d.join("t.db").display());
    let base = ["--db", db.as_str()];
    let idp_json = |args: Vec<&'static str>| {
        let all: Vec<String> = base
            .iter()
            .map(|s| s.to_string())
            .chain(args.into_iter().map(String::from))
            .collect();
        async move {
            let refs: Vec<&str> = all.iter().map(String::as_str).collect();
            let mut c = idp(d);
            c.env("IDP_ENCRYPTION_KEY", KEY);
            let out = c.args(&refs).arg("--json").output().await.unwrap();
            (
                out.status.success(),
                String::from_utf8_lossy(&out.stdout).into_owned(),
                String::from_utf8_lossy(&out.stderr).into_owned(),
            )
        }
    };
    let (ok, _, err) = idp_json(vec!["init"]).await;
    assert!(ok, "{err}");
    let (ok, out, err) = idp_json(vec![
        "tenants",
        "add",
        "--id",
        "acme",
        "--name",
        "Acme",
        "--logo-url",
        "https://cdn.acme.example/l.svg",
        "--scope",
        "orders:read orders:write",
    ])
    .await;
    assert!(ok, "{err}");
    let t: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(t["allowed_scopes"], "orders:read orders:write");
    let (ok, _, err) = idp_json(vec!["tenants", "add", "--id", "acme"]).await;
    assert!(!ok && err.contains("already registered"), "{err}");
    let (ok, _, err) = idp_json(vec![
        "tenants",
        "add",
        "--id",
        "globex",
        "--logo-url",
        "ftp://x",
    ])
    .await;
    assert!(!ok && err.contains("logo URL"), "{err}");
    let (ok, out, err) = idp_json(vec![
        "tenants",
        "update",
        "--id",
        "acme",
        "--name",
        "Acme Corp",
        "--any-scope",
    ])
    .await;
    assert!(ok, "{err}");
    let t: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(t["display_name"], "Acme Corp");
    assert_eq!(t["allowed_scopes"], serde_json::Value::Null);
    let (ok, out, _) = idp_json(vec!["tenants", "list"]).await;
    assert!(ok);
    let all: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(all.as_array().unwrap().len(), 1);
}

/// `serve --dev` lets a browser app on `http://localhost:ANY-PORT` call the token endpoint
/// (preflight and request), not a look-alike origin; a file with `"*"` and credentials
/// does not start.
#[tokio::test]
async fn serve_dev_allows_cors_from_localhost_apps_and_wildcard_credentials_do_not_start() {
    let dir = tempfile::tempdir().unwrap();
    let (child, base, lines) = serve_dev(dir.path()).await;
    assert!(lines.join("\n").contains("dev CORS"), "{lines:?}");
    let http = reqwest::Client::new();
    for (origin, allowed) in [
        ("http://localhost:3000", true),
        ("http://127.0.0.1:5173", true),
        ("http://localhost.evil.com", false),
        ("https://localhost:3000", false),
    ] {
        let pre = http
            .request(reqwest::Method::OPTIONS, format!("{base}/oauth/token"))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "authorization,content-type",
            )
            .send()
            .await
            .unwrap();
        let acao = pre.headers().get("access-control-allow-origin").cloned();
        assert_eq!(acao.is_some_and(|v| v == origin), allowed, "{origin}");
        let resp = http
            .post(format!("{base}/oauth/token"))
            .header("origin", origin)
            .basic_auth("test-service", Some("test-service-secret"))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        let acao = resp.headers().get("access-control-allow-origin").cloned();
        assert_eq!(acao.is_some_and(|v| v == origin), allowed, "{origin}");
    }
    drop(child);

    std::fs::write(
        dir.path().join("star.toml"),
        "cors_allowed_origins = [\"*\"]\ncors_allow_credentials = true\n",
    )
    .unwrap();
    let (ok, _, err) = output(
        dir.path(),
        &[
            "serve",
            "--dev",
            "--config",
            "star.toml",
            "--listen",
            "127.0.0.1:0",
        ],
    )
    .await;
    assert!(!ok && err.contains("cors_allow_credentials"), "{err}");
}

// ---- issue 16: a command line without footguns ----

/// `args` plus `--db sqlite://DIR/NAME --encryption-key KEY`.
fn on_db(dir: &Path, name: &str, args: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    v.extend([
        "--db".into(),
        format!("sqlite://{}", dir.join(name).display()),
        "--encryption-key".into(),
        KEY.into(),
    ]);
    v
}

async fn run_on(dir: &Path, args: Vec<String>) -> (bool, String, String) {
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    output(dir, &refs).await
}

/// A database made by `idp init`, with one user and one client.
async fn populated(dir: &Path, name: &str) {
    for args in [
        vec!["init"],
        vec![
            "users",
            "add",
            "--email",
            "ada@example.com",
            "--password",
            "long enough pw",
        ],
        vec![
            "clients",
            "add",
            "--id",
            "svc",
            "--grant",
            "client_credentials",
            "--scope",
            "read",
        ],
    ] {
        let (ok, out, err) = run_on(dir, on_db(dir, name, &args)).await;
        assert!(ok, "{args:?}: {out}{err}");
    }
}

/// `idp users list | head`: the reader went away before the output was written; the
/// command ends quietly with status 0, no panic, no backtrace.
#[tokio::test]
async fn a_closed_pipe_is_a_quiet_exit() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    populated(d, "p.db").await;
    for args in [
        vec!["users", "list"],
        vec!["clients", "list", "--json"],
        vec!["keys", "list"],
    ] {
        let mut child = idp(d)
            .args(on_db(d, "p.db", &args))
            .env("RUST_BACKTRACE", "1")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // Close the read end before the command gets to write.
        drop(child.stdout.take());
        let out = child.wait_with_output().await.unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {err}");
        assert!(
            !err.contains("panicked") && !err.contains("Broken pipe") && !err.contains("error"),
            "{args:?}: {err}"
        );
    }
}

/// Every command answers JSON under `--json`, and its errors are `{"error": "…"}` on
/// stderr with a non-zero status (usage errors too).
#[tokio::test]
async fn json_on_every_command_and_for_errors() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let j = |args: &[&str]| {
        let mut a = on_db(d, "j.db", args);
        a.push("--json".into());
        async move {
            let (ok, out, err) = run_on(d, a).await;
            assert!(ok, "{err}");
            serde_json::from_str::<serde_json::Value>(&out).unwrap_or_else(|e| panic!("{e}: {out}"))
        }
    };
    let init = j(&["init"]).await;
    assert_eq!(init["keys"].as_array().unwrap().len(), 2, "{init}");
    let u = j(&[
        "users",
        "add",
        "--email",
        "ada@example.com",
        "--password",
        "long enough pw",
    ])
    .await;
    assert_eq!(u["password_set"], true);
    let c = j(&["clients", "add", "--id", "svc", "--scope", "read"]).await;
    assert!(c["client_secret"].is_string(), "{c}");
    for (args, key, want) in [
        (
            vec![
                "users",
                "set-password",
                "ada@example.com",
                "--password",
                "another long pw",
            ],
            "password_set",
            serde_json::json!(true),
        ),
        (
            vec!["users", "end-sessions", "ada@example.com"],
            "sessions_ended",
            serde_json::json!(true),
        ),
        (
            vec!["users", "disable", "ada@example.com"],
            "active",
            serde_json::json!(false),
        ),
        (
            vec!["clients", "rotate-secret", "--id", "svc"],
            "client_id",
            serde_json::json!("svc"),
        ),
        (
            vec!["clients", "delete", "--id", "svc"],
            "deleted",
            serde_json::json!(true),
        ),
        (
            vec!["tenants", "add", "--id", "acme"],
            "id",
            serde_json::json!("acme"),
        ),
    ] {
        let v = j(&args).await;
        assert_eq!(v[key], want, "{args:?}: {v}");
    }
    let rotated = j(&["keys", "rotate"]).await;
    assert_eq!(rotated.as_array().unwrap().len(), 2, "{rotated}");
    // `serve --json` says where it listens in one JSON line.
    let mut child = idp(d)
        .args(on_db(
            d,
            "j.db",
            &["serve", "--listen", "127.0.0.1:0", "--json"],
        ))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = tokio::time::timeout(Duration::from_secs(60), lines.next_line())
        .await
        .unwrap()
        .unwrap()
        .expect("idp exited early");
    let v: serde_json::Value = serde_json::from_str(&first).unwrap();
    assert!(
        v["listening"]
            .as_str()
            .unwrap()
            .starts_with("http://127.0.0.1:"),
        "{v}"
    );
    assert_eq!(v["issuer"], "http://localhost:4000");
    drop(child);

    for args in [
        vec!["clients", "delete", "--id", "svc"],
        vec!["users", "disable", "nobody@example.com"],
        vec!["clients", "add", "--id", "x", "--grant", "telepathy"],
        vec!["users", "add"],
    ] {
        let mut a = on_db(d, "j.db", &args);
        a.push("--json".into());
        let refs: Vec<&str> = a.iter().map(String::as_str).collect();
        let out = idp(d).args(&refs).output().await.unwrap();
        assert!(!out.status.success(), "{args:?}");
        assert!(out.stdout.is_empty(), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        let last = err.lines().last().unwrap_or_default();
        let v: serde_json::Value =
            serde_json::from_str(last).unwrap_or_else(|e| panic!("{args:?}: {e}: {err}"));
        assert!(v["error"].as_str().is_some_and(|e| !e.is_empty()), "{v}");
    }
}

/// Without an encryption key, each broken database setting is named for what it is.
#[tokio::test]
async fn without_a_key_the_real_problem_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for (db, want) in [
        (None, "database idp.db does not exist"),
        (
            Some("idp.db"),
            "has no scheme: for a SQLite file write sqlite://idp.db",
        ),
        (
            Some("mysql://root:hunter2@db/idp"),
            "unsupported database URL (scheme \"mysql\")",
        ),
        (Some("memory:"), "in-memory database"),
    ] {
        let mut args = vec!["users", "list"];
        if let Some(db) = db {
            args.extend(["--db", db]);
        }
        let (ok, _, err) = output(d, &args).await;
        assert!(!ok && err.contains(want), "{db:?}: {err}");
        assert!(!err.contains("encryption key"), "{db:?}: {err}");
        assert!(!err.contains("hunter2"), "{err}");
    }
    assert!(!d.join("idp.db").exists());
    // The key is the problem only once the database is right.
    populated(d, "k.db").await;
    let db = format!("sqlite://{}", d.join("k.db").display());
    let (ok, _, err) = output(d, &["users", "list", "--db", &db]).await;
    assert!(
        !ok && err.contains("no encryption key") && err.contains("IDP_ENCRYPTION_KEY"),
        "{err}"
    );
}

/// A mistyped database is not created: commands that read or change data refuse it,
/// naming the path and `idp init`; `idp init` creates one (once); `serve` creates one.
#[tokio::test]
async fn read_commands_refuse_a_missing_database_and_init_creates_one() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for args in [
        vec!["clients", "list"],
        vec!["users", "add", "--email", "a@example.com"],
        vec!["keys", "rotate"],
        vec!["tenants", "list"],
    ] {
        let (ok, _, err) = run_on(d, on_db(d, "missing.db", &args)).await;
        assert!(
            !ok && err.contains("missing.db does not exist") && err.contains("idp init"),
            "{args:?}: {err}"
        );
    }
    assert!(!d.join("missing.db").exists());
    let (ok, out, err) = run_on(d, on_db(d, "new.db", &["init"])).await;
    assert!(ok && out.contains("created database"), "{out}{err}");
    let (ok, out, err) = run_on(d, on_db(d, "new.db", &["clients", "list", "--json"])).await;
    assert!(ok && out.trim() == "[]", "{out}{err}");
    let (ok, _, err) = run_on(d, on_db(d, "new.db", &["init"])).await;
    assert!(!ok && err.contains("already exists"), "{err}");
    // Without a key, `idp init` keeps a generated one beside the file, as `--dev` does.
    let db = format!("sqlite://{}", d.join("own-key.db").display());
    let (ok, _, err) = output(d, &["init", "--db", &db]).await;
    assert!(ok && err.contains("own-key.db.key"), "{err}");
    let (ok, _, err) = output(d, &["keys", "list", "--db", &db]).await;
    assert!(ok, "{err}");
    // `serve` creates its database.
    let mut child = idp(d)
        .args(on_db(d, "served.db", &["serve", "--listen", "127.0.0.1:0"]))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = tokio::time::timeout(Duration::from_secs(60), lines.next_line())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(first.starts_with("idp listening on "), "{first}");
    assert!(d.join("served.db").exists());
    drop(child);
}

/// `clients add` without `--scope`: a client_credentials client is refused (it could get
/// no token), one that signs users in gets `openid` and is told; `users add` without a
/// password warns that the user cannot sign in.
#[tokio::test]
async fn clients_without_scope_and_users_without_password_are_not_silent() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    populated(d, "s.db").await;
    let (ok, _, err) = run_on(d, on_db(d, "s.db", &["clients", "add", "--id", "worker"])).await;
    assert!(!ok && err.contains("--scope is required"), "{err}");
    let (ok, out, err) = run_on(
        d,
        on_db(
            d,
            "s.db",
            &[
                "clients",
                "add",
                "--id",
                "web",
                "--redirect-uri",
                "https://app.example/cb",
            ],
        ),
    )
    .await;
    assert!(ok && out.contains("scope \"openid\""), "{out}{err}");
    assert!(err.contains("no --scope given"), "{err}");
    let (ok, out, err) = run_on(
        d,
        on_db(
            d,
            "s.db",
            &[
                "clients",
                "add",
                "--id",
                "tv",
                "--public",
                "--grant",
                "device_code",
                "--json",
            ],
        ),
    )
    .await;
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["scope"], "openid");
    let (ok, _, err) = run_on(
        d,
        on_db(d, "s.db", &["users", "add", "--email", "nopw@example.com"]),
    )
    .await;
    assert!(
        ok && err.contains("cannot sign in until one is set"),
        "{err}"
    );
    assert!(err.contains("idp users set-password"), "{err}");
}

/// Errors name what was not found and the address that is taken; an unknown grant type
/// lists the valid ones.
#[tokio::test]
async fn errors_name_the_thing_the_address_and_the_valid_values() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    populated(d, "e.db").await;
    for (args, want) in [
        (
            vec!["clients", "delete", "--id", "nope"],
            "no client with id \"nope\"",
        ),
        (
            vec!["clients", "rotate-secret", "--id", "nope"],
            "no client with id \"nope\"",
        ),
        (
            vec!["users", "disable", "bob@example.com"],
            "no user \"bob@example.com\"",
        ),
        (
            vec![
                "users",
                "set-password",
                "bob@example.com",
                "--tenant",
                "acme",
                "--password",
                "long enough pw",
            ],
            "no user \"bob@example.com\" in tenant \"acme\"",
        ),
        (
            vec!["tenants", "update", "--id", "nope", "--name", "X"],
            "no tenant \"nope\"",
        ),
        (
            vec!["clients", "add", "--id", "x", "--grant", "password"],
            "[possible values: authorization_code, refresh_token, client_credentials, device_code]",
        ),
    ] {
        let (ok, _, err) = run_on(d, on_db(d, "e.db", &args)).await;
        assert!(!ok && err.contains(want), "{args:?}: {err}");
        assert!(!err.contains("error: not found"), "{err}");
    }
    // An address in use is named.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let (ok, _, err) = run_on(d, on_db(d, "e.db", &["serve", "--listen", &addr])).await;
    assert!(
        !ok && err.contains(&format!("cannot listen on {addr}")) && err.contains("already in use"),
        "{err}"
    );
}

/// `--listen localhost:PORT` is resolved, not refused.
#[tokio::test]
async fn listen_accepts_a_host_name() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut child = idp(d)
        .args(on_db(d, "l.db", &["serve", "--listen", "localhost:0"]))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = tokio::time::timeout(Duration::from_secs(60), lines.next_line())
        .await
        .unwrap()
        .unwrap()
        .expect("idp exited early");
    let base = first.strip_prefix("idp listening on ").unwrap().to_owned();
    let status = reqwest::get(format!("{base}/health/live"))
        .await
        .unwrap()
        .status();
    assert_eq!(status, 200);
    drop(child);
    let (ok, _, err) = output(d, &["serve", "--listen", "4000"]).await;
    assert!(!ok && err.contains("HOST:PORT"), "{err}");
    // The same in the configuration file.
    std::fs::write(d.join("l.toml"), "listen = \"localhost:0\"\n").unwrap();
    let mut child = idp(d)
        .args(on_db(d, "l.db", &["serve", "--config", "l.toml"]))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = tokio::time::timeout(Duration::from_secs(60), lines.next_line())
        .await
        .unwrap()
        .unwrap()
        .expect("idp exited early");
    assert!(first.starts_with("idp listening on http://"), "{first}");
    drop(child);
    std::fs::write(d.join("bad-listen.toml"), "listen = \"4000\"\n").unwrap();
    let (ok, _, err) = output(d, &["config", "check", "bad-listen.toml"]).await;
    assert!(
        !ok && err.contains("listen \"4000\" is not HOST:PORT"),
        "{err}"
    );
}

fn is_rfc3339_utc(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 20
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            10 => *c == b'T',
            13 | 16 => *c == b':',
            19 => *c == b'Z',
            _ => c.is_ascii_digit(),
        })
}

/// `keys list` prints RFC 3339 UTC times (JSON keeps the epoch seconds beside them);
/// `keys rotate` tells the operator when a running server sees the new keys.
#[tokio::test]
async fn keys_list_prints_readable_times_and_rotate_says_when_a_server_sees_it() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    populated(d, "k.db").await;
    let (ok, out, err) = run_on(d, on_db(d, "k.db", &["keys", "list"])).await;
    assert!(ok, "{err}");
    for line in out.lines() {
        let created = line
            .split_whitespace()
            .find_map(|w| w.strip_prefix("created="))
            .unwrap();
        assert!(is_rfc3339_utc(created), "{line}");
        assert!(created.starts_with("20"), "{line}");
    }
    let (ok, out, _) = run_on(d, on_db(d, "k.db", &["keys", "list", "--json"])).await;
    assert!(ok);
    let keys: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(keys[0]["created_at"].is_i64(), "{keys}");
    assert!(
        is_rfc3339_utc(keys[0]["created"].as_str().unwrap()),
        "{keys}"
    );
    let (ok, out, err) = run_on(d, on_db(d, "k.db", &["keys", "rotate"])).await;
    assert!(ok, "{err}");
    assert!(
        out.contains("next maintenance run (once a minute)"),
        "{out}"
    );
    let (ok, out, err) = run_on(d, on_db(d, "k.db", &["keys", "rotate", "--json"])).await;
    assert!(ok && err.contains("next maintenance run"), "{err}");
    assert!(
        serde_json::from_str::<serde_json::Value>(&out).is_ok(),
        "{out}"
    );
}

/// Every flag and argument of every command has a line of help; `--grant` lists its
/// values.
#[tokio::test]
async fn every_flag_has_help_text() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let commands: &[&[&str]] = &[
        &[],
        &["serve"],
        &["init"],
        &["config"],
        &["config", "check"],
        &["users"],
        &["users", "add"],
        &["users", "list"],
        &["users", "disable"],
        &["users", "end-sessions"],
        &["users", "set-password"],
        &["clients"],
        &["clients", "add"],
        &["clients", "list"],
        &["clients", "rotate-secret"],
        &["clients", "delete"],
        &["keys"],
        &["keys", "list"],
        &["keys", "rotate"],
        &["tenants"],
        &["tenants", "add"],
        &["tenants", "list"],
        &["tenants", "update"],
    ];
    let mut entries = 0;
    for cmd in commands {
        let mut args = cmd.to_vec();
        args.push("-h");
        let (ok, out, err) = output(d, &args).await;
        assert!(ok, "{args:?}: {err}");
        let lines: Vec<&str> = out.lines().collect();
        let mut in_list = false;
        for (i, line) in lines.iter().enumerate() {
            if ["Options:", "Arguments:", "Commands:"].contains(line) {
                in_list = true;
                continue;
            }
            let indent = line.len() - line.trim_start().len();
            if !in_list || line.trim().is_empty() || indent > 6 {
                continue;
            }
            entries += 1;
            // Help on the same line (after two spaces) or on the next, indented deeper.
            let same_line = line
                .trim()
                .split_once("  ")
                .is_some_and(|(_, h)| !h.trim().is_empty());
            let next_line = lines
                .get(i + 1)
                .is_some_and(|n| n.len() - n.trim_start().len() > indent && !n.trim().is_empty());
            assert!(
                same_line || next_line,
                "no help for `{}` in idp {}",
                line.trim(),
                cmd.join(" ")
            );
        }
    }
    assert!(entries > 100, "{entries} entries: the help format changed?");
    // Help shows which variables are set, never their values (a URL may hold a password).
    let out = idp(d)
        .args(["users", "list", "--help"])
        .env("IDP_DATABASE_URL", "postgres://idp:hunter2@db/idp")
        .env("IDP_ENCRYPTION_KEY", KEY)
        .output()
        .await
        .unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(help.contains("IDP_DATABASE_URL"), "{help}");
    assert!(!help.contains("hunter2") && !help.contains(KEY), "{help}");
    let (_, out, _) = output(d, &["users", "add", "--help"]).await;
    assert!(
        out.contains("--email <EMAIL>\n          The user's e-mail"),
        "{out}"
    );
    let (_, out, _) = output(d, &["clients", "add", "-h"]).await;
    assert!(
        out.contains(
            "[possible values: authorization_code, refresh_token, client_credentials, device_code]"
        ),
        "{out}"
    );
    let (_, out, _) = output(d, &["clients", "add", "--help"]).await;
    assert!(
        out.contains("- client_credentials: A service gets tokens for itself"),
        "{out}"
    );
}

/// The README's placeholder is not a key; a new database needs a random one (a text key
/// made before that rule keeps working, with a warning); a SQLite open error names the
/// path; a missing `templates_dir` stops the start.
#[tokio::test]
async fn placeholder_and_text_keys_sqlite_paths_and_templates_dir() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let db = format!("sqlite://{}", d.join("n.db").display());
    for (key, want) in [
        ("at least 32 bytes, e.g. 64 hex characters", "placeholder"),
        (
            "a passphrase someone could well guess",
            "looks like text, not a random key",
        ),
        ("0123456789abcdef", "too short"),
    ] {
        let (ok, _, err) = output(d, &["init", "--db", &db, "--encryption-key", key]).await;
        assert!(!ok && err.contains(want), "{key}: {err}");
        assert!(!err.contains(key), "the key was printed: {err}");
    }
    assert!(!d.join("n.db").exists());
    // A database whose keys a text key already encrypts (as before the rule) still opens.
    let text_key = "a management test key that is long enough";
    let store = idp_server::store::connect(&format!("sqlite://{}", d.join("old.db").display()))
        .await
        .unwrap();
    idp_server::Provider::builder()
        .issuer("http://localhost:4000")
        .store(store)
        .encryption_key(text_key)
        .build()
        .await
        .unwrap();
    let old = format!("sqlite://{}", d.join("old.db").display());
    let (ok, out, err) = output(
        d,
        &["keys", "list", "--db", &old, "--encryption-key", text_key],
    )
    .await;
    assert!(ok && out.lines().count() == 2, "{out}{err}");
    assert!(
        err.contains("warning") && err.contains("looks like text"),
        "{err}"
    );
    // A SQLite file that cannot be opened: the message names it.
    std::fs::create_dir(d.join("a-directory.db")).unwrap();
    let (ok, _, err) = run_on(d, on_db(d, "a-directory.db", &["users", "list"])).await;
    assert!(
        !ok && err.contains("cannot open SQLite database") && err.contains("a-directory.db"),
        "{err}"
    );
    // templates_dir that does not exist.
    std::fs::write(
        d.join("t.toml"),
        "templates_dir = \"/nonexistent/templates\"\n",
    )
    .unwrap();
    let mut args = on_db(d, "t.db", &["serve", "--listen", "127.0.0.1:0"]);
    args.extend(["--config".into(), "t.toml".into()]);
    let (ok, _, err) = run_on(d, args).await;
    assert!(
        !ok && err.contains("templates_dir /nonexistent/templates: no such directory"),
        "{err}"
    );
    assert!(
        !d.join("t.db").exists(),
        "a database was created before the check"
    );
}

/// `idp config check FILE` says what is wrong (status 1) or "ok" with a summary.
#[tokio::test]
async fn config_check_reports_problems_or_ok() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("sample.toml"),
        "issuer = \"https://id.example.com\"\n\
         database_url = \"sqlite:///nonexistent/idp/idp.db\"\n\
         encryption_key = \"at least 32 bytes, e.g. 64 hex characters\"\n\
         templates_dir = \"/nonexistent/templates\"\n",
    )
    .unwrap();
    let (ok, out, err) = output(d, &["config", "check", "sample.toml"]).await;
    assert!(!ok && out.is_empty(), "{out}");
    for want in [
        "templates_dir",
        "directory /nonexistent/idp does not exist",
        "placeholder",
    ] {
        assert!(err.contains(want), "{want}: {err}");
    }
    assert!(
        !err.contains("at least 32 bytes, e.g."),
        "the key was printed: {err}"
    );
    let (ok, _, err) = output(d, &["config", "check", "sample.toml", "--json"]).await;
    let v: serde_json::Value = serde_json::from_str(err.trim()).unwrap();
    assert!(!ok && v["problems"].as_array().unwrap().len() == 3, "{v}");
    std::fs::write(d.join("typo.toml"), "isuer = \"x\"\n").unwrap();
    let (ok, _, err) = output(d, &["config", "check", "typo.toml"]).await;
    assert!(!ok && err.contains("isuer"), "{err}");
    let (ok, _, err) = output(d, &["config", "check", "absent.toml"]).await;
    assert!(!ok && err.contains("cannot read absent.toml"), "{err}");

    std::fs::write(
        d.join("good.toml"),
        format!(
            "issuer = \"https://id.example.com\"\n\
             database_url = \"sqlite://{}\"\n\
             encryption_key = \"{KEY}\"\n",
            d.join("good.db").display()
        ),
    )
    .unwrap();
    let (ok, out, err) = output(d, &["config", "check", "good.toml"]).await;
    assert!(ok, "{err}");
    assert!(out.starts_with("good.toml: ok"), "{out}");
    assert!(out.contains("issuer:   https://id.example.com"), "{out}");
    assert!(out.contains("idp init"), "{out}");
    assert!(!out.contains(KEY), "{out}");
    let (ok, out, _) = output(d, &["config", "check", "good.toml", "--json"]).await;
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(ok && v["ok"] == true, "{v}");
}

/// The README's configuration sample parses and passes `idp config check` once its
/// placeholder key and its paths are replaced; as printed, the placeholder is refused.
#[tokio::test]
async fn the_readme_configuration_sample_is_checked() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md")).unwrap();
    let section = &readme[readme
        .find("### Configuration file (`--config idp.toml`)")
        .unwrap()..];
    let start = section.find("```toml\n").unwrap() + "```toml\n".len();
    let sample = &section[start..start + section[start..].find("```").unwrap()];
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("as-printed.toml"), sample).unwrap();
    let (ok, _, err) = output(d, &["config", "check", "as-printed.toml"]).await;
    assert!(!ok && err.contains("placeholder"), "{err}");
    std::fs::create_dir(d.join("templates")).unwrap();
    let placeholder = sample
        .lines()
        .find_map(|l| l.strip_prefix("encryption_key = \""))
        .and_then(|l| l.split('"').next())
        .unwrap();
    let adapted = sample
        .replace(placeholder, KEY)
        .replace(
            "/etc/idp/templates",
            &d.join("templates").display().to_string(),
        )
        .replace(
            "/var/lib/idp/idp.db",
            &d.join("idp.db").display().to_string(),
        );
    std::fs::write(d.join("adapted.toml"), adapted).unwrap();
    let (ok, out, err) = output(d, &["config", "check", "adapted.toml"]).await;
    assert!(ok && out.starts_with("adapted.toml: ok"), "{out}{err}");
}

/// The management commands do not read the TLS files of the configuration (only `serve`
/// does), so they work for an operator who may not read the private key.
#[tokio::test]
async fn management_commands_do_not_read_the_tls_files() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    populated(d, "tls.db").await;
    std::fs::write(
        d.join("tls.toml"),
        "issuer = \"https://id.example.com\"\n\
         tls_cert = \"/nonexistent/cert.pem\"\n\
         tls_key = \"/nonexistent/key.pem\"\n",
    )
    .unwrap();
    let mut args = on_db(d, "tls.db", &["users", "list"]);
    args.extend(["--config".into(), "tls.toml".into()]);
    let (ok, out, err) = run_on(d, args).await;
    assert!(ok, "{out}{err}");
    assert!(out.contains("ada@example.com"), "{out}");
    // Serving does read them, and says which one is missing.
    let mut args = on_db(d, "tls.db", &["serve", "--listen", "127.0.0.1:0"]);
    args.extend(["--config".into(), "tls.toml".into()]);
    let (ok, _, err) = run_on(d, args).await;
    assert!(!ok && err.contains("/nonexistent/cert.pem"), "{err}");
}
