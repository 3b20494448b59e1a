//! The consent step: the page that asks, and the decision remembered per user and client.

use axum::response::Response;
use http::{HeaderMap, StatusCode};
use idp_core::Scope;

use super::{FormContext, form_page};
use crate::Error;
use crate::state::State;
use crate::store::{ConsentRecord, SessionRecord, User};
use crate::web::App;
use crate::web::csrf::Purpose;

/// The consent page for `scope`, shown to `session` (its form's CSRF token is bound to it:
/// after a sign-in, the session this very response starts).
pub(crate) fn page(
    app: &App,
    headers: &HeaderMap,
    form: FormContext<'_>,
    session: &SessionRecord,
    user: &User,
    scope: &Scope,
) -> Response {
    let extra = minijinja::context! {
        user_email => user.email,
        scopes => scope.iter().collect::<Vec<_>>(),
    };
    let purpose = Purpose::Consent { sid: &session.sid };
    form_page(
        app,
        headers,
        "consent.html",
        StatusCode::OK,
        form,
        purpose,
        extra,
    )
}

/// Whether `user` has already consented to `scope` for `client_id`.
pub(crate) async fn covers(
    state: &State,
    user: &User,
    client_id: &str,
    scope: &Scope,
) -> Result<bool, Error> {
    let consent = state.store.get_consent(&user.id, client_id).await?;
    Ok(consent.is_some_and(|c| scope.is_subset(&c.scope)))
}

/// Records consent to `scope`; what was granted before stays granted.
pub(crate) async fn record(
    state: &State,
    user: &User,
    client_id: &str,
    scope: &Scope,
) -> Result<(), Error> {
    let mut scope = scope.clone();
    if let Some(previous) = state.store.get_consent(&user.id, client_id).await? {
        for s in previous.scope.iter() {
            scope.insert(s);
        }
    }
    let rec = ConsentRecord::new(user.id.clone(), client_id.to_owned(), scope, state.now());
    state.store.put_consent(&rec).await?;
    Ok(())
}
