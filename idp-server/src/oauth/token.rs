//! `POST /oauth/token` (RFC 6749 §3.2): decode the form once, authenticate the client, hand
//! the request to its grant (`grants/`).

use std::net::IpAddr;

use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::HeaderMap;
use idp_core::{ErrorCode, GrantType, TokenRequest};

use super::client_auth::{authenticate, presented};
use super::grants::{authorization_code, client_credentials, device_code, refresh_token};
use crate::error::{OAuthError, no_store};
use crate::state::State;
use crate::web::AppState;
use crate::web::client_addr::ClientAddr;
use crate::web::form::{Bounds, RawBody, body, form_pairs};

pub(crate) async fn token(
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
    // Anyone can call this endpoint: a ceiling per address before any work.
    state
        .limiters
        .address(addr)
        .await
        .map_err(OAuthError::too_many)?;
    let pairs = form_pairs(headers, body, Bounds::of(&state.config))?;
    let req = TokenRequest::from_form(&pairs)?;
    let creds = presented(
        headers,
        req.client_id.as_deref(),
        req.client_secret.as_ref(),
    )?;
    let client = authenticate(state, creds, addr).await?;
    let grant_type = req.grant_type.as_str();
    // The metric's label: one of the grants served, never what the client sent.
    let (response, metric_grant) = match &req.grant_type {
        GrantType::ClientCredentials => (
            client_credentials::client_credentials(state, &client, &req, addr).await?,
            "client_credentials",
        ),
        GrantType::AuthorizationCode => (
            authorization_code::authorization_code(state, &client, &req, addr).await?,
            "authorization_code",
        ),
        GrantType::RefreshToken => (
            refresh_token::refresh_token(state, &client, &req, addr).await?,
            "refresh_token",
        ),
        GrantType::DeviceCode => (
            device_code::device_code(state, &client, &req, addr).await?,
            "device_code",
        ),
        _ => {
            return Err(OAuthError::new(ErrorCode::UnsupportedGrantType)
                .describe("this grant type is not supported"));
        }
    };
    tracing::info!(
        target: "idp::audit",
        event = "token_issued",
        grant_type,
        client_id = %client.client_id,
        scope = %response.scope.as_ref().map(ToString::to_string).unwrap_or_default(),
        refresh_token = response.refresh_token.is_some(),
        id_token = response.id_token.is_some(),
        client_addr = ?addr,
        "token issued"
    );
    state.metrics.token_issued(metric_grant);
    let mut resp = axum::Json(response).into_response();
    no_store(&mut resp);
    Ok(resp)
}
