//! HTML pages (login, consent, device verification, logout confirmation, error,
//! signed-out) from minijinja templates that a deployer may override, their stylesheet,
//! and the security headers every page carries: a Content-Security-Policy without
//! `'unsafe-inline'` (the styles are in the stylesheet, served by the provider).

use std::path::Path;

use axum::response::{Html, IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use minijinja::Environment;
use serde::Serialize;

use crate::Error;

const NAMES: [(&str, &str); 21] = [
    ("base.html", include_str!("../../templates/base.html")),
    ("login.html", include_str!("../../templates/login.html")),
    ("consent.html", include_str!("../../templates/consent.html")),
    ("device.html", include_str!("../../templates/device.html")),
    (
        "logout_confirm.html",
        include_str!("../../templates/logout_confirm.html"),
    ),
    ("error.html", include_str!("../../templates/error.html")),
    (
        "logged_out.html",
        include_str!("../../templates/logged_out.html"),
    ),
    (
        "account_nav.html",
        include_str!("../../templates/account_nav.html"),
    ),
    ("account.html", include_str!("../../templates/account.html")),
    (
        "account_password.html",
        include_str!("../../templates/account_password.html"),
    ),
    (
        "account_sessions.html",
        include_str!("../../templates/account_sessions.html"),
    ),
    (
        "account_apps.html",
        include_str!("../../templates/account_apps.html"),
    ),
    (
        "account_message.html",
        include_str!("../../templates/account_message.html"),
    ),
    (
        "register.html",
        include_str!("../../templates/register.html"),
    ),
    ("verify.html", include_str!("../../templates/verify.html")),
    ("forgot.html", include_str!("../../templates/forgot.html")),
    ("reset.html", include_str!("../../templates/reset.html")),
    ("landing.html", include_str!("../../templates/landing.html")),
    (
        "totp_challenge.html",
        include_str!("../../templates/totp_challenge.html"),
    ),
    (
        "totp_setup.html",
        include_str!("../../templates/totp_setup.html"),
    ),
    (
        "backup_codes.html",
        include_str!("../../templates/backup_codes.html"),
    ),
];

/// The pages' built-in stylesheet (`idp.css` in the templates directory replaces it).
const STYLESHEET: &str = include_str!("../../templates/idp.css");

/// How much of a refused redirect URI an error page shows.
const SHOWN_URI_CHARS: usize = 300;

/// The page templates: the built-in ones, each replaced by a file of the same name in the
/// configured directory when there is one.
pub(crate) struct Templates {
    env: Environment<'static>,
    /// The stylesheet's text, served at `paths::STYLESHEET`.
    stylesheet: bytes::Bytes,
}

impl std::fmt::Debug for Templates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Templates")
    }
}

impl Templates {
    /// The templates, and the stylesheet they link to at `stylesheet_url` (with a version
    /// of its contents appended, so that browsers may keep it for a year).
    pub(crate) fn load(dir: Option<&Path>, stylesheet_url: &str) -> Result<Self, Error> {
        let stylesheet = match dir.map(|d| d.join("idp.css")).filter(|p| p.exists()) {
            Some(path) => std::fs::read_to_string(&path)
                .map_err(|e| Error::Config(format!("stylesheet {}: {e}", path.display())))?,
            None => STYLESHEET.to_owned(),
        };
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, stylesheet.as_bytes());
        let version: String = digest.as_ref()[..6]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let mut env = Environment::new();
        env.add_global("stylesheet", format!("{stylesheet_url}?v={version}"));
        for (name, builtin) in NAMES {
            let source = match dir.map(|d| d.join(name)).filter(|p| p.exists()) {
                Some(path) => std::fs::read_to_string(&path)
                    .map_err(|e| Error::Config(format!("template {}: {e}", path.display())))?,
                None => builtin.to_owned(),
            };
            env.add_template_owned(name, source)
                .map_err(|e| Error::Config(format!("template {name}: {e}")))?;
        }
        // Render each once so that a broken override fails at start-up, not on a request.
        let t = Self {
            env,
            stylesheet: bytes::Bytes::from(stylesheet),
        };
        for (name, _) in NAMES {
            if name != "base.html" && name != "account_nav.html" {
                t.env
                    .get_template(name)
                    .and_then(|tpl| tpl.render(minijinja::context! {}))
                    .map_err(|e| Error::Config(format!("template {name}: {e}")))?;
            }
        }
        Ok(t)
    }

    /// The stylesheet's text.
    pub(crate) fn stylesheet(&self) -> bytes::Bytes {
        self.stylesheet.clone()
    }

    pub(crate) fn render<S: Serialize>(&self, name: &str, status: StatusCode, ctx: S) -> Response {
        match self.env.get_template(name).and_then(|t| t.render(ctx)) {
            Ok(body) => page(status, body),
            Err(e) => {
                tracing::error!(error = %e, template = name, "template rendering failed");
                page(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "<!doctype html><title>Error</title><p>Internal error.</p>".to_owned(),
                )
            }
        }
    }

    /// A failure on our side (the store, most often) at `endpoint`: logged with its detail,
    /// answered with a 500 page without it.
    pub(crate) fn server_error(&self, endpoint: &str, e: impl std::fmt::Display) -> Response {
        tracing::error!(error = %e, endpoint, "server failure");
        self.error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            "The server could not complete the request. Try again in a moment.",
        )
    }

    /// An error page that never redirects anywhere.
    pub(crate) fn error(&self, status: StatusCode, code: &str, message: &str) -> Response {
        self.render(
            "error.html",
            status,
            minijinja::context! { code => code, message => message },
        )
    }

    /// An error page about an application's request that names the application and, when
    /// it is what was refused, the redirect URI: as text (escaped like every value, cut
    /// to [`SHOWN_URI_CHARS`]), never as a link, and never redirecting anywhere.
    pub(crate) fn client_error(
        &self,
        status: StatusCode,
        code: &str,
        message: &str,
        client_name: &str,
        redirect_uri: Option<&str>,
    ) -> Response {
        let redirect_uri = redirect_uri.map(|u| {
            let mut shown: String = u.chars().take(SHOWN_URI_CHARS).collect();
            if shown.len() < u.len() {
                shown.push('…');
            }
            shown
        });
        self.render(
            "error.html",
            status,
            minijinja::context! {
                code => code,
                message => message,
                client_name => client_name,
                redirect_uri => redirect_uri,
            },
        )
    }
}

/// The pages' Content-Security-Policy: nothing but the provider's own stylesheet and
/// images (a tenant's logo adds its origin to `img-src`); no script, no inline style.
const PAGE_CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'";

/// An HTML response with headers that keep it out of frames and caches and forbid scripts
/// and inline styles.
pub(crate) fn page(status: StatusCode, body: String) -> Response {
    let mut resp = (status, Html(body)).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(PAGE_CSP),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}
