//! The records of two-factor authentication (TOTP, RFC 6238) and the [`TwoFactorStore`]
//! trait every backend implements beside [`Store`](super::Store).

use std::fmt;

use async_trait::async_trait;

use super::StoreError;

/// A user's TOTP enrolment. The shared secret is sealed (AES-256-GCM under the configured
/// encryption key, bound to the user id): the store never holds it in clear. `Debug` leaves
/// it out.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TwoFactorRecord {
    /// The user.
    pub user_id: String,
    /// The sealed secret (nonce || ciphertext || tag).
    pub secret_sealed: Vec<u8>,
    /// When the user confirmed the enrolment with a code: two-factor is on from then.
    /// `None`: enrolment begun, not confirmed (two-factor is off).
    pub enabled_at: Option<i64>,
    /// The last TOTP time step accepted; a code of that step or an earlier one is refused.
    pub last_step: Option<i64>,
    /// When enrolment began.
    pub created_at: i64,
}

impl fmt::Debug for TwoFactorRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TwoFactorRecord")
            .field("user_id", &self.user_id)
            .field("enabled_at", &self.enabled_at)
            .field("last_step", &self.last_step)
            .field("created_at", &self.created_at)
            .finish_non_exhaustive()
    }
}

impl TwoFactorRecord {
    /// An unconfirmed enrolment begun at `now`.
    pub fn new(user_id: impl Into<String>, secret_sealed: Vec<u8>, now: i64) -> Self {
        Self {
            user_id: user_id.into(),
            secret_sealed,
            enabled_at: None,
            last_step: None,
            created_at: now,
        }
    }

    /// Whether two-factor is on.
    pub fn is_enabled(&self) -> bool {
        self.enabled_at.is_some()
    }
}

/// A sign-in whose password was right and whose second factor is awaited: bound to the
/// browser by a cookie, stored as the SHA-256 of its value.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PendingSignIn {
    /// SHA-256 of the cookie value.
    pub pending_hash: String,
    /// The user whose password was right.
    pub user_id: String,
    /// Codes tried so far.
    pub attempts: i64,
    /// Creation time.
    pub created_at: i64,
    /// Expiry.
    pub expires_at: i64,
}

impl PendingSignIn {
    /// A pending sign-in created at `now`, with no attempt yet.
    pub fn new(
        pending_hash: impl Into<String>,
        user_id: impl Into<String>,
        now: i64,
        expires_at: i64,
    ) -> Self {
        Self {
            pending_hash: pending_hash.into(),
            user_id: user_id.into(),
            attempts: 0,
            created_at: now,
            expires_at,
        }
    }
}

/// The storage of two-factor authentication: enrolments, backup codes and pending sign-ins.
/// Using a time step and using a backup code are single conditional writes, so that of two
/// concurrent uses of one code exactly one succeeds.
#[async_trait]
pub trait TwoFactorStore: Send + Sync {
    /// A user's enrolment, confirmed or not.
    async fn get_two_factor(&self, user_id: &str) -> Result<Option<TwoFactorRecord>, StoreError>;
    /// Stores an unconfirmed enrolment, replacing an unconfirmed one of the same user;
    /// `Conflict` if the user's two-factor is already on.
    async fn begin_two_factor(&self, record: &TwoFactorRecord) -> Result<(), StoreError>;
    /// Turns an unconfirmed enrolment on at `now`, with `step` (the confirming code's) as its
    /// last used step, and replaces the user's backup codes with `backup_hashes`, in one
    /// write. `false` (and nothing changed) when there was no unconfirmed enrolment.
    async fn enable_two_factor(
        &self,
        user_id: &str,
        now: i64,
        step: i64,
        backup_hashes: &[String],
    ) -> Result<bool, StoreError>;
    /// Records `step` as used when it is later than the last used step of an enabled
    /// enrolment (one conditional statement); whether this call did.
    async fn use_totp_step(&self, user_id: &str, step: i64) -> Result<bool, StoreError>;
    /// Spends an unused backup code at `now` (one conditional statement); whether this call
    /// did.
    async fn use_backup_code(
        &self,
        user_id: &str,
        code_hash: &str,
        now: i64,
    ) -> Result<bool, StoreError>;
    /// How many unused backup codes the user has.
    async fn backup_codes_left(&self, user_id: &str) -> Result<u64, StoreError>;
    /// Deletes the user's enrolment and backup codes; whether there was an enrolment.
    async fn delete_two_factor(&self, user_id: &str) -> Result<bool, StoreError>;

    /// Stores a pending sign-in; `Conflict` if the hash is taken.
    async fn insert_pending_sign_in(&self, pending: &PendingSignIn) -> Result<(), StoreError>;
    /// Counts one attempt on a pending sign-in that is unexpired at `now` and has had fewer
    /// than `max_attempts` (one conditional statement); the record as counted, or `None`
    /// when it is unknown, expired or out of attempts.
    async fn attempt_pending_sign_in(
        &self,
        pending_hash: &str,
        now: i64,
        max_attempts: i64,
    ) -> Result<Option<PendingSignIn>, StoreError>;
    /// Deletes a pending sign-in; whether it existed.
    async fn delete_pending_sign_in(&self, pending_hash: &str) -> Result<bool, StoreError>;
    /// Deletes the pending sign-ins expired at `now`; how many.
    async fn purge_pending_sign_ins(&self, now: i64) -> Result<u64, StoreError>;
}
