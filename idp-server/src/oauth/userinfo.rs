//! `GET|POST /oauth/userinfo` (OIDC Core §5.3), answering errors per RFC 6750.

use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, StatusCode, header};
use idp_core::{BearerChallenge, ErrorCode, StandardClaims};
use serde::Serialize;

use crate::attributes::TokenKind;
use crate::issue::profile_claims;
use crate::state::{State, Subject};
use crate::web::AppState;
use crate::web::form::RawBody;

fn bearer_error(status: StatusCode, code: Option<ErrorCode>, description: &str) -> Response {
    let mut ch = BearerChallenge::new().realm("idp");
    if let Some(c) = code {
        ch = ch.error(c).description(description);
    }
    let mut resp = status.into_response();
    if let Ok(v) = HeaderValue::from_str(&ch.to_string()) {
        resp.headers_mut().insert(header::WWW_AUTHENTICATE, v);
    }
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

fn bearer_token(headers: &HeaderMap, body: Option<&Bytes>) -> Result<Option<String>, ()> {
    let header_token = match headers.get(header::AUTHORIZATION) {
        None => None,
        Some(v) => {
            let v = v.to_str().map_err(|_| ())?;
            match v.split_once(' ') {
                Some((scheme, t))
                    if scheme.eq_ignore_ascii_case("bearer") && !t.trim().is_empty() =>
                {
                    Some(t.trim().to_owned())
                }
                _ => return Err(()),
            }
        }
    };
    // RFC 6750 §2.2: the form-encoded body parameter, for POST.
    let body_token = body.and_then(|b| {
        form_urlencoded::parse(b)
            .find(|(k, _)| k == "access_token")
            .map(|(_, v)| v.into_owned())
    });
    match (header_token, body_token) {
        (Some(_), Some(_)) => Err(()),
        (h, b) => Ok(h.or(b)),
    }
}

#[derive(Serialize)]
struct UserInfo {
    sub: String,
    #[serde(flatten)]
    profile: StandardClaims,
    #[serde(skip_serializing_if = "Option::is_none")]
    tenant: Option<String>,
    /// The attributes the configuration's `claims` release here (never a registered name).
    #[serde(flatten)]
    custom: serde_json::Map<String, serde_json::Value>,
}

pub(crate) async fn userinfo_get(
    axum::extract::State(app): AppState,
    headers: HeaderMap,
) -> Response {
    userinfo(&app, &headers, None).await
}

pub(crate) async fn userinfo_post(
    axum::extract::State(app): AppState,
    headers: HeaderMap,
    raw: RawBody,
) -> Response {
    let Ok(body) = raw else {
        return bearer_error(
            StatusCode::BAD_REQUEST,
            Some(ErrorCode::InvalidRequest),
            "the body is too large or could not be read",
        );
    };
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    userinfo(&app, &headers, is_form.then_some(&body)).await
}

async fn userinfo(state: &State, headers: &HeaderMap, body: Option<&Bytes>) -> Response {
    let token = match bearer_token(headers, body) {
        Ok(Some(t)) => t,
        Ok(None) => return bearer_error(StatusCode::UNAUTHORIZED, None, ""),
        Err(()) => {
            return bearer_error(
                StatusCode::BAD_REQUEST,
                Some(ErrorCode::InvalidRequest),
                "malformed credentials",
            );
        }
    };
    let invalid = || {
        bearer_error(
            StatusCode::UNAUTHORIZED,
            Some(ErrorCode::InvalidToken),
            "the access token is invalid, expired or revoked",
        )
    };
    let Some(claims) = state.verify_access_token(&token, false) else {
        return invalid();
    };
    if claims.token_use != Some(idp_core::TokenUse::User) {
        return invalid();
    }
    let user = match state.live_subject(&claims).await {
        Ok(Some(Subject::User(u))) => *u,
        Ok(_) => return invalid(),
        Err(e) => {
            tracing::error!(error = %e, "userinfo: storage failure");
            return StatusCode::SERVICE_UNAVAILABLE.into_response();
        }
    };
    let scope = claims.scope.clone().unwrap_or_default();
    if !scope.contains("openid") {
        let mut resp = bearer_error(
            StatusCode::FORBIDDEN,
            Some(ErrorCode::InsufficientScope),
            "the openid scope is required",
        );
        if let Ok(v) = HeaderValue::from_str(
            &BearerChallenge::new()
                .realm("idp")
                .error(ErrorCode::InsufficientScope)
                .scope("openid")
                .to_string(),
        ) {
            resp.headers_mut().insert(header::WWW_AUTHENTICATE, v);
        }
        return resp;
    }
    let mut profile = StandardClaims::default();
    profile_claims(&mut profile, &user, &scope);
    let custom = match state
        .custom_claims(
            TokenKind::Userinfo,
            (&claims.client_id, None),
            Some(&user),
            &scope,
            None,
        )
        .await
    {
        Ok(c) => c,
        Err(e) => return e.into_response(),
    };
    let mut resp = axum::Json(UserInfo {
        sub: user.id,
        profile,
        tenant: user.tenant_id,
        custom,
    })
    .into_response();
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}
