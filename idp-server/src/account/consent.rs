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

/// What the built-in scopes let an application do, in the words of the consent page; a
/// description in the configuration (`scope_descriptions`) replaces these.
const BUILT_IN: [(&str, &str); 4] = [
    ("openid", "Sign you in with your account"),
    ("profile", "See your name and profile details"),
    ("email", "See your email address"),
    (
        "offline_access",
        "Keep you signed in: access when you are not present",
    ),
];

/// The words for `scope` on the consent page: from the configuration, else built in, else
/// none (the page then shows the scope's name).
fn describe<'a>(state: &'a State, scope: &str) -> Option<&'a str> {
    state
        .config
        .scope_description(scope)
        .or_else(|| BUILT_IN.iter().find(|(s, _)| *s == scope).map(|(_, d)| *d))
}

/// Where the person is sent back to, in words: the host of a web redirect URI
/// (`return_host`), or the scheme of a native app's private-use one (`return_scheme`).
fn return_to(redirect_uri: &str) -> minijinja::Value {
    match url::Url::parse(redirect_uri) {
        Ok(u) if matches!(u.scheme(), "http" | "https") => {
            minijinja::context! { return_host => u.host_str() }
        }
        Ok(u) => minijinja::context! { return_scheme => u.scheme() },
        Err(_) => minijinja::context! {},
    }
}

/// The consent page for `scope`, shown to `session` (its form's CSRF token is bound to it:
/// after a sign-in, the session this very response starts). `redirect_uri` is where the
/// person will be sent back to, shown for applications that are not first-party.
pub(crate) fn page(
    app: &App,
    headers: &HeaderMap,
    form: FormContext<'_>,
    (session, user): (&SessionRecord, &User),
    scope: &Scope,
    redirect_uri: Option<&str>,
) -> Response {
    let scopes: Vec<_> = scope
        .iter()
        .map(|s| minijinja::context! { name => s, description => describe(app, s) })
        .collect();
    let extra = minijinja::context! {
        user_email => user.email,
        scopes => scopes,
        ..redirect_uri.map(return_to).unwrap_or_default()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn return_to_names_the_host_or_the_app_scheme() {
        let host = |u: &str| {
            return_to(u)
                .get_attr("return_host")
                .ok()
                .filter(|v| !v.is_undefined())
                .map(|v| v.to_string())
        };
        let scheme = |u: &str| {
            return_to(u)
                .get_attr("return_scheme")
                .ok()
                .filter(|v| !v.is_undefined())
                .map(|v| v.to_string())
        };
        assert_eq!(
            host("https://app.example.com:8443/cb?x=1").as_deref(),
            Some("app.example.com")
        );
        assert_eq!(host("http://[::1]:3000/cb").as_deref(), Some("[::1]"));
        assert_eq!(scheme("https://app.example.com/cb"), None);
        assert_eq!(scheme("myapp://callback").as_deref(), Some("myapp"));
        assert_eq!(
            scheme("com.example.app:/cb").as_deref(),
            Some("com.example.app")
        );
        assert_eq!(host("myapp://callback"), None);
        assert_eq!(host("not a uri"), None);
    }
}
