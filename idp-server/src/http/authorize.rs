//! `GET|POST /oauth/authorize`: the authorization endpoint (RFC 6749 §4.1, OIDC Core
//! §3.1.2), with the login and consent steps it may need.
//!
//! The client and redirect URI are checked first; if either is wrong the browser gets an
//! HTML error page and is never redirected. Every later error is redirected back with
//! `error`, `error_description`, `state` and `iss` (RFC 9207).

use axum::extract::RawQuery;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, StatusCode, header};
use idp_core::{
    AuthorizationCode, CodeChallenge, CodeChallengeMethod, ErrorCode, GrantType, Password, Scope,
    random_token, sha256_b64url,
};
use subtle::ConstantTimeEq;
use url::Url;

use super::State;
use crate::issue::restrict_to_user;
use crate::provider::Inner;
use crate::store::{AuthCodeRecord, Client, ConsentRecord, SessionRecord, User};

pub(crate) const SESSION_COOKIE: &str = "idp_session";
const CSRF_COOKIE: &str = "idp_csrf";
/// Form fields of the login and consent steps, never part of the authorization request.
const STEP_FIELDS: [&str; 5] = ["_action", "csrf_token", "email", "password", "decision"];

pub(crate) async fn get(
    axum::extract::State(inner): State,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let pairs = super::decode_pairs(query.unwrap_or_default().as_bytes());
    authorize(&inner, &headers, pairs, false).await
}

pub(crate) async fn post(
    axum::extract::State(inner): State,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match super::form_pairs(&headers, &body) {
        Ok(pairs) => authorize(&inner, &headers, pairs, true).await,
        Err(_) => inner.templates.error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "The request body must be a form.",
        ),
    }
}

/// Where errors and codes go once the client and redirect URI are known.
struct Back<'a> {
    inner: &'a Inner,
    redirect_uri: String,
    state: Option<String>,
    after_post: bool,
}

impl Back<'_> {
    fn to(&self, params: &[(&str, &str)]) -> Response {
        let mut url = match Url::parse(&self.redirect_uri) {
            Ok(u) => u,
            Err(_) => {
                return self.inner.templates.error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    "The redirect URI is invalid.",
                );
            }
        };
        {
            let mut q = url.query_pairs_mut();
            for (k, v) in params {
                q.append_pair(k, v);
            }
            if let Some(s) = &self.state {
                q.append_pair("state", s);
            }
            q.append_pair("iss", &self.inner.settings.issuer);
        }
        let status = if self.after_post {
            StatusCode::SEE_OTHER
        } else {
            StatusCode::FOUND
        };
        let mut resp = status.into_response();
        if let Ok(v) = HeaderValue::from_str(url.as_str()) {
            resp.headers_mut().insert(header::LOCATION, v);
        }
        resp.headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        resp
    }

    fn error(&self, code: ErrorCode, description: &str) -> Response {
        let d = idp_core::ErrorResponse::new(code.clone()).with_description(description);
        self.to(&[
            ("error", code.as_str()),
            (
                "error_description",
                d.error_description.as_deref().unwrap_or(""),
            ),
        ])
    }
}

/// Whether `uri` matches a registered redirect URI: exactly, or for a loopback IP redirect
/// with any port (RFC 8252 §7.3).
pub(crate) fn redirect_uri_registered(client: &Client, uri: &str) -> bool {
    if client.redirect_uris.iter().any(|r| r == uri) {
        return true;
    }
    let Ok(asked) = Url::parse(uri) else {
        return false;
    };
    // Only loopback IP literals: RFC 8252 §7.3 (and §8.3 advises against `localhost`).
    let loopback_ip = match asked.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        _ => false,
    };
    if asked.scheme() != "http" || !loopback_ip || asked.fragment().is_some() {
        return false;
    }
    client.redirect_uris.iter().any(|r| {
        Url::parse(r).is_ok_and(|reg| {
            reg.scheme() == "http"
                && reg.host() == asked.host()
                && reg.path() == asked.path()
                && reg.query() == asked.query()
                && reg.username() == asked.username()
        })
    })
}

/// The `prompt` values (OIDC Core §3.1.2.1); `none` never comes with another.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Prompt {
    none: bool,
    login: bool,
    consent: bool,
}

/// The checked authorization request.
struct Request {
    client: Client,
    redirect_given: bool,
    scope: Scope,
    nonce: Option<String>,
    challenge: Option<CodeChallenge>,
    prompt: Prompt,
    max_age: Option<i64>,
    login_hint: Option<String>,
    hint_sub: Option<String>,
    /// The authorization parameters, carried through the login and consent forms.
    params: Vec<(String, String)>,
}

type Failure = (ErrorCode, &'static str);

fn one<'a>(pairs: &'a [(String, String)], name: &str) -> Result<Option<&'a str>, Failure> {
    super::single(pairs, name).map_err(|_| (ErrorCode::InvalidRequest, "a parameter is repeated"))
}

fn check_request(
    inner: &Inner,
    client: Client,
    redirect_given: bool,
    pairs: &[(String, String)],
) -> Result<Request, Failure> {
    for (k, _) in pairs {
        if !STEP_FIELDS.contains(&k.as_str()) {
            one(pairs, k)?;
        }
    }
    if one(pairs, "request")?.is_some() {
        return Err((
            ErrorCode::RequestNotSupported,
            "request objects are not supported",
        ));
    }
    if one(pairs, "request_uri")?.is_some() {
        return Err((
            ErrorCode::RequestUriNotSupported,
            "request_uri is not supported",
        ));
    }
    match one(pairs, "response_type")? {
        None => return Err((ErrorCode::InvalidRequest, "response_type is required")),
        Some("code") => {}
        Some(_) => {
            return Err((
                ErrorCode::UnsupportedResponseType,
                "only response_type=code is supported",
            ));
        }
    }
    if let Some(mode) = one(pairs, "response_mode")?
        && mode != "query"
    {
        return Err((
            ErrorCode::InvalidRequest,
            "only response_mode=query is supported",
        ));
    }
    if !client.allows_grant(&GrantType::AuthorizationCode) {
        return Err((
            ErrorCode::UnauthorizedClient,
            "this client may not use the authorization code flow",
        ));
    }
    let requested = match one(pairs, "scope")? {
        Some(s) => Scope::parse(s).map_err(|_| (ErrorCode::InvalidScope, "malformed scope"))?,
        None => client.allowed_scopes.clone(),
    };
    // Scopes the client may not have are dropped; the token response reports what was granted.
    let scope = requested.intersection(&client.allowed_scopes);
    if scope.is_empty() {
        return Err((
            ErrorCode::InvalidScope,
            "none of the requested scopes is allowed for this client",
        ));
    }
    let challenge = match one(pairs, "code_challenge")? {
        Some(c) => {
            let method = one(pairs, "code_challenge_method")?.unwrap_or("plain");
            let m = CodeChallengeMethod::parse(method)
                .map_err(|_| (ErrorCode::InvalidRequest, "unknown code_challenge_method"))?;
            m.require_s256().map_err(|_| {
                (
                    ErrorCode::InvalidRequest,
                    "code_challenge_method must be S256",
                )
            })?;
            Some(
                CodeChallenge::parse(c)
                    .map_err(|_| (ErrorCode::InvalidRequest, "malformed code_challenge"))?,
            )
        }
        None => {
            if one(pairs, "code_challenge_method")?.is_some() {
                return Err((
                    ErrorCode::InvalidRequest,
                    "code_challenge_method without code_challenge",
                ));
            }
            None
        }
    };
    if client.is_public() && challenge.is_none() {
        return Err((
            ErrorCode::InvalidRequest,
            "public clients must use PKCE (S256)",
        ));
    }
    let prompt = match one(pairs, "prompt")? {
        None => Prompt::default(),
        Some(p) => {
            let values: Vec<&str> = p.split(' ').filter(|v| !v.is_empty()).collect();
            if values.contains(&"none") && values.len() > 1 {
                return Err((ErrorCode::InvalidRequest, "prompt=none cannot be combined"));
            }
            // `select_account` and unknown values are ignored: there is one account per
            // browser session.
            Prompt {
                none: values.contains(&"none"),
                login: values.contains(&"login"),
                consent: values.contains(&"consent"),
            }
        }
    };
    let max_age = match one(pairs, "max_age")? {
        None => None,
        Some(v) => Some(v.parse::<u32>().map_err(|_| {
            (
                ErrorCode::InvalidRequest,
                "max_age must be a non-negative integer",
            )
        })? as i64),
    };
    let nonce = one(pairs, "nonce")?.map(str::to_owned);
    if nonce.as_ref().is_some_and(|n| n.len() > 512) {
        return Err((ErrorCode::InvalidRequest, "nonce is too long"));
    }
    let hint_sub = match one(pairs, "id_token_hint")? {
        None => None,
        Some(t) => Some(
            crate::issue::parse_id_token_hint(inner, t)
                .map(|c| c.sub)
                .ok_or((
                    ErrorCode::InvalidRequest,
                    "id_token_hint is not a valid ID token from this provider",
                ))?,
        ),
    };
    let params = pairs
        .iter()
        .filter(|(k, _)| !STEP_FIELDS.contains(&k.as_str()))
        .cloned()
        .collect();
    Ok(Request {
        client,
        redirect_given,
        scope,
        nonce,
        challenge,
        prompt,
        max_age,
        login_hint: one(pairs, "login_hint")?.map(|s| s.chars().take(256).collect()),
        hint_sub,
        params,
    })
}

fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

pub(crate) fn cookie_value(
    inner: &Inner,
    name: &str,
    value: &str,
    max_age: Option<i64>,
) -> HeaderValue {
    let s = &inner.settings;
    let mut c = format!(
        "{name}={value}; Path={}; HttpOnly; SameSite=Lax",
        s.cookie_path
    );
    if let Some(m) = max_age {
        c.push_str(&format!("; Max-Age={m}"));
    }
    if s.issuer.starts_with("https://") {
        c.push_str("; Secure");
    }
    HeaderValue::from_str(&c).unwrap_or_else(|_| HeaderValue::from_static("idp_invalid=1"))
}

/// The signed-in user, if the session cookie names a live session of an active user who
/// belongs to the client's tenant.
pub(crate) async fn current_session(
    inner: &Inner,
    headers: &HeaderMap,
) -> Result<Option<(SessionRecord, User)>, crate::Error> {
    let Some(value) = cookie(headers, SESSION_COOKIE) else {
        return Ok(None);
    };
    let hash = sha256_b64url(value.as_bytes());
    let Some(session) = inner.store.get_session(&hash, inner.now()).await? else {
        return Ok(None);
    };
    let Some(user) = inner.store.get_user(&session.user_id).await? else {
        return Ok(None);
    };
    Ok(user.active.then_some((session, user)))
}

struct Csrf {
    token: String,
    set_cookie: Option<HeaderValue>,
}

fn csrf(inner: &Inner, headers: &HeaderMap) -> Csrf {
    match cookie(headers, CSRF_COOKIE).filter(|v| v.len() >= 32) {
        Some(v) => Csrf {
            token: v.to_owned(),
            set_cookie: None,
        },
        None => {
            let token = random_token();
            let set_cookie = Some(cookie_value(inner, CSRF_COOKIE, &token, None));
            Csrf { token, set_cookie }
        }
    }
}

fn csrf_ok(headers: &HeaderMap, pairs: &[(String, String)]) -> bool {
    let (Some(cookie), Ok(Some(field))) = (
        cookie(headers, CSRF_COOKIE),
        super::single(pairs, "csrf_token"),
    ) else {
        return false;
    };
    cookie.len() >= 32 && bool::from(cookie.as_bytes().ct_eq(field.as_bytes()))
}

fn client_name(c: &Client) -> String {
    c.name.clone().unwrap_or_else(|| c.client_id.clone())
}

fn login_page(
    inner: &Inner,
    headers: &HeaderMap,
    req: &Request,
    status: StatusCode,
    error: Option<&str>,
    email: &str,
) -> Response {
    let csrf = csrf(inner, headers);
    let mut resp = inner.templates.render(
        "login.html",
        status,
        minijinja::context! {
            action => inner.settings.endpoint(super::paths::AUTHORIZE),
            params => req.params,
            csrf => csrf.token,
            client_name => client_name(&req.client),
            error => error,
            email => email,
        },
    );
    if let Some(c) = csrf.set_cookie {
        resp.headers_mut().append(header::SET_COOKIE, c);
    }
    resp
}

fn consent_page(
    inner: &Inner,
    headers: &HeaderMap,
    req: &Request,
    user: &User,
    scope: &Scope,
) -> Response {
    let csrf = csrf(inner, headers);
    let mut resp = inner.templates.render(
        "consent.html",
        StatusCode::OK,
        minijinja::context! {
            action => inner.settings.endpoint(super::paths::AUTHORIZE),
            params => req.params,
            csrf => csrf.token,
            client_name => client_name(&req.client),
            user_email => user.email,
            scopes => scope.iter().collect::<Vec<_>>(),
        },
    );
    if let Some(c) = csrf.set_cookie {
        resp.headers_mut().append(header::SET_COOKIE, c);
    }
    resp
}

fn server_error(inner: &Inner, e: impl std::fmt::Display) -> Response {
    tracing::error!(error = %e, "authorization endpoint failure");
    inner.templates.error(
        StatusCode::INTERNAL_SERVER_ERROR,
        "server_error",
        "The server could not complete the request.",
    )
}

async fn authorize(
    inner: &Inner,
    headers: &HeaderMap,
    pairs: Vec<(String, String)>,
    after_post: bool,
) -> Response {
    let page = |code: &str, msg: &str| inner.templates.error(StatusCode::BAD_REQUEST, code, msg);
    // 1. The client and the redirect URI: on failure, an error page and no redirect.
    let (Ok(client_id), Ok(redirect)) = (
        super::single(&pairs, "client_id"),
        super::single(&pairs, "redirect_uri"),
    ) else {
        return page("invalid_request", "A parameter is repeated.");
    };
    let Some(client_id) = client_id else {
        return page("invalid_request", "The request has no client_id.");
    };
    let client = match inner.store.get_client(client_id).await {
        Ok(Some(c)) if c.active => c,
        Ok(_) => return page("invalid_client", "The application is unknown or disabled."),
        Err(e) => return server_error(inner, e),
    };
    let (redirect_uri, redirect_given) = match redirect {
        Some(u) if redirect_uri_registered(&client, u) => (u.to_owned(), true),
        Some(_) => {
            return page(
                "invalid_request",
                "The redirect URI is not registered for this application.",
            );
        }
        None if client.redirect_uris.len() == 1 => (client.redirect_uris[0].clone(), false),
        None => return page("invalid_request", "The request has no redirect_uri."),
    };
    let state = match super::single(&pairs, "state") {
        Ok(s) => s.map(|s| s.chars().take(2048).collect::<String>()),
        Err(_) => None,
    };
    let back = Back {
        inner,
        redirect_uri,
        state,
        after_post,
    };

    // 2. The rest of the request: errors go back to the client.
    let req = match check_request(inner, client, redirect_given, &pairs) {
        Ok(r) => r,
        Err((code, msg)) => return back.error(code, msg),
    };
    let action = super::single(&pairs, "_action").ok().flatten();
    if action.is_some() && !after_post {
        return page("invalid_request", "The form must be submitted with POST.");
    }
    if action.is_some() && !csrf_ok(headers, &pairs) {
        return inner.templates.error(
            StatusCode::FORBIDDEN,
            "invalid_request",
            "The form has expired or did not come from this site. Go back and try again.",
        );
    }
    let mut session = match current_session(inner, headers).await {
        Ok(s) => s.filter(|(_, u)| u.tenant_id == req.client.tenant_id),
        Err(e) => return server_error(inner, e),
    };
    let mut set_cookie = None;
    let mut fresh_login = false;
    let mut just_consented = false;

    match action {
        Some("login") => {
            let email = super::single(&pairs, "email")
                .ok()
                .flatten()
                .unwrap_or("")
                .trim()
                .to_owned();
            let password = super::single(&pairs, "password")
                .ok()
                .flatten()
                .unwrap_or("");
            if let Err(wait) = inner
                .limiters
                .login(req.client.tenant_id.as_deref(), &email)
            {
                let mut resp = login_page(
                    inner,
                    headers,
                    &req,
                    StatusCode::TOO_MANY_REQUESTS,
                    Some("Too many sign-in attempts. Wait a minute and try again."),
                    &email,
                );
                resp.headers_mut().insert(
                    header::RETRY_AFTER,
                    HeaderValue::from(wait.as_secs().max(1)),
                );
                return resp;
            }
            let user = if email.is_empty() || password.is_empty() {
                None
            } else {
                match inner
                    .users_api()
                    .verify_password(
                        req.client.tenant_id.as_deref(),
                        &email,
                        &Password::new(password),
                    )
                    .await
                {
                    Ok(u) => u,
                    Err(e) => return server_error(inner, e),
                }
            };
            let Some(user) = user else {
                tracing::info!(client_id = %req.client.client_id, "failed sign-in");
                return login_page(
                    inner,
                    headers,
                    &req,
                    StatusCode::UNAUTHORIZED,
                    Some("Incorrect email or password."),
                    &email,
                );
            };
            // A new sign-in replaces the old session.
            if let Some(old) = cookie(headers, SESSION_COOKIE) {
                let _ = inner
                    .store
                    .delete_session(&sha256_b64url(old.as_bytes()))
                    .await;
            }
            let value = random_token();
            let now = inner.now();
            let rec = SessionRecord::new(
                sha256_b64url(value.as_bytes()),
                uuid::Uuid::new_v4().to_string(),
                user.id.clone(),
                now,
                now + inner.settings.session_ttl,
            );
            if let Err(e) = inner.store.insert_session(&rec).await {
                return server_error(inner, e);
            }
            set_cookie = Some(cookie_value(
                inner,
                SESSION_COOKIE,
                &value,
                Some(inner.settings.session_ttl),
            ));
            session = Some((rec, user));
            fresh_login = true;
        }
        Some("consent") => {
            let Some((_, user)) = &session else {
                return login_page(inner, headers, &req, StatusCode::OK, None, "");
            };
            match super::single(&pairs, "decision").ok().flatten() {
                Some("allow") => {
                    // What was granted before stays granted.
                    let mut scope = restrict_to_user(&req.scope, user);
                    match inner
                        .store
                        .get_consent(&user.id, &req.client.client_id)
                        .await
                    {
                        Ok(Some(previous)) => {
                            for s in previous.scope.iter() {
                                scope.insert(s);
                            }
                        }
                        Ok(None) => {}
                        Err(e) => return server_error(inner, e),
                    }
                    let rec = ConsentRecord::new(
                        user.id.clone(),
                        req.client.client_id.clone(),
                        scope,
                        inner.now(),
                    );
                    if let Err(e) = inner.store.put_consent(&rec).await {
                        return server_error(inner, e);
                    }
                    just_consented = true;
                    // The consent form is shown only after sign-in passed every check of
                    // this request (prompt=login, max_age, id_token_hint); do not ask again.
                    fresh_login = true;
                }
                _ => return back.error(ErrorCode::AccessDenied, "the user denied the request"),
            }
        }
        Some(_) => return page("invalid_request", "Unknown form action."),
        None => {}
    }

    // 3. Sign-in: needed without a session, for prompt=login, when the session is older than
    // max_age, or when id_token_hint names another user.
    let now = inner.now();
    let needs_login = match &session {
        None => true,
        Some((s, u)) => {
            !fresh_login
                && (req.prompt.login
                    || req.max_age.is_some_and(|m| s.auth_time + m < now)
                    || req.hint_sub.as_ref().is_some_and(|sub| *sub != u.id))
        }
    };
    if needs_login {
        if req.prompt.none {
            return back.error(ErrorCode::LoginRequired, "the user is not signed in");
        }
        let email = req.login_hint.clone().unwrap_or_default();
        return login_page(inner, headers, &req, StatusCode::OK, None, &email);
    }
    let Some((session, user)) = session else {
        return login_page(inner, headers, &req, StatusCode::OK, None, "");
    };
    let scope = restrict_to_user(&req.scope, &user);

    // 4. Consent, for clients that are not first-party.
    if !req.client.first_party && !just_consented {
        let consent = match inner
            .store
            .get_consent(&user.id, &req.client.client_id)
            .await
        {
            Ok(c) => c,
            Err(e) => return server_error(inner, e),
        };
        let covered = consent.is_some_and(|c| scope.is_subset(&c.scope));
        if !covered || req.prompt.consent {
            if req.prompt.none {
                return back.error(ErrorCode::ConsentRequired, "the user has not consented");
            }
            let mut resp = consent_page(inner, headers, &req, &user, &scope);
            if let Some(c) = set_cookie {
                resp.headers_mut().append(header::SET_COOKIE, c);
            }
            return resp;
        }
    }

    // 5. The code.
    let code = AuthorizationCode::generate();
    let mut rec = AuthCodeRecord::new(
        sha256_b64url(code.secret().as_bytes()),
        req.client.client_id.clone(),
        user.id.clone(),
        if req.redirect_given {
            back.redirect_uri.clone()
        } else {
            String::new()
        },
        uuid::Uuid::new_v4().to_string(),
        now,
        now + 60,
    );
    rec.scope = scope;
    rec.nonce = req.nonce.clone();
    rec.code_challenge = req.challenge.as_ref().map(|c| c.as_str().to_owned());
    rec.auth_time = session.auth_time;
    rec.session_id = Some(session.sid.clone());
    if let Err(e) = inner.store.insert_code(&rec).await {
        return server_error(inner, e);
    }
    let mut resp = back.to(&[("code", code.secret())]);
    if let Some(c) = set_cookie {
        resp.headers_mut().append(header::SET_COOKIE, c);
    }
    resp
}
