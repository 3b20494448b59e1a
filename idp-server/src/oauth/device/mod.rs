//! The device authorization grant (RFC 8628): `POST /oauth/device_authorization` hands a
//! device its codes, the `/device` page (`page`) is where a person enters the user code and
//! decides, and the token endpoint's `device_code` grant (`grants::device_code`) is where
//! the device collects its tokens.

mod page;
mod user_code;

pub(crate) use page::{get as page_get, post as page_post};

use std::net::IpAddr;

use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::HeaderMap;
use idp_core::{
    DeviceAuthorizationResponse, DeviceCode, ErrorCode, GrantType, Scope, sha256_b64url,
};

use super::client_auth::form_client;
use crate::error::{OAuthError, no_store};
use crate::issuer::paths;
use crate::state::State;
use crate::store::{Client, DeviceCodeRecord, StoreError};
use crate::web::AppState;
use crate::web::client_addr::ClientAddr;
use crate::web::form::{Bounds, RawBody, body, form_pairs, single};

/// How many user codes are drawn before giving up on a collision (each collides with a
/// live code with a chance of about `live codes / 20^8`).
const DRAWS: usize = 4;

pub(crate) async fn device_authorization(
    axum::extract::State(app): AppState,
    ClientAddr(addr): ClientAddr,
    headers: HeaderMap,
    raw: RawBody,
) -> Response {
    let body = match body(raw) {
        Ok(b) => b,
        Err(e) => return e.into_response(),
    };
    match handle(&app, addr, &headers, &body).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

async fn handle(
    state: &State,
    addr: Option<IpAddr>,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<Response, OAuthError> {
    state
        .limiters
        .address(addr)
        .await
        .map_err(OAuthError::too_many)?;
    let pairs = form_pairs(headers, body, Bounds::of(&state.config))?;
    let client = form_client(state, headers, &pairs, addr).await?;
    if !client.allows_grant(&GrantType::DeviceCode) {
        return Err(OAuthError::new(ErrorCode::UnauthorizedClient)
            .describe("this client may not use the device authorization grant"));
    }
    let scope = requested_scope(&client, single(&pairs, "scope")?)?;
    let (device_code, rec) = store_codes(state, &client, scope).await?;
    let verification_uri = state.issuer.endpoint(paths::DEVICE);
    let shown = user_code::display(&rec.user_code);
    let mut resp = DeviceAuthorizationResponse::new(
        device_code,
        shown.clone(),
        verification_uri.clone(),
        u64::try_from(rec.expires_at - rec.created_at).unwrap_or(0),
    );
    resp.verification_uri_complete = Some(format!("{verification_uri}?user_code={shown}"));
    resp.interval = Some(u64::try_from(rec.interval).unwrap_or(5));
    tracing::info!(
        target: "idp::audit",
        event = "device_authorization_started",
        client_id = %client.client_id,
        user_code = %user_code::loggable(&rec.user_code),
        scope = %rec.scope,
        client_addr = ?addr,
        "device authorization started"
    );
    let mut resp = axum::Json(resp).into_response();
    no_store(&mut resp);
    Ok(resp)
}

/// The requested scope (by default everything the client may have); asking for a scope the
/// client may not have is `invalid_scope`.
fn requested_scope(client: &Client, scope: Option<&str>) -> Result<Scope, OAuthError> {
    let invalid = |d| OAuthError::new(ErrorCode::InvalidScope).describe(d);
    match scope {
        None => Ok(client.allowed_scopes.clone()),
        Some(s) => {
            let s = Scope::parse(s).map_err(|_| invalid("malformed scope"))?;
            if s.is_subset(&client.allowed_scopes) {
                Ok(s)
            } else {
                Err(invalid("requested scope is not allowed for this client"))
            }
        }
    }
}

/// Stores a new pending authorization: a fresh device code (stored by hash) and a user code
/// no live authorization has.
async fn store_codes(
    state: &State,
    client: &Client,
    scope: Scope,
) -> Result<(DeviceCode, DeviceCodeRecord), OAuthError> {
    let now = state.now();
    let ttl = state.config.device_code_secs();
    for _ in 0..DRAWS {
        let device_code = DeviceCode::generate();
        let mut rec = DeviceCodeRecord::new(
            sha256_b64url(device_code.secret().as_bytes()),
            user_code::generate(),
            client.client_id.clone(),
            now,
            now + ttl,
            state.config.device_poll_secs(),
        );
        rec.scope = scope.clone();
        match state.store.insert_device_code(&rec).await {
            Ok(()) => return Ok((device_code, rec)),
            Err(StoreError::Conflict(_)) => continue,
            Err(e) => return Err(OAuthError::server(e)),
        }
    }
    Err(OAuthError::server("no free user code after several draws"))
}
