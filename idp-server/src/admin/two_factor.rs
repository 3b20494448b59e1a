//! `GET|DELETE /admin/api/v1/users/{id}/two-factor`: whether a user has two-factor on, and
//! the operator's reset (for a user who lost their device and backup codes).

use axum::extract::Path;
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use serde_json::json;

use super::auth::{Admin, ApiError};
use crate::manage::{Actor, TwoFactorStatus};
use crate::web::AppState;

fn render(st: &TwoFactorStatus) -> serde_json::Value {
    json!({
        "enabled": st.enabled,
        "enabled_at": st.enabled_at,
        "backup_codes_left": st.backup_codes_left,
    })
}

fn answer(body: serde_json::Value) -> Response {
    let mut resp = (StatusCode::OK, axum::Json(body)).into_response();
    resp.headers_mut().insert(
        http::header::CACHE_CONTROL,
        http::HeaderValue::from_static("no-store"),
    );
    resp
}

/// The user `id`, if the caller may see it (another tenant's is "not found").
async fn visible(app: &AppState, who: &Admin, id: &str) -> Result<(), ApiError> {
    match app.users().get(id).await? {
        Some(u) if who.sees(u.tenant_id.as_deref()) => Ok(()),
        _ => Err(ApiError::not_found()),
    }
}

/// `GET …/users/{id}/two-factor`: `{"enabled", "enabled_at", "backup_codes_left"}`.
pub(crate) async fn status(
    app: AppState,
    who: Admin,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    visible(&app, &who, &id).await?;
    let st = app.users().two_factor().status(&id).await?;
    Ok(answer(render(&st)))
}

/// `DELETE …/users/{id}/two-factor`: turns the user's two-factor off; the status after
/// it, with `"was_enabled"`.
pub(crate) async fn reset(
    app: AppState,
    who: Admin,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    visible(&app, &who, &id).await?;
    let users = app.users().by(Actor::Admin(who.sub.clone()));
    let was_enabled = users.two_factor().reset(&id).await?;
    let after = users.two_factor().status(&id).await?;
    let mut body = render(&after);
    body["was_enabled"] = json!(was_enabled);
    Ok(answer(body))
}
