//! What a person sees and does in the browser: signing in, consenting, the SSO session.
//! The authorization endpoint (`oauth::authorize`) calls these steps; they know nothing of
//! the protocol beyond the parameters they carry through their forms.

pub(crate) mod consent;
pub(crate) mod login;
pub(crate) mod session;

use axum::response::Response;
use http::{HeaderMap, StatusCode, header};

use crate::issuer::paths;
use crate::web::{App, csrf};

/// What the login and consent forms carry: the authorization request's parameters (posted
/// back with the form) and the name of the application asking.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FormContext<'a> {
    pub(crate) params: &'a [(String, String)],
    pub(crate) client_name: &'a str,
}

/// Renders a form page with a CSRF token (setting its cookie when the browser has none).
fn form_page(
    app: &App,
    headers: &HeaderMap,
    template: &str,
    status: StatusCode,
    form: FormContext<'_>,
    extra: minijinja::Value,
) -> Response {
    let csrf = csrf::token(&app.issuer, headers);
    let ctx = minijinja::context! {
        action => app.issuer.endpoint(paths::AUTHORIZE),
        params => form.params,
        csrf => csrf.token,
        client_name => form.client_name,
        ..extra
    };
    let mut resp = app.templates.render(template, status, ctx);
    if let Some(c) = csrf.set_cookie {
        resp.headers_mut().append(header::SET_COOKIE, c);
    }
    resp
}
