//! The account pages of the signed-in person, under `/account`: the profile
//! ([`profile`]), the password ([`password`]), the sessions ([`sessions`]), the
//! applications they connected ([`apps`]) and two-factor authentication ([`two_factor`]).
//!
//! A request without a session is sent to `/account/login`, the same login page (and the
//! same sign-in checks, throttles and hooks) as the authorization endpoint's, posting back
//! here. Every form carries a CSRF token bound to the session it was shown to
//! (`Purpose::Account`); every POST is checked before anything else reads it.

mod apps;
mod links;
mod password;
mod profile;
mod public;
mod sessions;
mod two_factor;

use std::net::IpAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::RawQuery;
use axum::response::Response;
use axum::routing::get;
use http::{HeaderMap, HeaderValue, StatusCode, header};

use super::login::{self, SignIn};
use super::{FormContext, csrf_page, session};
use crate::issuer::paths;
use crate::store::{SessionRecord, User};
use crate::web::client_addr::ClientAddr;
use crate::web::csrf::Purpose;
use crate::web::form::{Bounds, Pairs, RawBody, body, decode_pairs, form_pairs, single};
use crate::web::{App, AppState, retry_after};

/// What the login page calls the place one signs in to.
const ACCOUNT_NAME: &str = "your account";

/// The account pages' routes.
pub(crate) fn routes() -> Router<Arc<App>> {
    Router::new()
        .route(paths::ACCOUNT, get(profile::get).post(profile::post))
        .route(paths::ACCOUNT_LOGIN, get(login_get).post(login_post))
        .route(
            paths::ACCOUNT_PASSWORD,
            get(password::get).post(password::post),
        )
        .route(
            paths::ACCOUNT_SESSIONS,
            get(sessions::get).post(sessions::post),
        )
        .route(paths::ACCOUNT_APPS, get(apps::get).post(apps::post))
        .route(
            paths::ACCOUNT_REGISTER,
            get(public::register_get).post(public::register_post),
        )
        .route(
            paths::ACCOUNT_VERIFY,
            get(public::verify_get).post(public::verify_post),
        )
        .route(
            paths::ACCOUNT_FORGOT,
            get(public::forgot_get).post(public::forgot_post),
        )
        .route(
            paths::ACCOUNT_RESET,
            get(public::reset_get).post(public::reset_post),
        )
        .route(
            paths::ACCOUNT_TWO_FACTOR,
            get(two_factor::get).post(two_factor::post),
        )
}

/// The signed-in person of an account page.
struct Person {
    session: SessionRecord,
    user: User,
}

type Step<T> = Result<T, Response>;

/// The person signed in in this browser, or the redirect to the login page.
async fn signed_in(app: &App, headers: &HeaderMap) -> Step<Person> {
    match session::current(app, headers).await {
        Ok(Some((session, user))) => Ok(Person { session, user }),
        Ok(None) => Err(see_other(app, paths::ACCOUNT_LOGIN, None)),
        Err(e) => Err(app.templates.server_error("account", e)),
    }
}

/// The address limiter, then the signed-in person (GET requests).
async fn enter(app: &App, addr: ClientAddr, headers: &HeaderMap) -> Step<Person> {
    if let Err(wait) = app.limiters.address(addr.0).await {
        return Err(too_many(app, wait));
    }
    signed_in(app, headers).await
}

/// The address limiter, the signed-in person, the form, and its CSRF token (POST
/// requests): nothing reads the form before its token is checked.
async fn enter_form(
    app: &App,
    addr: ClientAddr,
    headers: &HeaderMap,
    raw: RawBody,
) -> Step<(Person, Pairs)> {
    let person = enter(app, addr, headers).await?;
    let pairs = read_form(app, headers, raw).await?;
    let purpose = Purpose::Account {
        sid: &person.session.sid,
    };
    if !app.csrf.verify(&app.issuer, headers, &pairs, purpose) {
        return Err(forged(app));
    }
    Ok((person, pairs))
}

async fn read_form(app: &App, headers: &HeaderMap, raw: RawBody) -> Step<Pairs> {
    body(raw)
        .and_then(|b| form_pairs(headers, &b, Bounds::of(&app.config)))
        .map_err(|_| {
            app.templates.error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "The request body must be a form of a bounded number of parameters.",
            )
        })
}

/// An account page: its form posts to `path`, with a CSRF token bound to the session.
fn render(
    app: &App,
    headers: &HeaderMap,
    person: &Person,
    template: &str,
    path: &str,
    status: StatusCode,
    extra: minijinja::Value,
) -> Response {
    let purpose = Purpose::Account {
        sid: &person.session.sid,
    };
    let ctx = minijinja::context! {
        user_email => person.user.email,
        user_name => person.user.name,
        account => app.issuer.endpoint(paths::ACCOUNT),
        account_password => app.issuer.endpoint(paths::ACCOUNT_PASSWORD),
        account_sessions => app.issuer.endpoint(paths::ACCOUNT_SESSIONS),
        account_apps => app.issuer.endpoint(paths::ACCOUNT_APPS),
        account_two_factor => app.issuer.endpoint(paths::ACCOUNT_TWO_FACTOR),
        logout => app.issuer.endpoint(paths::LOGOUT),
        ..extra
    };
    csrf_page(app, headers, template, status, path, purpose, ctx)
}

/// `303 See Other` to a page of the provider, with a cookie to set.
fn see_other(app: &App, path: &str, cookie: Option<HeaderValue>) -> Response {
    let mut resp = Response::new(axum::body::Body::empty());
    *resp.status_mut() = StatusCode::SEE_OTHER;
    if let Ok(v) = HeaderValue::from_str(&app.issuer.endpoint(path)) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Some(c) = cookie {
        resp.headers_mut().append(header::SET_COOKIE, c);
    }
    resp
}

fn too_many(app: &App, wait: std::time::Duration) -> Response {
    let resp = app.templates.error(
        StatusCode::TOO_MANY_REQUESTS,
        "temporarily_unavailable",
        "Too many requests. Wait a minute and try again.",
    );
    retry_after(resp, wait)
}

fn forged(app: &App) -> Response {
    app.templates.error(
        StatusCode::FORBIDDEN,
        "invalid_request",
        "The form has expired or did not come from this site. Go back and try again.",
    )
}

/// The query's parameters (none when it is over the bounds).
fn query(app: &App, raw: Option<String>) -> Pairs {
    decode_pairs(raw.unwrap_or_default().as_bytes(), Bounds::of(&app.config)).unwrap_or_default()
}

/// The address limiter, then the query (GET pages without a session).
async fn opened(app: &App, addr: Option<IpAddr>, raw: Option<String>) -> Step<Pairs> {
    if let Err(wait) = app.limiters.address(addr).await {
        return Err(too_many(app, wait));
    }
    Ok(query(app, raw))
}

/// The hidden `tenant` field a form carries back, when there is a tenant.
fn hidden_tenant(tenant: Option<&str>) -> Vec<(String, String)> {
    tenant
        .map(|t| vec![("tenant".to_owned(), t.to_owned())])
        .unwrap_or_default()
}

/// The tenant a sign-in is for: the `tenant` parameter, when given.
fn tenant_param(pairs: &[(String, String)]) -> Option<String> {
    single(pairs, "tenant")
        .ok()
        .flatten()
        .filter(|t| !t.is_empty())
        .map(|t| t.chars().take(128).collect())
}

fn login_form(params: &[(String, String)]) -> FormContext<'_> {
    FormContext {
        tenant: None,
        action: paths::ACCOUNT_LOGIN,
        params,
        client_name: ACCOUNT_NAME,
        client_id: None,
    }
}

/// `GET /account/login`: the login page (or the account, when already signed in).
async fn login_get(
    axum::extract::State(app): AppState,
    addr: ClientAddr,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let pairs = match opened(&app, addr.0, query).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    if let Ok(Some(_)) = session::current(&app, &headers).await {
        return see_other(&app, paths::ACCOUNT, None);
    }
    let params = hidden_tenant(tenant_param(&pairs).as_deref());
    login::page(
        &app,
        &headers,
        login_form(&params),
        StatusCode::OK,
        None,
        "",
    )
}

/// `POST /account/login`: signs in, then to the account.
async fn login_post(
    axum::extract::State(app): AppState,
    addr: ClientAddr,
    headers: HeaderMap,
    raw: RawBody,
) -> Response {
    if let Err(wait) = app.limiters.address(addr.0).await {
        return too_many(&app, wait);
    }
    let pairs = match read_form(&app, &headers, raw).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    if !app
        .csrf
        .verify(&app.issuer, &headers, &pairs, Purpose::Login)
    {
        return forged(&app);
    }
    let tenant = tenant_param(&pairs);
    let params = hidden_tenant(tenant.as_deref());
    let form = login_form(&params);
    match login::sign_in(&app, &headers, &pairs, tenant.as_deref(), addr.0, form).await {
        Ok(SignIn::Done(_, cookie)) => see_other(&app, paths::ACCOUNT, Some(cookie)),
        Ok(SignIn::Refused(resp)) => resp,
        Err(e) => app.templates.server_error("account login", e),
    }
}

/// The landing page's route, for the provider's own server only (see [`landing`]).
pub(crate) fn landing_routes() -> Router<Arc<App>> {
    Router::new().route("/", get(landing))
}

/// `GET /` at the issuer: what this server is, and where a person goes from here. Only
/// in the server [`Provider::serve`](crate::Provider::serve) runs: an application that
/// mounts the provider's router or layer keeps its own root.
async fn landing(axum::extract::State(app): AppState, addr: ClientAddr) -> Response {
    if let Err(wait) = app.limiters.address(addr.0).await {
        return too_many(&app, wait);
    }
    let register = (app.mail.is_enabled() && app.config.registration.open_for(None))
        .then(|| app.issuer.endpoint(paths::ACCOUNT_REGISTER));
    app.templates.render(
        "landing.html",
        StatusCode::OK,
        minijinja::context! {
            site_name => app.issuer.host(),
            account => app.issuer.endpoint(paths::ACCOUNT),
            register => register,
            discovery => app.issuer.endpoint(paths::DISCOVERY),
        },
    )
}

/// Unix seconds as a UTC date and time a person reads (`2026-12-01 12:28 UTC`).
fn when(secs: i64) -> String {
    let t =
        std::time::UNIX_EPOCH + std::time::Duration::from_secs(u64::try_from(secs).unwrap_or(0));
    // httpdate: "Tue, 01 Dec 2026 12:28:32 GMT" → drop the seconds.
    let s = httpdate::fmt_http_date(t);
    match s.rsplit_once(':') {
        Some((head, _)) => format!("{} UTC", head.trim_end()),
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_readable() {
        assert_eq!(when(0), "Thu, 01 Jan 1970 00:00 UTC");
        assert_eq!(when(1_796_128_112), "Tue, 01 Dec 2026 12:28 UTC");
    }
}
