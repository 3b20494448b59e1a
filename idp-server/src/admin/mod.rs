//! The management HTTP API under `/admin/api/v1/`: users, clients and tenants, over the
//! same management layer as the CLI and `provider.users()`.
//!
//! Callers present an access token from this provider (`Authorization: Bearer`) whose
//! audience includes `{issuer}/admin/api` and whose scope includes
//! - `idp:admin`: everything;
//! - `idp:tenant-admin`: only the users and clients of the token's own `tenant` (and that
//!   tenant's record); the token must carry a tenant.
//!
//! Every error is JSON `{"error": CODE, "message": TEXT}` with CODE one of
//! `invalid_token` (401, with `WWW-Authenticate`), `insufficient_scope` (403),
//! `invalid_input` (400), `not_found` (404), `conflict` (409), `rejected` (a hook refused,
//! 422), `busy` (503) and `server_error` (500, without detail). A record of another tenant
//! is `not_found` to a tenant admin.

mod auth;
mod handlers;
mod openapi;
mod two_factor;

use axum::Router;
use axum::routing::{get, post};

use crate::web::App;

/// Where the API lives, relative to the issuer.
pub(crate) const BASE: &str = "/admin/api/v1";

/// The API's routes (relative to the issuer).
pub(crate) fn routes() -> Router<std::sync::Arc<App>> {
    use handlers::{clients, tenants, users};
    Router::new()
        .route(
            &format!("{BASE}/users"),
            get(users::list).post(users::create),
        )
        .route(
            &format!("{BASE}/users/{{id}}"),
            get(users::get).patch(users::update).delete(users::delete),
        )
        .route(
            &format!("{BASE}/users/{{id}}/disable"),
            post(users::disable),
        )
        .route(&format!("{BASE}/users/{{id}}/enable"), post(users::enable))
        .route(
            &format!("{BASE}/users/{{id}}/password"),
            post(users::set_password),
        )
        .route(
            &format!("{BASE}/users/{{id}}/two-factor"),
            get(two_factor::status).delete(two_factor::reset),
        )
        .route(
            &format!("{BASE}/clients"),
            get(clients::list).post(clients::create),
        )
        .route(
            &format!("{BASE}/clients/{{id}}"),
            get(clients::get)
                .patch(clients::update)
                .delete(clients::delete),
        )
        .route(
            &format!("{BASE}/clients/{{id}}/secret"),
            post(clients::rotate_secret),
        )
        .route(
            &format!("{BASE}/tenants"),
            get(tenants::list).post(tenants::create),
        )
        .route(
            &format!("{BASE}/tenants/{{id}}"),
            get(tenants::get).patch(tenants::update),
        )
        .route(&format!("{BASE}/openapi.json"), get(openapi_json))
}

/// `GET /admin/api/v1/openapi.json`.
async fn openapi_json(
    axum::extract::State(app): axum::extract::State<std::sync::Arc<App>>,
) -> axum::Json<serde_json::Value> {
    axum::Json(openapi::document(&app.issuer.endpoint(BASE)))
}
