//! The provider's shared state, built in one pass from the [`Config`]: the parsed issuer,
//! the store, the clock, the key ring, the limiters and the policies that check the
//! provider's own tokens.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use idp_core::{
    AccessTokenClaims, Algorithm, Clock, ErrorCode, IdTokenClaims, Scope, TokenUse,
    ValidationPolicy,
};

use serde_json::{Map, Value};

use crate::Error;
use crate::attributes::{Schemas, TokenKind, custom_claims};
use crate::client_cache::{ClientCache, TenantCache};
use crate::config::Config;
use crate::crypto::EncryptionKey;
use crate::error::OAuthError;
use crate::hashing::HashBudget;
use crate::issue::{ExtraClaims, Minter};
use crate::issuer::Issuer;
use crate::keys::KeyRing;
use crate::mail::{MailContext, MailTemplates, Mailer, Outbox, SmtpMailer};
use crate::manage::hooks::Hooks;
use crate::manage::{Actor, Clients, Ctx, HookContext, Keys, Tenants, TokenClaims, Users};
use crate::metrics::{Metrics, TimedStore};
use crate::rate_limit::{Limiters, RateLimits};
use crate::revocation::{Backchannel, Notify, Revoker};
use crate::secret_cache::VerifiedSecrets;
use crate::store::{Client, Store, StoreError, Tenant, User};
use crate::tls::Tls;

/// How the provider validates its own tokens, built once.
#[derive(Debug)]
struct Policies {
    /// Access tokens presented for use (introspection, userinfo): no leeway.
    access: ValidationPolicy,
    /// Access tokens presented for revocation: recently expired ones still count.
    access_recent: ValidationPolicy,
    /// `id_token_hint`: our ID tokens, expired or not.
    id_token_hint: ValidationPolicy,
}

impl Policies {
    fn new(issuer: &Issuer, id_token_alg: Algorithm) -> Result<Self, Error> {
        let access = |leeway: u64| {
            ValidationPolicy::builder()
                .issuer(issuer.as_str())
                .insecure_any_audience()
                .algorithms([Algorithm::RS256, Algorithm::ES256, Algorithm::EdDSA])
                .required_typ("at+jwt")
                .leeway(Duration::from_secs(leeway))
                .build()
        };
        let policy_err = |e: idp_core::Error| Error::Config(e.to_string());
        Ok(Self {
            access: access(0).map_err(policy_err)?,
            access_recent: access(300).map_err(policy_err)?,
            id_token_hint: ValidationPolicy::builder()
                .issuer(issuer.as_str())
                .insecure_any_audience()
                .insecure_allow_expired()
                .algorithms([id_token_alg])
                .build()
                .map_err(policy_err)?,
        })
    }
}

/// Whom a live access token speaks for.
#[derive(Debug)]
pub(crate) enum Subject {
    /// A user's token, with the user as stored now.
    User(Box<User>),
    /// A service token (client_credentials) of an active client.
    Service,
}

/// Everything a request handler and the management API share.
#[derive(Debug)]
pub(crate) struct State {
    pub(crate) config: Config,
    pub(crate) issuer: Issuer,
    pub(crate) scopes_supported: Scope,
    pub(crate) store: Arc<dyn Store>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) keys: KeyRing,
    pub(crate) limiters: Limiters,
    pub(crate) verified_secrets: VerifiedSecrets,
    pub(crate) hashing: HashBudget,
    client_cache: Arc<ClientCache>,
    tenant_cache: Arc<TenantCache>,
    backchannel: Backchannel,
    /// When the last readiness check passed (reused for a second).
    ready_since: tokio::sync::Mutex<Option<std::time::Instant>>,
    hooks: Hooks,
    policies: Policies,
    /// The attribute schemas, merged per tenant once.
    schemas: Schemas,
    /// Outgoing e-mail: `mail.send(kind, to, &ctx)` queues a message.
    pub(crate) mail: Outbox,
    /// The provider's metrics (`/metrics`).
    pub(crate) metrics: Arc<Metrics>,
    /// The certificate `Provider::serve` serves HTTPS with (`tls_cert`, `tls_key`).
    pub(crate) tls: Option<Arc<Tls>>,
}

impl State {
    /// Checks the configuration, then makes sure signing keys exist (creating them on
    /// first start).
    pub(crate) async fn new(
        config: Config,
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        hooks: Hooks,
        default_limits: RateLimits,
        mailer: Option<Arc<dyn Mailer>>,
    ) -> Result<Self, Error> {
        let issuer = Issuer::parse(
            config
                .issuer
                .as_deref()
                .ok_or_else(|| Error::Config("issuer is required".into()))?,
        )?;
        let scopes_supported = config.validate()?;
        let enc = EncryptionKey::from_secret(
            config
                .encryption_key()
                .ok_or_else(|| Error::Config("encryption_key is required".into()))?,
        )?;
        let keys = KeyRing::new(
            enc,
            config.signing_algorithms(),
            config.key_publish_ahead_secs(),
            config.key_retention_secs(),
        );
        // A mailer given in code wins over `[smtp]`.
        let mailer = match (mailer, &config.smtp) {
            (Some(m), _) => Some(m),
            (None, Some(smtp)) => Some(Arc::new(SmtpMailer::new(smtp)?) as Arc<dyn Mailer>),
            (None, None) => None,
        };
        let tls = config.load_tls()?.map(Arc::new);
        let metrics = Arc::new(Metrics::new());
        // Every storage operation is timed, whatever the backend.
        let store: Arc<dyn Store> = Arc::new(TimedStore::new(store, Arc::clone(&metrics)));
        let mail = Outbox::new(
            MailTemplates::load(config.templates_dir.as_deref())?,
            mailer,
        );
        let state = Self {
            mail,
            policies: Policies::new(&issuer, config.id_token_alg)?,
            limiters: Limiters::new(config.rate_limits.as_ref().unwrap_or(&default_limits))
                .map_err(Error::Config)?
                .with_metrics(Arc::clone(&metrics)),
            metrics,
            tls,
            issuer,
            scopes_supported,
            store,
            clock,
            keys,
            verified_secrets: VerifiedSecrets::new(),
            hashing: HashBudget::new(config.hashing_concurrency(), config.hashing_wait()),
            client_cache: Arc::new(ClientCache::new(config.client_cache_ttl())),
            tenant_cache: Arc::new(TenantCache::new(config.client_cache_ttl())),
            backchannel: Backchannel::start(),
            ready_since: tokio::sync::Mutex::new(None),
            hooks,
            schemas: config.schemas(),
            config,
        };
        state.keys.ensure(state.store.as_ref(), state.now()).await?;
        if let Some(changes) = state.store.client_changes().await {
            state.client_cache.follow(&state.tenant_cache, changes);
        }
        Ok(state)
    }

    /// The metrics as OpenMetrics text, with the signing keys' ages as of now.
    pub(crate) fn render_metrics(&self) -> String {
        let now = self.now();
        let snap = self.keys.snapshot();
        let ages: Vec<(String, i64)> = self
            .config
            .signing_algorithms()
            .into_iter()
            .filter_map(|alg| {
                let created = snap.signer_created_at(alg, now)?;
                Some((alg.to_string(), now.saturating_sub(created).max(0)))
            })
            .collect();
        self.metrics.render(&ages)
    }

    /// Unix seconds, from the injected clock.
    pub(crate) fn now(&self) -> i64 {
        self.clock.unix_now()
    }

    /// A client by id, from the client cache or the store.
    pub(crate) async fn client(&self, id: &str) -> Result<Option<Arc<Client>>, StoreError> {
        self.client_cache.get(self.store.as_ref(), id).await
    }

    /// Ends sessions and grants, telling the clients.
    pub(crate) fn revoker(&self) -> Revoker<'_> {
        Revoker {
            store: self.store.as_ref(),
            clock: self.clock.as_ref(),
            notify: Notify {
                issuer: &self.issuer,
                keys: &self.keys,
                alg: self.config.id_token_alg,
                backchannel: &self.backchannel,
            },
        }
    }

    /// Waits (up to `limit`) for queued back-channel logout deliveries and e-mails;
    /// whether none is left.
    pub(crate) async fn drain_notifications(&self, limit: Duration) -> bool {
        let (logout, mail) = tokio::join!(self.backchannel.drain(limit), self.mail.drain(limit));
        logout && mail
    }

    /// The start of every message's context: the site's name is the tenant's display name,
    /// or the issuer's host.
    pub(crate) fn mail_context(&self, tenant: Option<&Tenant>) -> MailContext {
        let name = tenant
            .and_then(|t| t.display_name.clone())
            .unwrap_or_else(|| self.issuer.host().to_owned());
        MailContext::new(name)
    }

    fn manage(&self) -> Ctx<'_> {
        Ctx {
            store: self.store.as_ref(),
            clock: self.clock.as_ref(),
            revoker: self.revoker(),
            client_cache: &self.client_cache,
            keys: &self.keys,
            hooks: &self.hooks,
            hashing: &self.hashing,
            insecure_http_redirect_uris: self.config.insecure_allow_http_redirect_uris,
            schemas: &self.schemas,
            tenant_cache: &self.tenant_cache,
            known_scopes: self
                .config
                .scopes_enforced()
                .then_some(&self.scopes_supported),
        }
    }

    pub(crate) fn users(&self) -> Users<'_> {
        Users::new(self.manage())
    }

    pub(crate) fn clients(&self) -> Clients<'_> {
        Clients::new(self.manage())
    }

    pub(crate) fn tenants(&self) -> Tenants<'_> {
        Tenants::new(self.manage())
    }

    pub(crate) fn keys_api(&self) -> Keys<'_> {
        Keys::new(self.manage())
    }

    /// A registered tenant, from the tenant cache (`client_cache_ttl`).
    pub(crate) async fn tenant(&self, id: &str) -> Result<Option<Arc<Tenant>>, StoreError> {
        self.tenant_cache.get(self.store.as_ref(), id).await
    }

    /// The provider's hooks.
    pub(crate) fn hooks(&self) -> &Hooks {
        &self.hooks
    }

    /// The custom claims of `kind` for a token of `client` (and `user`, for user tokens)
    /// with `scope`: the configured mapping, then the before-token hook. A refusal is
    /// `access_denied` with the hook's message; a failed hook a server error.
    pub(crate) async fn custom_claims(
        &self,
        kind: TokenKind,
        (client_id, client_tenant): (&str, Option<&str>),
        user: Option<&User>,
        scope: &Scope,
        addr: Option<IpAddr>,
    ) -> Result<Map<String, Value>, OAuthError> {
        let empty = Map::new();
        let attrs = user.map_or(&empty, |u| &u.attributes);
        let claims = match user {
            Some(_) => custom_claims(&self.config.claims, kind, scope, attrs),
            None => Map::new(),
        };
        if self.hooks.before_token.is_none() {
            return Ok(claims);
        }
        let tenant = user.map_or(client_tenant, |u| u.tenant_id.as_deref());
        let actor = match user {
            Some(u) => Actor::User(u.id.clone()),
            None => Actor::Code,
        };
        let ctx = HookContext::new(actor)
            .tenant(tenant)
            .client_addr(addr)
            .client_id(client_id);
        let input = TokenClaims::new(kind, user.map(|u| u.id.clone()), scope, claims);
        self.hooks
            .token_claims(ctx, input)
            .await
            .map_err(|e| match e {
                Error::Rejected(m) => OAuthError::new(ErrorCode::AccessDenied).describe(m),
                other => OAuthError::server(other),
            })
    }

    /// The access-token and ID-token custom claims of a user grant.
    pub(crate) async fn extra_claims(
        &self,
        client: &Client,
        user: &User,
        scope: &Scope,
        addr: Option<IpAddr>,
    ) -> Result<ExtraClaims, OAuthError> {
        let c = (client.client_id.as_str(), client.tenant_id.as_deref());
        let access = self
            .custom_claims(TokenKind::AccessToken, c, Some(user), scope, addr)
            .await?;
        let id = if scope.contains("openid") {
            self.custom_claims(TokenKind::IdToken, c, Some(user), scope, addr)
                .await?
        } else {
            Map::new()
        };
        Ok(ExtraClaims { access, id })
    }

    /// Mints tokens as of now.
    pub(crate) fn minter(&self) -> Minter<'_> {
        Minter {
            issuer: &self.issuer,
            config: &self.config,
            keys: &self.keys,
            now: self.now(),
        }
    }

    /// Verifies one of our access tokens: signature, issuer, type and expiry (with five
    /// minutes of leeway when `recent_ok`, for revocation). Revocation is the caller's
    /// check. idp-core's front door bounds the length and parses the header once.
    pub(crate) fn verify_access_token(
        &self,
        token: &str,
        recent_ok: bool,
    ) -> Option<AccessTokenClaims> {
        let policy = if recent_ok {
            &self.policies.access_recent
        } else {
            &self.policies.access
        };
        let snap = self.keys.snapshot();
        policy
            .validate::<AccessTokenClaims>(token, &snap.verification, self.clock.as_ref())
            .ok()
            .map(|v| v.claims)
    }

    /// Whether a verified access token is still live, and whose it is: not revoked on its
    /// own (`jti`), its grant live and of the same user, the user active — or, for a
    /// service token, its client active. `None`: inactive.
    pub(crate) async fn live_subject(
        &self,
        claims: &AccessTokenClaims,
    ) -> Result<Option<Subject>, StoreError> {
        let store = self.store.as_ref();
        if store.is_access_token_revoked(&claims.jti).await? {
            return Ok(None);
        }
        if claims.token_use == Some(TokenUse::Service) {
            let client = self.client(&claims.sub).await?;
            return Ok(client.filter(|c| c.active).map(|_| Subject::Service));
        }
        if let Some(gid) = &claims.gid {
            let now = self.now();
            let grant = store.get_grant(gid).await?;
            if !grant.is_some_and(|g| g.is_live(now) && g.user_id == claims.sub) {
                return Ok(None);
            }
        }
        let user = store.get_user(&claims.sub).await?;
        Ok(user
            .filter(|u| u.active)
            .map(|u| Subject::User(Box::new(u))))
    }

    /// Validates one of our ID tokens used as a hint (`id_token_hint`): signature and
    /// issuer; an expired token is accepted, as OIDC allows.
    pub(crate) fn verify_id_token_hint(&self, token: &str) -> Option<IdTokenClaims> {
        let snap = self.keys.snapshot();
        self.policies
            .id_token_hint
            .validate::<IdTokenClaims>(token, &snap.verification, self.clock.as_ref())
            .ok()
            .map(|v| v.claims)
    }

    /// Readiness: the signing keys in use are loaded and the store takes a write within two
    /// seconds. A pass is reused for a second (one probe at a time, so a flood of probes is
    /// one write a second); a failure is not, so readiness comes back with the store.
    pub(crate) async fn ready(&self) -> bool {
        let mut last = self.ready_since.lock().await;
        if last.is_some_and(|at| at.elapsed() < Duration::from_secs(1)) {
            return true;
        }
        let now = self.now();
        let snap = self.keys.snapshot();
        let keys = [self.config.access_token_alg, self.config.id_token_alg]
            .iter()
            .all(|alg| snap.signer(*alg, now).is_some());
        let write = tokio::time::timeout(Duration::from_secs(2), self.store.probe_write(now)).await;
        let store = match write {
            Ok(Ok(())) => true,
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "readiness: the store refused a write");
                false
            }
            Err(_) => {
                tracing::warn!("readiness: the store did not take a write within 2 s");
                false
            }
        };
        if !keys {
            tracing::warn!("readiness: no active signing key");
        }
        let ok = keys && store;
        *last = ok.then(std::time::Instant::now);
        ok
    }

    /// Periodic work: keys changed elsewhere, due rotations, expired keys and rows.
    pub(crate) async fn maintenance(&self) -> Result<(), Error> {
        let now = self.now();
        let store = self.store.as_ref();
        self.keys
            .rotate_if_due(store, now, self.config.key_rotation_secs())
            .await?;
        store.delete_expired_keys(now).await?;
        self.keys.reload(store, now).await?;
        store.purge_expired(now).await?;
        store.purge_pending_sign_ins(now).await?;
        self.limiters.shrink();
        Ok(())
    }
}
