//! The `idp` binary: `serve --dev`, graceful shutdown, and the management subcommands.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

const BIN: &str = env!("CARGO_BIN_EXE_idp");

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
    let key = "a management test key that is long enough";
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
    assert!(!ok && err.contains("grant type"), "{err}");
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
             encryption_key = \"a config-file key that is long enough!!\"\n\
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
    let base = [
        "--db",
        db.as_str(),
        "--encryption-key",
        "an audit test key that is long enough",
    ];
    let run = |args: &[&str]| {
        let mut all: Vec<&str> = args.to_vec();
        all.extend(base);
        let mut c = idp(d);
        c.args(all)
            .env("IDP_LOG_FORMAT", "json")
            .env("IDP_LOG", "idp::audit=info,warn");
        async move { c.output().await.unwrap() }
    };
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
             encryption_key = \"a config-file key that is long enough!!\"\n\
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
            c.env(
                "IDP_ENCRYPTION_KEY",
                "a command-line key that is long enough!!",
            );
            let out = c.args(&refs).arg("--json").output().await.unwrap();
            (
                out.status.success(),
                String::from_utf8_lossy(&out.stdout).into_owned(),
                String::from_utf8_lossy(&out.stderr).into_owned(),
            )
        }
    };
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
