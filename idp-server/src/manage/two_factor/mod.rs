//! `provider.users().two_factor()`: TOTP two-factor authentication of users (RFC 6238).
//!
//! A user enrols by scanning a secret (sealed at rest with the configured encryption key)
//! and confirming a current code; two-factor is on from then, with ten single-use backup
//! codes (stored as a keyed hash, shown once). A code is accepted within one step of clock
//! skew, and never twice: the last step used is stored per user. An operator can turn a
//! user's two-factor off ([`TwoFactor::reset`]); the user can, with their password, on the
//! account page.

mod totp;

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use zeroize::Zeroizing;

use super::{Actor, Ctx};
use crate::Error;
use crate::crypto::MacKey;
use crate::store::{StoreError, TwoFactorRecord, User};

/// How many backup codes an enrolment gets.
pub(crate) const BACKUP_CODES: usize = 10;
/// Characters of a backup code (base32: 50 bits).
const BACKUP_CODE_LEN: usize = 10;
/// Lower-case base32, the alphabet of backup codes.
const BACKUP_ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";
/// What a sealed secret is bound to, before the user id.
const SEAL_LABEL: &[u8] = b"idp totp secret v1\0";
/// The label the backup-code key is derived under.
const BACKUP_KEY_LABEL: &str = "idp backup codes v1";

/// Where a user's two-factor authentication stands.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TwoFactorStatus {
    /// Whether sign-in asks for a code after the password.
    pub enabled: bool,
    /// When the user turned it on.
    pub enabled_at: Option<i64>,
    /// Backup codes not used yet.
    pub backup_codes_left: u64,
}

/// A secret to enrol with: as base32 for manual entry, and as the `otpauth://` URI a QR
/// code carries. `Debug` is redacted.
pub(crate) struct Enrolment {
    pub(crate) secret: Zeroizing<String>,
    pub(crate) uri: Zeroizing<String>,
}

impl fmt::Debug for Enrolment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Enrolment([redacted])")
    }
}

/// The outcome of checking a second-factor code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Check {
    /// A current TOTP code, now used.
    Totp,
    /// An unused backup code, now spent.
    BackupCode,
    /// A right TOTP code of a step already used (a replay).
    Replayed,
    /// Not a valid code.
    Wrong,
    /// The user has no two-factor enabled.
    NotEnrolled,
}

/// Two-factor authentication of a provider's users.
#[derive(Debug)]
pub struct TwoFactor<'a> {
    ctx: Ctx<'a>,
    actor: Actor,
}

impl<'a> TwoFactor<'a> {
    pub(crate) fn new(ctx: Ctx<'a>, actor: Actor) -> Self {
        Self { ctx, actor }
    }

    async fn existing_user(&self, user_id: &str) -> Result<User, Error> {
        self.ctx
            .store
            .get_user(user_id)
            .await?
            .ok_or(Error::NotFound)
    }

    /// Whether the user `user_id` has two-factor on, and how many backup codes are left.
    /// [`Error::NotFound`] for an unknown user.
    pub async fn status(&self, user_id: &str) -> Result<TwoFactorStatus, Error> {
        self.existing_user(user_id).await?;
        let rec = self.ctx.store.get_two_factor(user_id).await?;
        let enabled_at = rec.and_then(|r| r.enabled_at);
        let backup_codes_left = match enabled_at {
            Some(_) => self.ctx.store.backup_codes_left(user_id).await?,
            None => 0,
        };
        Ok(TwoFactorStatus {
            enabled: enabled_at.is_some(),
            enabled_at,
            backup_codes_left,
        })
    }

    /// Turns the user's two-factor off (an operator's reset, for a user who lost their
    /// device and backup codes): the secret and the backup codes are deleted, and the next
    /// sign-in asks for the password only (an enrolment begun and not confirmed goes too).
    /// Whether it was on. [`Error::NotFound`] for an unknown user.
    pub async fn reset(&self, user_id: &str) -> Result<bool, Error> {
        self.existing_user(user_id).await?;
        let was_on = self.required(user_id).await?;
        self.ctx.store.delete_two_factor(user_id).await?;
        audit("two_factor_reset", user_id, &self.actor);
        Ok(was_on)
    }

    /// Turns the user's own two-factor off (the account page, after the password).
    pub(crate) async fn disable(&self, user_id: &str) -> Result<bool, Error> {
        let had = self.ctx.store.delete_two_factor(user_id).await?;
        audit("two_factor_disabled", user_id, &self.actor);
        Ok(had)
    }

    /// Whether sign-in must ask `user_id` for a second factor.
    pub(crate) async fn required(&self, user_id: &str) -> Result<bool, Error> {
        Ok(self
            .ctx
            .store
            .get_two_factor(user_id)
            .await?
            .is_some_and(|r| r.is_enabled()))
    }

    fn aad(user_id: &str) -> Vec<u8> {
        let mut aad = SEAL_LABEL.to_vec();
        aad.extend_from_slice(user_id.as_bytes());
        aad
    }

    fn open(&self, rec: &TwoFactorRecord) -> Result<Zeroizing<Vec<u8>>, Error> {
        self.ctx
            .keys
            .encryption_key()
            .open(&Self::aad(&rec.user_id), &rec.secret_sealed)
            .map_err(|_| {
                Error::Crypto(
                    "cannot decrypt a stored two-factor secret: wrong encryption_key or corrupt row"
                        .into(),
                )
            })
    }

    /// The secret for `user` to enrol with (`issuer` names the provider in the app): the
    /// unconfirmed one begun earlier, or a new one. [`Error::Conflict`] when two-factor is
    /// already on.
    pub(crate) async fn begin(&self, user: &User, issuer: &str) -> Result<Enrolment, Error> {
        let secret = match self.ctx.store.get_two_factor(&user.id).await? {
            Some(rec) if rec.is_enabled() => {
                return Err(Error::Conflict("two-factor is already on".into()));
            }
            Some(rec) => self.open(&rec)?,
            None => {
                let mut secret = Zeroizing::new(vec![0u8; totp::SECRET_LEN]);
                aws_lc_rs::rand::fill(&mut secret)
                    .map_err(|_| Error::Crypto("random number generator failed".into()))?;
                let sealed = self
                    .ctx
                    .keys
                    .encryption_key()
                    .seal(&Self::aad(&user.id), &secret)?;
                let rec = TwoFactorRecord::new(user.id.clone(), sealed, self.ctx.now());
                self.ctx
                    .store
                    .begin_two_factor(&rec)
                    .await
                    .map_err(|e| match e {
                        StoreError::Conflict(_) => {
                            Error::Conflict("two-factor is already on".into())
                        }
                        other => other.into(),
                    })?;
                secret
            }
        };
        let b32 = Zeroizing::new(totp::base32(&secret));
        let uri = Zeroizing::new(totp::otpauth_uri(issuer, &user.email, &b32));
        Ok(Enrolment { secret: b32, uri })
    }

    /// Confirms the unconfirmed enrolment of `user_id` with a current code: two-factor is
    /// on, and the new backup codes (to show once) are returned. `None` when the code is
    /// not right (or there is no enrolment to confirm).
    pub(crate) async fn confirm(
        &self,
        user_id: &str,
        typed: &str,
    ) -> Result<Option<Vec<Zeroizing<String>>>, Error> {
        let Some(rec) = self
            .ctx
            .store
            .get_two_factor(user_id)
            .await?
            .filter(|r| !r.is_enabled())
        else {
            return Ok(None);
        };
        let secret = self.open(&rec)?;
        let now = self.ctx.now();
        let Some(step) = totp::normalise(typed).and_then(|c| totp::matching_step(&secret, &c, now))
        else {
            return Ok(None);
        };
        let codes = (0..BACKUP_CODES)
            .map(|_| new_backup_code())
            .collect::<Result<Vec<_>, _>>()?;
        let key = self.backup_key();
        let hashes: Vec<String> = codes
            .iter()
            .map(|c| backup_hash(&key, user_id, &normalise_backup(c).unwrap_or_default()))
            .collect();
        if !self
            .ctx
            .store
            .enable_two_factor(user_id, now, step, &hashes)
            .await?
        {
            return Ok(None);
        }
        audit("two_factor_enabled", user_id, &self.actor);
        Ok(Some(codes))
    }

    fn backup_key(&self) -> MacKey {
        MacKey::derive_from(self.ctx.keys.encryption_key(), BACKUP_KEY_LABEL)
    }

    /// Checks a second-factor code of `user_id` at sign-in: a current TOTP code not used
    /// before, or an unused backup code (spent by this call).
    pub(crate) async fn check(&self, user_id: &str, typed: &str) -> Result<Check, Error> {
        let Some(rec) = self
            .ctx
            .store
            .get_two_factor(user_id)
            .await?
            .filter(TwoFactorRecord::is_enabled)
        else {
            return Ok(Check::NotEnrolled);
        };
        if let Some(code) = totp::normalise(typed) {
            let secret = self.open(&rec)?;
            return Ok(match totp::matching_step(&secret, &code, self.ctx.now()) {
                None => Check::Wrong,
                Some(step) if self.ctx.store.use_totp_step(user_id, step).await? => Check::Totp,
                Some(_) => Check::Replayed,
            });
        }
        let Some(code) = normalise_backup(typed) else {
            return Ok(Check::Wrong);
        };
        let hash = backup_hash(&self.backup_key(), user_id, &code);
        if self
            .ctx
            .store
            .use_backup_code(user_id, &hash, self.ctx.now())
            .await?
        {
            audit("backup_code_used", user_id, &self.actor);
            Ok(Check::BackupCode)
        } else {
            Ok(Check::Wrong)
        }
    }
}

/// A new backup code, `xxxxx-xxxxx` (ten base32 characters: 50 bits).
fn new_backup_code() -> Result<Zeroizing<String>, Error> {
    let mut raw = Zeroizing::new([0u8; BACKUP_CODE_LEN]);
    aws_lc_rs::rand::fill(raw.as_mut())
        .map_err(|_| Error::Crypto("random number generator failed".into()))?;
    let mut code = Zeroizing::new(String::with_capacity(BACKUP_CODE_LEN + 1));
    for (i, b) in raw.iter().enumerate() {
        if i == BACKUP_CODE_LEN / 2 {
            code.push('-');
        }
        code.push(char::from(BACKUP_ALPHABET[usize::from(b & 31)]));
    }
    Ok(code)
}

/// A typed backup code without separators, in lower case, if it has the shape of one.
fn normalise_backup(typed: &str) -> Option<String> {
    let code: String = typed
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .map(|c| c.to_ascii_lowercase())
        .collect();
    (code.len() == BACKUP_CODE_LEN && code.bytes().all(|b| BACKUP_ALPHABET.contains(&b)))
        .then_some(code)
}

/// The stored form of a backup code: a MAC under a key derived from the encryption key, so
/// that the table alone does not allow guessing codes offline.
fn backup_hash(key: &MacKey, user_id: &str, code: &str) -> String {
    URL_SAFE_NO_PAD.encode(key.mac(&[user_id.as_bytes(), code.as_bytes()]))
}

/// A change to a user's two-factor, in the audit log (never a secret or a code).
fn audit(event: &'static str, user_id: &str, actor: &Actor) {
    tracing::info!(target: "idp::audit", event, user_id = %user_id, actor = ?actor, "two-factor changed");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backup_codes_have_their_shape_and_normalise() {
        let c = new_backup_code().unwrap();
        assert_eq!(c.len(), 11);
        assert_eq!(c.as_bytes()[5], b'-');
        let n = normalise_backup(&c.to_uppercase()).unwrap();
        assert_eq!(n.len(), 10);
        assert_eq!(normalise_backup(" abcde fghij "), Some("abcdefghij".into()));
        assert_eq!(normalise_backup("abcde-fghi1"), None);
        assert_eq!(normalise_backup("123456"), None);
    }
}
