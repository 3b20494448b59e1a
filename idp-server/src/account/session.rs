//! The SSO session: a random value in an `HttpOnly` cookie, stored only as its SHA-256.

use http::{HeaderMap, HeaderValue};
use idp_core::{random_token, sha256_b64url};

use crate::Error;
use crate::state::State;
use crate::store::{SessionRecord, User};
use crate::web::cookies::{self, Cookie};

/// The signed-in user, if the session cookie names a live session of an active user.
pub(crate) async fn current(
    state: &State,
    headers: &HeaderMap,
) -> Result<Option<(SessionRecord, User)>, Error> {
    let Some(value) = cookies::get(headers, &state.issuer, Cookie::Session) else {
        return Ok(None);
    };
    let hash = sha256_b64url(value.as_bytes());
    let Some(session) = state.store.get_session(&hash, state.now()).await? else {
        return Ok(None);
    };
    let Some(user) = state.store.get_user(&session.user_id).await? else {
        return Ok(None);
    };
    Ok(user.active.then_some((session, user)))
}

/// Starts a session for `user`, who authenticated as `amr` says, replacing the one the
/// browser held; returns the record and the cookie to set.
pub(crate) async fn start(
    state: &State,
    headers: &HeaderMap,
    user: &User,
    amr: Vec<String>,
) -> Result<(SessionRecord, HeaderValue), Error> {
    // The session this browser held is replaced (its grants stay with it: a sign-in for
    // one application does not end another's tokens).
    if let Some(old) = cookies::get(headers, &state.issuer, Cookie::Session) {
        state
            .store
            .delete_session(&sha256_b64url(old.as_bytes()))
            .await?;
    }
    let value = random_token();
    let now = state.now();
    let ttl = state.config.session_secs();
    let mut rec = SessionRecord::new(
        sha256_b64url(value.as_bytes()),
        uuid::Uuid::new_v4().to_string(),
        user.id.clone(),
        now,
        now + ttl,
    );
    rec.amr = amr;
    state.store.insert_session(&rec).await?;
    let cookie = cookies::set(&state.issuer, Cookie::Session, &value, Some(ttl));
    Ok((rec, cookie))
}

/// Ends `session` (its grants without `offline_access` are revoked, its clients told
/// through back-channel logout) and returns the cookie that clears it in the browser.
pub(crate) async fn end(state: &State, session: &SessionRecord) -> Result<HeaderValue, Error> {
    state.revoker().end_session(session).await?;
    Ok(cookies::set(&state.issuer, Cookie::Session, "", Some(0)))
}
