//! What the protocol endpoints (`oauth/`) and the pages a person sees (`account/`) share:
//! the handlers' state, form decoding, page templates, cookies and CSRF tokens.

pub(crate) mod client_addr;
pub(crate) mod cookies;
pub(crate) mod cors;
pub(crate) mod csrf;
pub(crate) mod form;
pub(crate) mod templates;

use std::ops::Deref;
use std::sync::Arc;

use bytes::Bytes;

use crate::state::State;
use csrf::CsrfKey;
use templates::Templates;

/// The state of the HTTP handlers: the provider's [`State`], the page templates, the key of
/// the forms' CSRF tokens and the discovery document (rendered once when the provider is
/// built).
#[derive(Debug)]
pub(crate) struct App {
    pub(crate) state: Arc<State>,
    pub(crate) templates: Templates,
    pub(crate) csrf: CsrfKey,
    pub(crate) discovery: Bytes,
    /// The JWKS response's `Cache-Control`, built once.
    pub(crate) jwks_cache_control: http::HeaderValue,
}

impl Deref for App {
    type Target = State;

    fn deref(&self) -> &State {
        &self.state
    }
}

/// `resp` with `Retry-After: wait` in whole seconds, at least one.
pub(crate) fn retry_after(
    mut resp: axum::response::Response,
    wait: std::time::Duration,
) -> axum::response::Response {
    resp.headers_mut().insert(
        http::header::RETRY_AFTER,
        http::HeaderValue::from(wait.as_secs().max(1)),
    );
    resp
}

/// The axum extractor of [`App`].
pub(crate) type AppState = axum::extract::State<Arc<App>>;
