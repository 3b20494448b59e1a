//! What a person sees and does in the browser: signing in, consenting, confirming a logout,
//! the SSO session. The authorization and end-session endpoints (`oauth::authorize`,
//! `oauth::logout`) call these steps; they know nothing of the protocol beyond the
//! parameters they carry through their forms.

pub(crate) mod consent;
pub(crate) mod login;
pub(crate) mod logout;
pub(crate) mod second_factor;
pub(crate) mod session;
pub(crate) mod settings;

use axum::response::Response;
use http::{HeaderMap, HeaderValue, StatusCode, header};

use crate::store::Tenant;
use crate::web::App;
use crate::web::csrf::Purpose;

/// What the login and consent forms carry: the endpoint they post to (the authorization
/// endpoint, or the device verification page), the request's parameters (posted back with
/// the form) and the name of the application asking.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FormContext<'a> {
    /// The client's registered tenant: its name and logo head the page.
    pub(crate) tenant: Option<&'a Tenant>,
    pub(crate) action: &'a str,
    pub(crate) params: &'a [(String, String)],
    pub(crate) client_name: &'a str,
    /// The client the person signs in to (what an after-sign-in hook is told).
    pub(crate) client_id: Option<&'a str>,
}

/// Renders a form of the authorization step (posted back to `form.action`) with a CSRF
/// token for `purpose`.
fn form_page(
    app: &App,
    headers: &HeaderMap,
    template: &str,
    status: StatusCode,
    form: FormContext<'_>,
    purpose: Purpose<'_>,
    extra: minijinja::Value,
) -> Response {
    let ctx = minijinja::context! {
        params => form.params,
        client_name => form.client_name,
        tenant_name => form.tenant.and_then(|t| t.display_name.as_deref()),
        tenant_logo => form.tenant.and_then(|t| t.logo_url.as_deref()),
        ..extra
    };
    let mut resp = csrf_page(app, headers, template, status, form.action, purpose, ctx);
    if let Some(logo) = form.tenant.and_then(|t| t.logo_url.as_deref()) {
        allow_image_from(&mut resp, logo);
    }
    resp
}

/// Lets the page load images from `url`'s origin (a tenant's logo): the origin joins
/// `img-src` in its Content-Security-Policy.
fn allow_image_from(resp: &mut Response, url: &str) {
    let Ok(parsed) = url::Url::parse(url) else {
        return;
    };
    let origin = parsed.origin().ascii_serialization();
    let Some(csp) = resp
        .headers()
        .get(header::CONTENT_SECURITY_POLICY)
        .and_then(|v| v.to_str().ok())
    else {
        return;
    };
    let updated = csp.replacen("img-src 'self'", &format!("img-src 'self' {origin}"), 1);
    if let Ok(v) = HeaderValue::from_str(&updated) {
        resp.headers_mut()
            .insert(header::CONTENT_SECURITY_POLICY, v);
    }
}

/// Renders a page whose form posts to the endpoint at `path`, with a CSRF token for
/// `purpose` (setting the CSRF cookie when the browser has none).
pub(crate) fn csrf_page(
    app: &App,
    headers: &HeaderMap,
    template: &str,
    status: StatusCode,
    path: &str,
    purpose: Purpose<'_>,
    extra: minijinja::Value,
) -> Response {
    let csrf = app.csrf.token(&app.issuer, headers, purpose);
    let ctx = minijinja::context! {
        action => app.issuer.endpoint(path),
        csrf => csrf.token,
        ..extra
    };
    let mut resp = app.templates.render(template, status, ctx);
    if let Some(c) = csrf.set_cookie {
        resp.headers_mut().append(header::SET_COOKIE, c);
    }
    resp
}
