//! The single-use links the account pages e-mail: a random token in the URL, its SHA-256
//! in the store, taken (deleted) by the one request that uses it.

use std::time::Duration;

use idp_core::{random_token, sha256_b64url};

use crate::Error;
use crate::issuer::paths;
use crate::mail::{MailContext, MailKind};
use crate::store::{AccountTokenPurpose, AccountTokenRecord, User};
use crate::web::App;

/// Creates a link for `purpose` acting on `user`, sent to `to` (for a verification: the
/// address it proves), replacing the user's earlier links of that purpose, and e-mails it.
pub(super) async fn send(
    app: &App,
    user: &User,
    purpose: AccountTokenPurpose,
    to: &str,
) -> Result<(), Error> {
    let (ttl, path, kind) = match purpose {
        AccountTokenPurpose::ResetPassword => (
            app.config.password_reset_ttl(),
            paths::ACCOUNT_RESET,
            MailKind::ResetPassword,
        ),
        AccountTokenPurpose::VerifyEmail => (
            app.config.email_verification_ttl(),
            paths::ACCOUNT_VERIFY,
            MailKind::VerifyEmail,
        ),
    };
    app.store.delete_account_tokens(&user.id, purpose).await?;
    let token = random_token();
    let now = app.now();
    let rec = AccountTokenRecord::new(
        sha256_b64url(token.as_bytes()),
        purpose,
        user.id.clone(),
        to,
        now,
        now.saturating_add(i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX / 4)),
    );
    app.store.insert_account_token(&rec).await?;
    let link = format!("{}?token={token}", app.issuer.endpoint(path));
    let ctx = context(app, user, to).await?.link(link).expires_in(ttl);
    app.mail.send(kind, to, &ctx);
    Ok(())
}

/// A message without a token: "someone tried to register with your address", "your
/// password was changed".
pub(super) async fn notify(app: &App, user: &User, kind: MailKind) -> Result<(), Error> {
    let path = match kind {
        MailKind::AccountExists => paths::ACCOUNT_LOGIN,
        _ => paths::ACCOUNT_FORGOT,
    };
    let ctx = context(app, user, &user.email)
        .await?
        .link(app.issuer.endpoint(path))
        .expires_in(Duration::ZERO);
    app.mail.send(kind, &user.email, &ctx);
    Ok(())
}

/// The message's context: the site (the user's tenant, or the provider) and the owner's
/// stored name — never a name typed into a form by someone else. Until the address is
/// verified, the stored name may be exactly that (anyone can register with anyone's
/// address, and a name is free text an attacker could fill with a lure), so it is left out;
/// and so it is in a message to another address (`to`: an address change), whose owner did
/// not choose it.
async fn context(app: &App, user: &User, to: &str) -> Result<MailContext, Error> {
    let tenant = match &user.tenant_id {
        Some(t) => app.tenant(t).await?,
        None => None,
    };
    let ctx = app.mail_context(tenant.as_deref());
    Ok(match &user.name {
        Some(n) if user.email_verified && user.email.eq_ignore_ascii_case(to) => {
            ctx.user_name(n.clone())
        }
        _ => ctx,
    })
}

/// The token of a link, taken: `None` when unknown, used, expired or of another purpose.
pub(super) async fn take(
    app: &App,
    token: &str,
    purpose: AccountTokenPurpose,
) -> Result<Option<AccountTokenRecord>, Error> {
    if token.is_empty() || token.len() > 128 {
        return Ok(None);
    }
    let hash = sha256_b64url(token.as_bytes());
    Ok(app
        .store
        .take_account_token(&hash, purpose, app.now())
        .await?)
}
