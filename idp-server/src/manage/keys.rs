//! `provider.keys()`: list and rotate signing keys.

use super::Ctx;
use crate::Error;
use crate::store::SigningKeyRecord;

/// Signing keys of a provider.
#[derive(Debug)]
pub struct Keys<'a> {
    ctx: Ctx<'a>,
}

impl<'a> Keys<'a> {
    pub(crate) fn new(ctx: Ctx<'a>) -> Self {
        Self { ctx }
    }

    /// Every stored key, oldest first.
    pub async fn list(&self) -> Result<Vec<SigningKeyRecord>, Error> {
        Ok(self.ctx.store.list_keys().await?)
    }

    /// Rotates now: new keys are published at once and sign after the publish-ahead delay;
    /// old keys stay published until their tokens have expired. Returns the new keys.
    pub async fn rotate(&self) -> Result<Vec<SigningKeyRecord>, Error> {
        let now = self.ctx.now();
        self.ctx.keys.rotate(self.ctx.store, now).await
    }

    /// Re-reads keys from the store (after another process rotated them).
    pub async fn reload(&self) -> Result<(), Error> {
        let now = self.ctx.now();
        self.ctx.keys.reload(self.ctx.store, now).await
    }
}
