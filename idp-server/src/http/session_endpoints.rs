//! `GET|POST /oauth/userinfo` (OIDC Core §5.3) and `GET|POST /oauth/logout` (OIDC
//! RP-Initiated Logout 1.0).

use axum::extract::RawQuery;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, StatusCode, header};
use idp_core::{BearerChallenge, ErrorCode, StandardClaims};
use serde::Serialize;
use url::Url;

use super::State;
use super::authorize::{SESSION_COOKIE, cookie_value, current_session};
use crate::provider::Inner;

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
}

pub(crate) async fn userinfo_get(
    axum::extract::State(inner): State,
    headers: HeaderMap,
) -> Response {
    userinfo(&inner, &headers, None).await
}

pub(crate) async fn userinfo_post(
    axum::extract::State(inner): State,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    userinfo(&inner, &headers, is_form.then_some(&body)).await
}

async fn userinfo(inner: &Inner, headers: &HeaderMap, body: Option<&Bytes>) -> Response {
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
    let Some(claims) = super::tokeninfo::our_access_token(inner, &token, false) else {
        return invalid();
    };
    match inner.store.is_access_token_revoked(&claims.jti).await {
        Ok(false) => {}
        Ok(true) => return invalid(),
        Err(e) => {
            tracing::error!(error = %e, "userinfo: storage failure");
            return StatusCode::SERVICE_UNAVAILABLE.into_response();
        }
    }
    if claims.token_use != Some(idp_core::TokenUse::User) {
        return invalid();
    }
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
    let user = match inner.store.get_user(&claims.sub).await {
        Ok(Some(u)) if u.active => u,
        Ok(_) => return invalid(),
        Err(e) => {
            tracing::error!(error = %e, "userinfo: storage failure");
            return StatusCode::SERVICE_UNAVAILABLE.into_response();
        }
    };
    let mut profile = StandardClaims::default();
    crate::issue::profile_claims(&mut profile, &user, &scope);
    let mut resp = axum::Json(UserInfo {
        sub: user.id,
        profile,
        tenant: user.tenant_id,
    })
    .into_response();
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

pub(crate) async fn logout_get(
    axum::extract::State(inner): State,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let pairs = super::decode_pairs(query.unwrap_or_default().as_bytes());
    logout(&inner, &headers, &pairs).await
}

pub(crate) async fn logout_post(
    axum::extract::State(inner): State,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let pairs = super::decode_pairs(&body);
    logout(&inner, &headers, &pairs).await
}

/// Ends the SSO session and redirects to a registered `post_logout_redirect_uri` (with
/// `state`), or shows the signed-out page. An unregistered URI is never followed.
async fn logout(inner: &Inner, headers: &HeaderMap, pairs: &[(String, String)]) -> Response {
    let page = |msg: &str| {
        inner
            .templates
            .error(StatusCode::BAD_REQUEST, "invalid_request", msg)
    };
    let (Ok(hint), Ok(target), Ok(state), Ok(client_id)) = (
        super::single(pairs, "id_token_hint"),
        super::single(pairs, "post_logout_redirect_uri"),
        super::single(pairs, "state"),
        super::single(pairs, "client_id"),
    ) else {
        return page("A parameter is repeated.");
    };
    let hint = match hint {
        None => None,
        Some(t) => match crate::issue::parse_id_token_hint(inner, t) {
            Some(c) => Some(c),
            None => return page("The id_token_hint is not a valid ID token from this provider."),
        },
    };
    let hinted_client = hint
        .as_ref()
        .and_then(|c| c.aud.iter().next().map(str::to_owned));
    if let (Some(a), Some(b)) = (&hinted_client, client_id)
        && a != b
    {
        return page("client_id does not match the id_token_hint.");
    }
    let client_id = hinted_client.or(client_id.map(str::to_owned));

    // End the session (only the one this browser holds, and only if the hint, when given,
    // names its user).
    let mut resp_cookies = Vec::new();
    if let Ok(Some((session, user))) = current_session(inner, headers).await
        && hint.as_ref().is_none_or(|c| c.sub == user.id)
    {
        let _ = inner.store.delete_session(&session.session_hash).await;
        resp_cookies.push(cookie_value(inner, SESSION_COOKIE, "", Some(0)));
    }

    let mut resp = match (target, client_id) {
        (Some(target), Some(client_id)) => {
            let client = inner.store.get_client(&client_id).await.ok().flatten();
            let registered = client
                .as_ref()
                .is_some_and(|c| c.post_logout_redirect_uris.iter().any(|u| u == target));
            if registered {
                match Url::parse(target) {
                    Ok(mut url) => {
                        if let Some(s) = state {
                            url.query_pairs_mut().append_pair("state", s);
                        }
                        let mut r = StatusCode::FOUND.into_response();
                        if let Ok(v) = HeaderValue::from_str(url.as_str()) {
                            r.headers_mut().insert(header::LOCATION, v);
                        }
                        r
                    }
                    Err(_) => inner.templates.render(
                        "logged_out.html",
                        StatusCode::OK,
                        minijinja::context! {},
                    ),
                }
            } else {
                inner.templates.error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    "You are signed out, but the post-logout redirect URI is not registered for this application.",
                )
            }
        }
        (Some(_), None) => inner.templates.error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "You are signed out. A post-logout redirect needs id_token_hint or client_id.",
        ),
        _ => inner
            .templates
            .render("logged_out.html", StatusCode::OK, minijinja::context! {}),
    };
    for c in resp_cookies {
        resp.headers_mut().append(header::SET_COOKIE, c);
    }
    resp
}
