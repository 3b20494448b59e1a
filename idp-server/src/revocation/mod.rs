//! Ending access: what a logout, a password change, a disabled user or client, a revoked
//! refresh token or a replayed code take away, in one place.
//!
//! Everything issued for one authorization hangs off its grant (`store::GrantRecord`):
//! refresh tokens carry it as their family, access tokens as their `gid` claim, codes as
//! their `grant_id`. Revoking the grant ends them all at once; introspection and userinfo
//! check it. Above the grants, sessions, users and clients cascade:
//!
//! | what ends | sessions ended | grants revoked | back-channel logout |
//! |---|---|---|---|
//! | logout of one browser session | that one | its grants without `offline_access` | every client that got tokens in it |
//! | password set or reset, user disabled or deleted, admin sign-out | all of the user's | all of the user's, offline ones too | every client of the user's live grants |
//! | client disabled or deleted | – | all of the client's | – |
//! | refresh token revoked, code replayed | – | that grant | – |
//!
//! Refresh tokens granted with `offline_access` survive the end of the browser session they
//! were granted in (that is what offline access is for, OIDC Core §11); nothing survives a
//! password change or a disabled account (ASVS V3.3.3).

mod backchannel;

use idp_core::Clock;

pub(crate) use backchannel::{Backchannel, Notify};

use crate::Error;
use crate::store::{GrantRecord, GrantsOf, SessionRecord, Store};

/// Why a user's access ends, for the audit log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum UserEnd {
    PasswordChanged,
    Disabled,
    Deleted,
    SignedOut,
}

impl UserEnd {
    fn as_str(self) -> &'static str {
        match self {
            Self::PasswordChanged => "password_changed",
            Self::Disabled => "user_disabled",
            Self::Deleted => "user_deleted",
            Self::SignedOut => "signed_out_everywhere",
        }
    }
}

/// What ending access needs: the store, the time, and what tells the clients.
#[derive(Clone, Copy)]
pub(crate) struct Revoker<'a> {
    pub(crate) store: &'a dyn Store,
    pub(crate) clock: &'a dyn Clock,
    pub(crate) notify: Notify<'a>,
}

impl std::fmt::Debug for Revoker<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Revoker").finish_non_exhaustive()
    }
}

impl Revoker<'_> {
    /// One browser session ends (logout): the session, and its grants without
    /// `offline_access`; every client that got tokens in it is told.
    pub(crate) async fn end_session(&self, session: &SessionRecord) -> Result<(), Error> {
        let now = self.clock.unix_now();
        let store = self.store;
        store.delete_session(&session.session_hash).await?;
        let grants = store.grants(GrantsOf::Session(&session.sid), now).await?;
        let revoked = store
            .revoke_grants(GrantsOf::SessionOnline(&session.sid), now)
            .await?;
        tracing::info!(
            target: "idp::audit",
            event = "session_ended",
            user_id = %session.user_id,
            sid = %session.sid,
            grants_revoked = revoked,
            "session ended"
        );
        self.tell(&grants, now).await;
        Ok(())
    }

    /// Everything of a user ends: every session and every grant, offline ones too; every
    /// client of a live grant is told.
    pub(crate) async fn end_user(&self, user_id: &str, why: UserEnd) -> Result<(), Error> {
        let now = self.clock.unix_now();
        let store = self.store;
        let sessions = store.delete_user_sessions(user_id).await?;
        let grants = store.grants(GrantsOf::User(user_id), now).await?;
        let revoked = store.revoke_grants(GrantsOf::User(user_id), now).await?;
        tracing::info!(
            target: "idp::audit",
            event = "user_access_ended",
            reason = why.as_str(),
            user_id = %user_id,
            sessions_ended = sessions.len(),
            grants_revoked = revoked,
            "every session and grant of the user ended"
        );
        self.tell(&grants, now).await;
        Ok(())
    }

    /// Every grant to a client ends (the client was disabled or deleted).
    pub(crate) async fn end_client(&self, client_id: &str) -> Result<(), Error> {
        let now = self.clock.unix_now();
        let revoked = self
            .store
            .revoke_grants(GrantsOf::Client(client_id), now)
            .await?;
        tracing::info!(
            target: "idp::audit",
            event = "client_access_ended",
            client_id = %client_id,
            grants_revoked = revoked,
            "every grant to the client ended"
        );
        Ok(())
    }

    /// One grant ends (its refresh token was revoked, or its code replayed); `why` goes to
    /// the audit log.
    pub(crate) async fn end_grant(&self, grant_id: &str, why: &'static str) -> Result<(), Error> {
        let now = self.clock.unix_now();
        let revoked = self
            .store
            .revoke_grants(GrantsOf::Grant(grant_id), now)
            .await?;
        tracing::info!(
            target: "idp::audit",
            event = "grant_revoked",
            reason = why,
            grant_id = %grant_id,
            newly_revoked = revoked > 0,
            "grant revoked"
        );
        Ok(())
    }

    /// Queues a `logout_token` for every client of `grants` that registered a back-channel
    /// logout URI, once per client and session. Never fails the caller: a client that
    /// cannot be told is logged.
    async fn tell(&self, grants: &[GrantRecord], now: i64) {
        let mut told: Vec<(&str, Option<&str>)> = Vec::new();
        for g in grants {
            let key = (g.client_id.as_str(), g.session_id.as_deref());
            if told.contains(&key) {
                continue;
            }
            told.push(key);
            let client = match self.store.get_client(&g.client_id).await {
                Ok(Some(c)) => c,
                Ok(None) => continue,
                Err(e) => {
                    tracing::warn!(client_id = %g.client_id, error = %e, "back-channel logout: cannot read the client");
                    continue;
                }
            };
            let Some(uri) = client.backchannel_logout_uri else {
                continue;
            };
            self.notify.send(
                &client.client_id,
                &uri,
                &g.user_id,
                g.session_id.as_deref(),
                now,
            );
        }
    }
}
