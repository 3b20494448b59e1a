//! A web app with a backend (pattern 2): signs users in with the authorization code flow
//! (+ PKCE), keeps their tokens server-side behind an HttpOnly session cookie, refreshes
//! them, and signs out with revocation.
//!
//! It also ends its sessions when the provider says so (OpenID Connect Back-Channel Logout
//! 1.0): the provider POSTs a signed logout token to `POST /backchannel-logout`, which
//! verifies it and removes every session with the token's `sid` (the `sid` of the ID token
//! the session signed in with), or, when the token names only a `sub`, every session of
//! that user. For this, register the client with the back-channel logout URI
//! `http://127.0.0.1:3000/backchannel-logout` (the `APP_LISTEN` address: the provider calls
//! it directly, not through a browser), e.g. with the `--backchannel-logout-uri` option of
//! `idp clients add`.
//!
//! Run the provider (`cargo run --bin idp -- serve --dev`), then
//! `cargo run --example web-backend` and open <http://localhost:3000/>. Settings:
//! `IDP_ISSUER`, `IDP_CLIENT_ID` (default `test-app`), `IDP_CLIENT_SECRET` (`test-secret`),
//! `IDP_SCOPES` (`openid profile email offline_access`), `APP_LISTEN` (`127.0.0.1:3000`),
//! `APP_URL` (`http://localhost:3000`; the redirect URI is `APP_URL/callback`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use idp_client::{
    Client, ClientAuth, Discovery, LogoutToken, PendingAuthorization, TokenRef,
    logout_token_from_form,
};
use idp_core::{AccessToken, ErrorCode, ErrorResponse, RefreshToken};

/// What the app keeps per browser session, server-side.
#[derive(Default)]
struct Session {
    pending: Option<PendingAuthorization>,
    access_token: Option<AccessToken>,
    refresh_token: Option<RefreshToken>,
    email: Option<String>,
    sub: Option<String>,
    /// The provider's session id (the ID token's `sid`), which a logout token may name.
    sid: Option<String>,
}

impl Session {
    /// Whether a back-channel logout ends this session: the token's `sid` if it has one,
    /// else its `sub`.
    fn ended_by(&self, logout: &LogoutToken) -> bool {
        match (&logout.sid, &logout.sub) {
            (Some(sid), _) => self.sid.as_ref() == Some(sid),
            (None, Some(sub)) => self.sub.as_ref() == Some(sub),
            (None, None) => false,
        }
    }
}

struct App {
    client: Client,
    scopes: String,
    sessions: Mutex<HashMap<String, Session>>,
}

const COOKIE: &str = "app_session";

fn session_id(headers: &HeaderMap) -> Option<String> {
    headers
        .get(header::COOKIE)?
        .to_str()
        .ok()?
        .split(';')
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE)
        .map(|(_, v)| v.to_owned())
}

fn page(body: String) -> Response {
    Html(format!(
        "<!doctype html><title>web-backend</title><body>{body}</body>"
    ))
    .into_response()
}

async fn home(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    let sessions = app.sessions.lock().unwrap_or_else(|p| p.into_inner());
    match session_id(&headers)
        .and_then(|id| sessions.get(&id))
        .and_then(|s| Some((s.email.clone()?, s.sub.clone()?, s.sid.clone())))
    {
        Some((email, sub, sid)) => {
            let sid = sid.as_deref().unwrap_or("none");
            page(format!(
                "<p>Signed in as {email} (sub {sub}, sid {sid})</p><p><a href=/me>userinfo</a> | <a href=/refresh>refresh</a> | <a href=/logout>sign out</a></p>"
            ))
        }
        None => page("<p>Not signed in. <a href=/login>Sign in</a></p>".into()),
    }
}

async fn login(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    let (url, pending) = match app
        .client
        .authorization_request()
        .scope(&app.scopes)
        .build()
    {
        Ok(x) => x,
        Err(e) => return (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    };
    let id = session_id(&headers).unwrap_or_else(idp_core::random_token);
    app.sessions
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .entry(id.clone())
        .or_default()
        .pending = Some(pending);
    let mut resp = Redirect::to(url.as_str()).into_response();
    let cookie = format!("{COOKIE}={id}; Path=/; HttpOnly; SameSite=Lax");
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        resp.headers_mut().insert(header::SET_COOKIE, v);
    }
    resp
}

async fn callback(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Response {
    let Some(id) = session_id(&headers) else {
        return (StatusCode::BAD_REQUEST, "no session").into_response();
    };
    let pending = app
        .sessions
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get_mut(&id)
        .and_then(|s| s.pending.take());
    let Some(pending) = pending else {
        return (StatusCode::BAD_REQUEST, "no sign-in in progress").into_response();
    };
    let result = async {
        let code = app
            .client
            .validate_callback(&pending, q.as_deref().unwrap_or(""))?;
        app.client.exchange_code(&pending, code).send().await
    }
    .await;
    match result {
        Ok(set) => {
            let mut sessions = app.sessions.lock().unwrap_or_else(|p| p.into_inner());
            let s = sessions.entry(id).or_default();
            s.access_token = Some(set.access_token().clone());
            s.refresh_token = set.refresh_token().cloned();
            if let Some(claims) = set.id_token_claims {
                s.email = claims.profile.email.clone();
                s.sub = Some(claims.sub.clone());
                s.sid = claims.sid.clone();
            }
            tracing::info!(sub = ?s.sub, "signed in");
            Redirect::to("/").into_response()
        }
        Err(e) => (StatusCode::BAD_GATEWAY, format!("sign-in failed: {e}")).into_response(),
    }
}

async fn me(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    let token = session_id(&headers).and_then(|id| {
        app.sessions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&id)
            .and_then(|s| s.access_token.clone())
    });
    let Some(token) = token else {
        return Redirect::to("/login").into_response();
    };
    match app.client.userinfo(&token).await {
        Ok(info) => axum::Json(info.claims).into_response(),
        Err(e) => (StatusCode::BAD_GATEWAY, e.to_string()).into_response(),
    }
}

async fn refresh(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    let Some(id) = session_id(&headers) else {
        return Redirect::to("/login").into_response();
    };
    let rt = app
        .sessions
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get(&id)
        .and_then(|s| s.refresh_token.clone());
    let Some(rt) = rt else {
        return page("<p>No refresh token (ask for offline_access).</p>".into());
    };
    match app.client.refresh(&rt).send().await {
        Ok(set) => {
            let expires = set.tokens.expires_in.unwrap_or(0);
            let mut sessions = app.sessions.lock().unwrap_or_else(|p| p.into_inner());
            let s = sessions.entry(id).or_default();
            s.access_token = Some(set.access_token().clone());
            s.refresh_token = set.refresh_token().cloned();
            page(format!(
                "<p>Refreshed: new access token, expires in {expires} s; refresh token rotated.</p><p><a href=/>home</a></p>"
            ))
        }
        Err(e) => (StatusCode::BAD_GATEWAY, format!("refresh failed: {e}")).into_response(),
    }
}

async fn logout(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    let session = session_id(&headers).and_then(|id| {
        app.sessions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&id)
    });
    let mut revoked = 0;
    if let Some(s) = session {
        if let Some(rt) = &s.refresh_token
            && app.client.revoke(TokenRef::Refresh(rt)).await.is_ok()
        {
            revoked += 1;
        }
        if let Some(at) = &s.access_token
            && app.client.revoke(TokenRef::Access(at)).await.is_ok()
        {
            revoked += 1;
        }
    }
    let mut resp = page(format!(
        "<p>Signed out; {revoked} tokens revoked.</p><p><a href=/login>Sign in again</a></p>"
    ));
    resp.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static("app_session=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0"),
    );
    resp
}

/// Back-Channel Logout 1.0 §2.5–2.8: the provider POSTs `logout_token=<JWT>` when a session
/// there ends. Answers 200 once the matching sessions are gone, 400 with an OAuth error
/// body when the token is missing or refused. The token itself is never logged.
async fn backchannel_logout(State(app): State<Arc<App>>, body: Bytes) -> Response {
    let Some(token) = logout_token_from_form(&body) else {
        return logout_refused("expected exactly one logout_token parameter");
    };
    let logout = match app.client.verify_logout_token(&token).await {
        Ok(logout) => logout,
        Err(e) if e.is_token_rejected() => {
            tracing::info!(error = %e, "logout token refused");
            return logout_refused(&e.to_string());
        }
        Err(e) => {
            // The provider's keys could not be fetched, or similar: no detail on the wire.
            tracing::warn!(error = %e, "logout token could not be verified");
            return logout_refused("the logout token could not be verified");
        }
    };
    let ended = {
        let mut sessions = app.sessions.lock().unwrap_or_else(|p| p.into_inner());
        let before = sessions.len();
        sessions.retain(|_, s| !s.ended_by(&logout));
        before - sessions.len()
    };
    tracing::info!(sub = ?logout.sub, ended, "back-channel logout");
    ([(header::CACHE_CONTROL, "no-store")], "").into_response()
}

fn logout_refused(description: &str) -> Response {
    let body = ErrorResponse::new(ErrorCode::InvalidRequest).with_description(description);
    (
        StatusCode::BAD_REQUEST,
        [(header::CACHE_CONTROL, "no-store")],
        axum::Json(body),
    )
        .into_response()
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    examples::init_tracing();
    let env = examples::Env::read(
        "test-app",
        Some("test-secret"),
        "openid profile email offline_access",
        None,
    );
    let listen = std::env::var("APP_LISTEN").unwrap_or_else(|_| "127.0.0.1:3000".into());
    let app_url = std::env::var("APP_URL").unwrap_or_else(|_| "http://localhost:3000".into());

    let metadata = Discovery::builder(env.issuer.clone())
        .build()?
        .metadata()
        .await?;
    let auth = match &env.client_secret {
        Some(s) => ClientAuth::basic(s.as_str()),
        None => ClientAuth::None,
    };
    let client = Client::builder(metadata, env.client_id.clone())
        .auth(auth)
        .redirect_uri(format!("{app_url}/callback"))
        .build()?;
    let app = Arc::new(App {
        client,
        scopes: env.scopes.join(" "),
        sessions: Mutex::default(),
    });
    let router = axum::Router::new()
        .route("/", get(home))
        .route("/login", get(login))
        .route("/callback", get(callback))
        .route("/me", get(me))
        .route("/refresh", get(refresh))
        .route("/logout", get(logout))
        .route("/backchannel-logout", post(backchannel_logout))
        .with_state(app);
    let listener = tokio::net::TcpListener::bind(&listen).await?;
    println!(
        "web-backend listening on http://{} (open {app_url}/)",
        listener.local_addr()?
    );
    axum::serve(listener, router).await?;
    Ok(())
}
