//! The second step of a sign-in, for a user with two-factor on: after a right password the
//! browser gets a pending sign-in (a random value in an `HttpOnly` cookie, stored only as
//! its SHA-256, expiring in five minutes, good for [`MAX_ATTEMPTS`] codes) and the code
//! form; a right code (a current TOTP code not used before, or an unused backup code) ends
//! the pending sign-in and lets the sign-in finish. A password alone never starts a
//! session for such a user. Wrong codes count against the sign-in throttle of the account
//! and the client address, as wrong passwords do.

use std::net::IpAddr;

use axum::response::Response;
use http::{HeaderMap, StatusCode, header};
use idp_core::{random_token, sha256_b64url};

use super::{FormContext, form_page};
use crate::Error;
use crate::manage::Actor;
use crate::manage::two_factor::Check;
use crate::store::{PendingSignIn, User};
use crate::web::App;
use crate::web::cookies::{self, Cookie};
use crate::web::csrf::Purpose;
use crate::web::form::single;
use crate::web::retry_after;

/// How long a pending sign-in lasts.
pub(crate) const PENDING_SECS: i64 = 300;
/// How many codes one pending sign-in may try.
pub(crate) const MAX_ATTEMPTS: i64 = 5;

/// The `amr` of a sign-in with a password and a second factor (RFC 8176).
pub(crate) fn amr() -> Vec<String> {
    vec!["pwd".to_owned(), "otp".to_owned()]
}

/// The outcome of a submitted code form.
#[derive(Debug)]
pub(crate) enum Second {
    /// The code was right: the sign-in of this user may finish.
    Verified(Box<User>),
    /// Refused: the code form again, with a message.
    Refused(Response),
    /// No sign-in to continue (none, expired, out of attempts): start again from the
    /// password, with this message.
    Restart(&'static str),
}

/// The code form, posting to `form.action` with the request's parameters.
pub(crate) fn page(
    app: &App,
    headers: &HeaderMap,
    form: FormContext<'_>,
    status: StatusCode,
    error: Option<&str>,
) -> Response {
    let extra = minijinja::context! { error => error };
    form_page(
        app,
        headers,
        "totp_challenge.html",
        status,
        form,
        Purpose::Login,
        extra,
    )
}

/// Starts a pending sign-in for `user`, whose password was right: the code form, with the
/// cookie that binds the pending sign-in to this browser.
pub(crate) async fn challenge(
    app: &App,
    headers: &HeaderMap,
    user: &User,
    form: FormContext<'_>,
) -> Result<Response, Error> {
    // One pending sign-in per browser: an earlier one ends.
    if let Some(old) = cookies::get(headers, &app.issuer, Cookie::PendingSignIn) {
        app.store
            .delete_pending_sign_in(&sha256_b64url(old.as_bytes()))
            .await?;
    }
    let value = random_token();
    let now = app.now();
    let pending = PendingSignIn::new(
        sha256_b64url(value.as_bytes()),
        user.id.clone(),
        now,
        now + PENDING_SECS,
    );
    app.store.insert_pending_sign_in(&pending).await?;
    let mut resp = page(app, headers, form, StatusCode::OK, None);
    let cookie = cookies::set(
        &app.issuer,
        Cookie::PendingSignIn,
        &value,
        Some(PENDING_SECS),
    );
    resp.headers_mut().append(header::SET_COOKIE, cookie);
    Ok(resp)
}

/// The `Set-Cookie` that removes the pending sign-in's cookie.
pub(crate) fn clear_cookie(app: &App) -> http::HeaderValue {
    cookies::set(&app.issuer, Cookie::PendingSignIn, "", Some(0))
}

/// Checks the code of a submitted code form against the browser's pending sign-in, for a
/// user of `tenant`. The caller has checked the form's CSRF token.
pub(crate) async fn verify(
    app: &App,
    headers: &HeaderMap,
    pairs: &[(String, String)],
    tenant: Option<&str>,
    addr: Option<IpAddr>,
    form: FormContext<'_>,
) -> Result<Second, Error> {
    const EXPIRED: &str = "Your sign-in has expired. Sign in again.";
    let Some(value) = cookies::get(headers, &app.issuer, Cookie::PendingSignIn) else {
        return Ok(Second::Restart(EXPIRED));
    };
    let hash = sha256_b64url(value.as_bytes());
    let now = app.now();
    let Some(pending) = app
        .store
        .attempt_pending_sign_in(&hash, now, MAX_ATTEMPTS)
        .await?
    else {
        app.store.delete_pending_sign_in(&hash).await?;
        return Ok(Second::Restart(EXPIRED));
    };
    let user = app
        .store
        .get_user(&pending.user_id)
        .await?
        .filter(|u| u.active && u.tenant_id.as_deref() == tenant);
    let Some(user) = user else {
        app.store.delete_pending_sign_in(&hash).await?;
        return Ok(Second::Restart(EXPIRED));
    };
    if let Err(wait) = app.limiters.login_allowed(tenant, &user.email, addr).await {
        tracing::warn!(target: "idp::audit", event = "second_factor_throttled", user_id = %user.id, client_addr = ?addr, "second factor throttled");
        let message = "Too many attempts. Wait a minute and try again.";
        let resp = page(
            app,
            headers,
            form,
            StatusCode::TOO_MANY_REQUESTS,
            Some(message),
        );
        return Ok(Second::Refused(retry_after(resp, wait)));
    }
    let typed = single(pairs, "code").ok().flatten().unwrap_or("");
    let check = app
        .users()
        .by(Actor::User(user.id.clone()))
        .two_factor()
        .check(&user.id, typed)
        .await?;
    let message = match check {
        Check::Totp | Check::BackupCode => {
            app.store.delete_pending_sign_in(&hash).await?;
            let how = if check == Check::Totp {
                "totp"
            } else {
                "backup_code"
            };
            tracing::info!(target: "idp::audit", event = "second_factor_passed", method = how, user_id = %user.id, client_addr = ?addr, "second factor passed");
            return Ok(Second::Verified(Box::new(user)));
        }
        Check::NotEnrolled => {
            // Two-factor was reset meanwhile: start again, as the sign-in now differs.
            app.store.delete_pending_sign_in(&hash).await?;
            return Ok(Second::Restart(EXPIRED));
        }
        Check::Replayed => {
            "That code has already been used. Wait for your app to show the next code and enter it."
        }
        Check::Wrong => {
            "That code is not right. Enter the current code from your authenticator app, or one of your backup codes."
        }
    };
    tracing::info!(target: "idp::audit", event = "second_factor_failed", replay = (check == Check::Replayed), user_id = %user.id, client_addr = ?addr, "second factor failed");
    app.limiters.login_failed(tenant, &user.email, addr).await;
    if pending.attempts >= MAX_ATTEMPTS {
        app.store.delete_pending_sign_in(&hash).await?;
        return Ok(Second::Restart(
            "Too many wrong codes. Sign in again with your password.",
        ));
    }
    let resp = page(app, headers, form, StatusCode::UNAUTHORIZED, Some(message));
    Ok(Second::Refused(resp))
}
