//! The logout confirmation (OIDC RP-Initiated Logout 1.0 §2): when a request to end the
//! session does not prove it comes from an application the person signed in to (no valid
//! `id_token_hint` naming them), they are asked first, with a form that only this site can
//! submit.

use axum::response::Response;
use http::{HeaderMap, StatusCode};

use super::csrf_page;
use crate::issuer::paths;
use crate::store::{SessionRecord, User};
use crate::web::App;
use crate::web::csrf::Purpose;

/// The value of `_action` that the confirmation form posts.
pub(crate) const ACTION: &str = "logout";

/// The page asking `user` whether to end `session`; its form posts back to the end-session
/// endpoint with `carried` (the request's `post_logout_redirect_uri`, `state`, `client_id`)
/// and a CSRF token bound to the session.
pub(crate) fn confirm_page(
    app: &App,
    headers: &HeaderMap,
    session: &SessionRecord,
    user: &User,
    carried: &[(&str, &str)],
    client_name: Option<&str>,
) -> Response {
    let ctx = minijinja::context! {
        params => carried,
        user_email => user.email,
        client_name => client_name,
    };
    let purpose = Purpose::Logout { sid: &session.sid };
    csrf_page(
        app,
        headers,
        "logout_confirm.html",
        StatusCode::OK,
        paths::LOGOUT,
        purpose,
        ctx,
    )
}
