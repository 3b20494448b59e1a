//! `idp-bench drive`: the endpoints that wrk cannot drive because every request needs state
//! from an earlier one (a fresh CSRF cookie, an unused code, the refresh token the last
//! rotation returned). Closed loop: `conns` workers, each sending its next request when its
//! last one is answered, for a bounded time.
//!
//! Scenarios, run in this order against the client and user that `bench/run` registers:
//! - `password_login`: GET the authorize URL without a session (the login page and its CSRF
//!   cookie), POST e-mail and password, expect the redirect with a code: one argon2id
//!   verification per iteration.
//! - `authorize_with_session`: GET the authorize URL with a session cookie (one sign-in per
//!   worker beforehand), expect the redirect with a code. The codes are kept for:
//! - `code_exchange`: POST each code (with its PKCE verifier) to the token endpoint.
//! - `refresh_rotation`: each worker rotates its own refresh token (from the exchanges)
//!   again and again.
//!
//! Each prints one line `name  requests/s  p50 ms  p99 ms  errors` (tab-separated), the
//! format `bench/run` collects. A user access token is written to `TOKEN_FILE` for the
//! wrk-driven userinfo and introspection measurements.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use reqwest::header::{AUTHORIZATION, COOKIE, LOCATION, SET_COOKIE};

/// The client and user `bench/run` registers.
pub(crate) const CLIENT: &str = "web";
pub(crate) const SECRET: &str = "web-secret";
pub(crate) const EMAIL: &str = "bench@example.com";
pub(crate) const PASSWORD: &str = "correct horse battery staple";
pub(crate) const REDIRECT: &str = "http://127.0.0.1:9/callback";
const VERIFIER: &str = "bench-pkce-verifier-0123456789-abcdefghijklmnopqrstuvwxyz";

struct Ctx {
    http: reqwest::Client,
    issuer: String,
    authorize_url: String,
    basic: String,
}

/// What one worker measured.
#[derive(Default)]
struct Tally {
    micros: Vec<u32>,
    errors: usize,
}

fn report(name: &str, tallies: Vec<Tally>, elapsed: Duration) {
    let errors: usize = tallies.iter().map(|t| t.errors).sum();
    let mut all: Vec<u32> = tallies.into_iter().flat_map(|t| t.micros).collect();
    all.sort_unstable();
    let pct = |p: f64| {
        all.get(((all.len() as f64 * p) as usize).min(all.len().saturating_sub(1)))
            .map_or(0.0, |&us| f64::from(us) / 1000.0)
    };
    let rps = all.len() as f64 / elapsed.as_secs_f64();
    println!(
        "{name}\t{rps:.0}\t{:.3}\t{:.3}\t{errors}",
        pct(0.50),
        pct(0.99)
    );
}

/// The `name=value` pairs of every `Set-Cookie`, as one `Cookie` header value.
fn cookies(resp: &reqwest::Response) -> String {
    resp.headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split(';').next())
        .collect::<Vec<_>>()
        .join("; ")
}

/// The code in a redirect to the client.
fn code_of(resp: &reqwest::Response) -> Option<String> {
    let loc = resp.headers().get(LOCATION)?.to_str().ok()?;
    let url = url::Url::parse(loc).ok()?;
    url.query_pairs()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned())
}

/// The hidden inputs of the login form.
fn hidden_fields(body: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for chunk in body.split("<input").skip(1) {
        let tag = &chunk[..chunk.find('>').unwrap_or(chunk.len())];
        if !tag.contains(r#"type="hidden""#) {
            continue;
        }
        let attr = |name: &str| {
            let key = format!(r#"{name}=""#);
            tag.find(&key).map(|i| {
                let rest = &tag[i + key.len()..];
                rest[..rest.find('"').unwrap_or(rest.len())]
                    .replace("&#x2f;", "/")
                    .replace("&#x27;", "'")
                    .replace("&quot;", "\"")
                    .replace("&lt;", "<")
                    .replace("&gt;", ">")
                    .replace("&amp;", "&")
            })
        };
        if let (Some(n), Some(v)) = (attr("name"), attr("value")) {
            out.push((n, v));
        }
    }
    out
}

/// Signs in from scratch (login page, form POST). Returns the code and the session cookies.
async fn sign_in(ctx: &Ctx) -> Option<(String, String)> {
    let page = ctx.http.get(&ctx.authorize_url).send().await.ok()?;
    let jar = cookies(&page);
    let body = page.text().await.ok()?;
    let mut form = hidden_fields(&body);
    form.push(("email".into(), EMAIL.into()));
    form.push(("password".into(), PASSWORD.into()));
    let resp = ctx
        .http
        .post(format!("{}/oauth/authorize", ctx.issuer))
        .header(COOKIE, jar)
        .form(&form)
        .send()
        .await
        .ok()?;
    let code = code_of(&resp)?;
    Some((code, cookies(&resp)))
}

async fn authorize_with(ctx: &Ctx, session: &str) -> Option<String> {
    let resp = ctx
        .http
        .get(&ctx.authorize_url)
        .header(COOKIE, session)
        .send()
        .await
        .ok()?;
    code_of(&resp)
}

async fn token(ctx: &Ctx, form: &[(&str, &str)]) -> Option<serde_json::Value> {
    let resp = ctx
        .http
        .post(format!("{}/oauth/token", ctx.issuer))
        .header(AUTHORIZATION, &ctx.basic)
        .form(form)
        .send()
        .await
        .ok()?;
    if !resp.status().is_success() {
        return None;
    }
    resp.json().await.ok()
}

async fn exchange(ctx: &Ctx, code: &str) -> Option<serde_json::Value> {
    token(
        ctx,
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", VERIFIER),
        ],
    )
    .await
}

/// How one step went.
enum Step {
    Ok,
    Failed,
    /// Failed, and the worker's state cannot go on: the worker stops.
    FailedStop,
    /// Nothing left to do: the worker stops.
    Done,
}

/// Runs `step` on `conns` workers until `dur` has passed (or a worker stops); each worker
/// starts from its own state.
async fn run<S, F, Fut>(states: Vec<S>, dur: Duration, step: F) -> (Vec<Tally>, Vec<S>, Duration)
where
    S: Send + 'static,
    F: Fn(S) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = (S, Step)> + Send,
{
    let step = Arc::new(step);
    let start = Instant::now();
    let deadline = start + dur;
    let tasks: Vec<_> = states
        .into_iter()
        .map(|mut state| {
            let step = Arc::clone(&step);
            tokio::spawn(async move {
                let mut tally = Tally::default();
                while Instant::now() < deadline {
                    let t = Instant::now();
                    let (next, outcome) = step(state).await;
                    state = next;
                    match outcome {
                        Step::Ok => tally
                            .micros
                            .push(t.elapsed().as_micros().min(u128::from(u32::MAX)) as u32),
                        Step::Failed => tally.errors += 1,
                        Step::FailedStop => {
                            tally.errors += 1;
                            break;
                        }
                        Step::Done => break,
                    }
                }
                (tally, state)
            })
        })
        .collect();
    let mut tallies = Vec::new();
    let mut out = Vec::new();
    for t in tasks {
        let (tally, state) = t.await.expect("worker panicked");
        tallies.push(tally);
        out.push(state);
    }
    (tallies, out, start.elapsed())
}

pub(crate) async fn drive(issuer: String, conns: usize, secs: u64, token_file: String) {
    let dur = Duration::from_secs(secs);
    let challenge = URL_SAFE_NO_PAD.encode(aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA256,
        VERIFIER.as_bytes(),
    ));
    let mut authorize = url::Url::parse(&format!("{issuer}/oauth/authorize")).expect("issuer URL");
    authorize
        .query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", CLIENT)
        .append_pair("redirect_uri", REDIRECT)
        .append_pair("scope", "openid profile offline_access")
        .append_pair("state", "bench-state")
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256");
    let ctx = Arc::new(Ctx {
        http: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .pool_max_idle_per_host(conns)
            .build()
            .expect("HTTP client"),
        issuer,
        authorize_url: authorize.to_string(),
        basic: format!("Basic {}", STANDARD.encode(format!("{CLIENT}:{SECRET}"))),
    });

    // Password sign-ins: one argon2id verification each.
    let states = vec![Arc::clone(&ctx); conns];
    let (tallies, _, elapsed) = run(states, dur, |ctx| async move {
        let step = if sign_in(&ctx).await.is_some() {
            Step::Ok
        } else {
            Step::Failed
        };
        (ctx, step)
    })
    .await;
    report("password_login", tallies, elapsed);

    // One session per worker, then codes from the authorize endpoint alone.
    let mut states = Vec::new();
    for _ in 0..conns {
        let (_, session) = sign_in(&ctx).await.expect("sign-in for a session");
        states.push((Arc::clone(&ctx), session, Vec::<String>::new()));
    }
    let (tallies, states, elapsed) = run(states, dur, |(ctx, session, mut codes)| async move {
        let step = match authorize_with(&ctx, &session).await {
            Some(code) => {
                codes.push(code);
                Step::Ok
            }
            None => Step::Failed,
        };
        ((ctx, session, codes), step)
    })
    .await;
    report("authorize_with_session", tallies, elapsed);

    // Exchange the codes (within their 60-second lifetime), at most `dur` long.
    let codes: Vec<String> = states.into_iter().flat_map(|(_, _, c)| c).collect();
    let codes = Arc::new((codes, AtomicUsize::new(0)));
    let states: Vec<_> = (0..conns)
        .map(|_| (Arc::clone(&ctx), Arc::clone(&codes), None::<String>))
        .collect();
    let (tallies, states, elapsed) = run(states, dur, |(ctx, codes, mut rt)| async move {
        let i = codes.1.fetch_add(1, Ordering::Relaxed);
        let Some(code) = codes.0.get(i) else {
            return ((ctx, codes, rt), Step::Done);
        };
        let step = match exchange(&ctx, code).await {
            Some(v) => {
                rt = v["refresh_token"].as_str().map(str::to_owned).or(rt);
                Step::Ok
            }
            None => Step::Failed,
        };
        ((ctx, codes, rt), step)
    })
    .await;
    report("code_exchange", tallies, elapsed);

    // Each worker rotates its own refresh token.
    let states: Vec<_> = states
        .into_iter()
        .map(|(ctx, _, rt)| (ctx, rt.expect("a refresh token from the exchanges")))
        .collect();
    let (tallies, states, elapsed) = run(states, dur, |(ctx, rt)| async move {
        let resp = token(
            &ctx,
            &[("grant_type", "refresh_token"), ("refresh_token", &rt)],
        )
        .await;
        match resp.as_ref().and_then(|v| v["refresh_token"].as_str()) {
            Some(next) => ((ctx, next.to_owned()), Step::Ok),
            // A broken chain cannot go on (sending the old token again would be a reuse).
            None => ((ctx, rt), Step::FailedStop),
        }
    })
    .await;
    report("refresh_rotation", tallies, elapsed);

    // A live user access token for wrk (userinfo, introspection of a user token).
    let (ctx, rt) = states.into_iter().next().expect("one worker");
    let v = token(
        &ctx,
        &[("grant_type", "refresh_token"), ("refresh_token", &rt)],
    )
    .await
    .expect("a last refresh");
    let at = v["access_token"].as_str().expect("an access token");
    std::fs::write(token_file, at).expect("write the user token");
}
