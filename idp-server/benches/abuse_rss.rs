//! Peak memory of the real `idp serve` process under the floods of issue 10, read from
//! `/proc/PID/status` (`VmHWM`): 128 concurrent sign-ins with random e-mails, and 32
//! concurrent first client_credentials requests on a cold start. Targets: under 256 MiB and
//! under 96 MiB. Loopback only; every loop is bounded.
//!
//! Run with `cargo bench -p idp-server --bench abuse_rss` (Linux).

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

const BIN: &str = env!("CARGO_BIN_EXE_idp");

/// `idp serve --dev` in a fresh directory: the child, its base URL.
async fn start(dir: &std::path::Path) -> (Child, String) {
    let mut child = Command::new(BIN)
        .current_dir(dir)
        .args(["serve", "--dev", "--listen", "127.0.0.1:0"])
        .env_remove("IDP_ENCRYPTION_KEY")
        .env_remove("IDP_DATABASE_URL")
        .env_remove("IDP_CONFIG")
        .env("IDP_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let base = loop {
        let line = tokio::time::timeout(Duration::from_secs(60), lines.next_line())
            .await
            .expect("idp did not start")
            .unwrap()
            .expect("idp exited");
        if let Some(url) = line.strip_prefix("idp listening on ") {
            break url.to_owned();
        }
    };
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    (child, base)
}

/// Resident-set figures of a process, in MiB: (current, peak).
fn rss(pid: u32) -> (f64, f64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kib = |field: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(field))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (kib("VmRSS:") / 1024.0, kib("VmHWM:") / 1024.0)
}

/// One sign-in attempt by a fresh browser with a random e-mail.
async fn bogus_login(base: String, i: usize) -> u16 {
    let http = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let authorize = format!("{base}/oauth/authorize");
    let page = http
        .get(&authorize)
        .query(&[
            ("client_id", "test-app"),
            ("redirect_uri", "http://localhost:3000/callback"),
            ("response_type", "code"),
            ("scope", "openid"),
        ])
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let mut form: Vec<(String, String)> = page
        .split("<input type=\"hidden\" ")
        .skip(1)
        .filter_map(|chunk| {
            let name = chunk.split("name=\"").nth(1)?.split('"').next()?;
            let value = chunk.split("value=\"").nth(1)?.split('"').next()?;
            Some((name.to_owned(), unescape(value)))
        })
        .collect();
    form.push((
        "email".into(),
        format!("nobody-{i}-{}@example.com", rand_suffix()),
    ));
    form.push(("password".into(), "not the password".into()));
    http.post(&authorize)
        .form(&form)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// The HTML escapes minijinja writes in attribute values.
fn unescape(v: &str) -> String {
    v.replace("&#x2f;", "/")
        .replace("&#x27;", "'")
        .replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

fn rand_suffix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos().into())
}

async fn logins() {
    let dir = tempfile::tempdir().unwrap();
    let (child, base) = start(dir.path()).await;
    let pid = child.id().unwrap();
    let (before, _) = rss(pid);
    let started = Instant::now();
    let n: usize = std::env::var("IDP_BENCH_LOGINS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(128);
    let tasks: Vec<_> = (0..n)
        .map(|i| tokio::spawn(bogus_login(base.clone(), i)))
        .collect();
    let mut statuses = std::collections::BTreeMap::new();
    for t in tasks {
        *statuses.entry(t.await.unwrap()).or_insert(0) += 1;
    }
    let (after, peak) = rss(pid);
    println!(
        "{n} concurrent bogus sign-ins: statuses {statuses:?} in {:.1} s; RSS before {before:.0} MiB, after {after:.0} MiB, peak {peak:.0} MiB (target < 256)",
        started.elapsed().as_secs_f64()
    );
}

async fn cold_client_credentials() {
    let dir = tempfile::tempdir().unwrap();
    let (child, base) = start(dir.path()).await;
    let pid = child.id().unwrap();
    let (before, _) = rss(pid);
    let http = reqwest::Client::new();
    let tasks: Vec<_> = (0..32)
        .map(|_| {
            let req = http
                .post(format!("{base}/oauth/token"))
                .basic_auth("test-service", Some("test-service-secret"))
                .form(&[("grant_type", "client_credentials")]);
            tokio::spawn(async move { req.send().await.unwrap().status().as_u16() })
        })
        .collect();
    let mut statuses = std::collections::BTreeMap::new();
    for t in tasks {
        *statuses.entry(t.await.unwrap()).or_insert(0) += 1;
    }
    let (after, peak) = rss(pid);
    println!(
        "32 concurrent first client_credentials: statuses {statuses:?}; RSS before {before:.0} MiB, after {after:.0} MiB, peak {peak:.0} MiB (target < 96)"
    );
}

fn main() {
    // `cargo test --benches` runs this with `--test`-like flags only under `cargo bench`.
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        logins().await;
        cold_client_credentials().await;
    });
}
