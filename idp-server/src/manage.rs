//! The management API: `provider.users().insert(NewUser { .. })` and friends.

use idp_core::{ClientSecret, GrantType, Password, Scope, random_token};
use serde_json::{Map, Value};
use url::Url;

use crate::Error;
use crate::crypto::{hash_secret, verify_secret};
use crate::provider::Inner;
use crate::store::{AuthMethod, Client, SigningKeyRecord, User};

/// A user to create. Construct with struct-update syntax:
///
/// ```
/// use idp_server::manage::NewUser;
/// let u = NewUser {
///     email: "ada@example.com".into(),
///     password: Some("correct horse battery".into()),
///     name: Some("Ada".into()),
///     ..Default::default()
/// };
/// # let _ = u;
/// ```
#[derive(Debug, Clone, Default)]
pub struct NewUser {
    /// E-mail address (required).
    pub email: String,
    /// Password (at least 8 characters); `None` creates a user who cannot sign in with one.
    pub password: Option<Password>,
    /// Full name.
    pub name: Option<String>,
    /// Given name.
    pub given_name: Option<String>,
    /// Family name.
    pub family_name: Option<String>,
    /// Picture URL.
    pub picture: Option<String>,
    /// Locale.
    pub locale: Option<String>,
    /// Whether the e-mail address is verified.
    pub email_verified: bool,
    /// Tenant.
    pub tenant_id: Option<String>,
    /// Scopes this user may be granted (`None`: no restriction).
    pub allowed_scopes: Option<Vec<String>>,
    /// Custom attributes.
    pub attributes: Map<String, Value>,
}

/// A client to register.
#[derive(Debug, Clone, Default)]
pub struct NewClient {
    /// Client id (required): 1–128 visible ASCII characters.
    pub client_id: String,
    /// The secret for a confidential client; `None` generates one (returned once).
    pub secret: Option<ClientSecret>,
    /// A public client (no secret; PKCE required).
    pub public: bool,
    /// Display name.
    pub name: Option<String>,
    /// Redirect URIs.
    pub redirect_uris: Vec<String>,
    /// Post-logout redirect URIs.
    pub post_logout_redirect_uris: Vec<String>,
    /// Scopes the client may request.
    pub allowed_scopes: Vec<String>,
    /// Grant types (`authorization_code`, `refresh_token`, `client_credentials`).
    pub grant_types: Vec<String>,
    /// `client_secret_basic` (default for confidential clients) or `client_secret_post`.
    pub token_endpoint_auth_method: Option<String>,
    /// Audiences the client may get tokens for.
    pub audiences: Vec<String>,
    /// Skip the consent page.
    pub first_party: bool,
    /// Tenant.
    pub tenant_id: Option<String>,
    /// Custom attributes.
    pub attributes: Map<String, Value>,
}

/// A registered client and, when the provider generated it, its secret (shown only once).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct CreatedClient {
    /// The client.
    pub client: Client,
    /// The generated secret.
    pub generated_secret: Option<ClientSecret>,
}

/// Changes to a user; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct UserUpdate {
    /// New e-mail address.
    pub email: Option<String>,
    /// New name.
    pub name: Option<String>,
    /// New given name.
    pub given_name: Option<String>,
    /// New family name.
    pub family_name: Option<String>,
    /// New picture URL.
    pub picture: Option<String>,
    /// New locale.
    pub locale: Option<String>,
    /// New verification state.
    pub email_verified: Option<bool>,
    /// New allowed scopes.
    pub allowed_scopes: Option<Vec<String>>,
    /// Attributes to set (merged into the existing ones).
    pub attributes: Option<Map<String, Value>>,
}

pub(crate) fn is_loopback_host(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// argon2id on the blocking pool: a hash takes tens of milliseconds of CPU, too long for
/// an async worker thread.
async fn hash_off_thread(secret: &str) -> Result<crate::store::SecretHash, Error> {
    let secret = zeroize::Zeroizing::new(secret.to_owned());
    tokio::task::spawn_blocking(move || hash_secret(&secret))
        .await
        .map_err(|_| Error::Crypto("hashing task failed".into()))?
}

fn invalid(msg: impl Into<String>) -> Error {
    Error::InvalidInput(msg.into())
}

fn validate_email(email: &str) -> Result<(), Error> {
    let bad = || {
        invalid(format!(
            "malformed email {:?}",
            email.chars().take(64).collect::<String>()
        ))
    };
    if email.len() > 254 || email.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad());
    }
    let (local, domain) = email.rsplit_once('@').ok_or_else(bad)?;
    if local.is_empty()
        || local.len() > 64
        || domain.is_empty()
        || domain.contains('@')
        || local.contains('@')
        || !domain.contains('.') && !domain.eq_ignore_ascii_case("localhost")
        || domain.starts_with('.')
        || domain.ends_with('.')
        || domain.contains("..")
    {
        return Err(bad());
    }
    Ok(())
}

fn validate_password(p: &Password) -> Result<(), Error> {
    let n = p.secret().chars().count();
    if n < 8 {
        return Err(invalid("password must be at least 8 characters"));
    }
    if n > 1024 {
        return Err(invalid("password must be at most 1024 characters"));
    }
    Ok(())
}

fn parse_scopes(tokens: &[String], what: &str) -> Result<Scope, Error> {
    Scope::from_tokens(tokens).map_err(|e| invalid(format!("{what}: {e}")))
}

/// Checks a redirect URI: absolute, no fragment, `https`, `http` only on loopback (unless
/// allowed), or a private-use scheme with a dot (RFC 8252 §7.1); never `javascript:`,
/// `data:` or `file:`.
pub(crate) fn validate_redirect_uri(uri: &str, allow_http: bool) -> Result<(), Error> {
    let url =
        Url::parse(uri).map_err(|_| invalid(format!("redirect URI {uri:?} is not absolute")))?;
    if url.fragment().is_some() || uri.contains('#') {
        return Err(invalid(format!("redirect URI {uri:?} has a fragment")));
    }
    match url.scheme() {
        "https" => {
            if url.host().is_none() {
                return Err(invalid(format!("redirect URI {uri:?} has no host")));
            }
        }
        "http" => {
            if !is_loopback_host(&url) && !allow_http {
                return Err(invalid(format!(
                    "redirect URI {uri:?} uses http on a non-loopback host; use https"
                )));
            }
        }
        "javascript" | "data" | "file" | "vbscript" | "blob" | "about" => {
            return Err(invalid(format!(
                "redirect URI scheme of {uri:?} is not allowed"
            )));
        }
        s if s.contains('.') => {} // private-use scheme, e.g. com.example.app:/callback
        _ => {
            return Err(invalid(format!(
                "redirect URI {uri:?}: use https, http on loopback, or a reverse-domain scheme"
            )));
        }
    }
    Ok(())
}

fn validate_client_id(id: &str) -> Result<(), Error> {
    if id.is_empty()
        || id.len() > 128
        || !id.bytes().all(|b| (0x21..=0x7e).contains(&b))
        || id.contains(':')
    {
        return Err(invalid(
            "client_id must be 1-128 visible ASCII characters without ':'",
        ));
    }
    Ok(())
}

/// Users of a provider.
#[derive(Debug)]
pub struct Users<'a> {
    inner: &'a Inner,
}

impl<'a> Users<'a> {
    pub(crate) fn new(inner: &'a Inner) -> Self {
        Self { inner }
    }

    /// Creates a user (after the `before_insert_user` hook); fails on a malformed e-mail, a
    /// short password or an e-mail already used in the tenant.
    pub async fn insert(&self, mut new: NewUser) -> Result<User, Error> {
        if let Some(hook) = &self.inner.user_hook {
            hook(&mut new).map_err(Error::Rejected)?;
        }
        let email = new.email.trim().to_owned();
        validate_email(&email)?;
        let password_hash = match &new.password {
            Some(p) => {
                validate_password(p)?;
                Some(hash_off_thread(p.secret()).await?)
            }
            None => None,
        };
        let allowed_scopes = new
            .allowed_scopes
            .as_deref()
            .map(|s| parse_scopes(s, "allowed_scopes"))
            .transpose()?;
        let now = self.inner.now();
        let user = User {
            id: uuid::Uuid::new_v4().to_string(),
            tenant_id: new.tenant_id,
            email,
            email_verified: new.email_verified,
            password_hash,
            name: new.name,
            given_name: new.given_name,
            family_name: new.family_name,
            picture: new.picture,
            locale: new.locale,
            active: true,
            allowed_scopes,
            attributes: new.attributes,
            created_at: now,
            updated_at: now,
        };
        self.inner
            .store
            .insert_user(&user)
            .await
            .map_err(|e| match e {
                crate::store::StoreError::Conflict(_) => Error::Conflict(format!(
                    "email {} is already registered in this tenant",
                    user.email
                )),
                other => other.into(),
            })?;
        Ok(user)
    }

    /// A user by id.
    pub async fn get(&self, id: &str) -> Result<Option<User>, Error> {
        Ok(self.inner.store.get_user(id).await?)
    }

    /// A user by e-mail within a tenant.
    pub async fn find_by_email(
        &self,
        tenant_id: Option<&str>,
        email: &str,
    ) -> Result<Option<User>, Error> {
        Ok(self
            .inner
            .store
            .find_user_by_email(tenant_id, email.trim())
            .await?)
    }

    /// Users of a tenant, or every user with `None`.
    pub async fn list(&self, tenant_id: Option<&str>) -> Result<Vec<User>, Error> {
        Ok(self.inner.store.list_users(tenant_id).await?)
    }

    async fn modify(
        &self,
        id: &str,
        f: impl FnOnce(&mut User) -> Result<(), Error>,
    ) -> Result<User, Error> {
        let mut user = self
            .inner
            .store
            .get_user(id)
            .await?
            .ok_or(Error::NotFound)?;
        f(&mut user)?;
        user.updated_at = self.inner.now();
        self.inner.store.update_user(&user).await?;
        Ok(user)
    }

    /// Applies an update.
    pub async fn update(&self, id: &str, update: UserUpdate) -> Result<User, Error> {
        self.modify(id, |u| {
            if let Some(email) = update.email {
                let email = email.trim().to_owned();
                validate_email(&email)?;
                u.email = email;
            }
            if let Some(v) = update.name {
                u.name = Some(v);
            }
            if let Some(v) = update.given_name {
                u.given_name = Some(v);
            }
            if let Some(v) = update.family_name {
                u.family_name = Some(v);
            }
            if let Some(v) = update.picture {
                u.picture = Some(v);
            }
            if let Some(v) = update.locale {
                u.locale = Some(v);
            }
            if let Some(v) = update.email_verified {
                u.email_verified = v;
            }
            if let Some(s) = update.allowed_scopes {
                u.allowed_scopes = Some(parse_scopes(&s, "allowed_scopes")?);
            }
            if let Some(attrs) = update.attributes {
                u.attributes.extend(attrs);
            }
            Ok(())
        })
        .await
    }

    /// Sets a new password.
    pub async fn set_password(&self, id: &str, password: Password) -> Result<User, Error> {
        validate_password(&password)?;
        let hash = hash_off_thread(password.secret()).await?;
        self.modify(id, |u| {
            u.password_hash = Some(hash);
            Ok(())
        })
        .await
    }

    /// Disables a user: sign-in and refresh stop working.
    pub async fn disable(&self, id: &str) -> Result<User, Error> {
        self.modify(id, |u| {
            u.active = false;
            Ok(())
        })
        .await
    }

    /// Re-enables a user.
    pub async fn enable(&self, id: &str) -> Result<User, Error> {
        self.modify(id, |u| {
            u.active = true;
            Ok(())
        })
        .await
    }

    /// Deletes a user.
    pub async fn delete(&self, id: &str) -> Result<(), Error> {
        if self.inner.store.delete_user(id).await? {
            Ok(())
        } else {
            Err(Error::NotFound)
        }
    }

    /// Checks a password; the user if it is right and the user is active. Takes about as
    /// long whether or not the user exists.
    pub async fn verify_password(
        &self,
        tenant_id: Option<&str>,
        email: &str,
        password: &Password,
    ) -> Result<Option<User>, Error> {
        let user = self.find_by_email(tenant_id, email).await?;
        let hash = user.as_ref().and_then(|u| u.password_hash.clone());
        let pw = password.clone();
        let ok = tokio::task::spawn_blocking(move || match hash {
            Some(h) => verify_secret(pw.secret(), &h),
            None => {
                // Spend the same time as a real check so that timing does not reveal
                // which e-mail addresses exist.
                let _ = hash_secret(pw.secret());
                false
            }
        })
        .await
        .map_err(|_| Error::Crypto("hashing task failed".into()))?;
        Ok(user.filter(|u| ok && u.active))
    }
}

/// Clients of a provider.
#[derive(Debug)]
pub struct Clients<'a> {
    inner: &'a Inner,
}

fn parse_grants(grants: &[String]) -> Result<Vec<GrantType>, Error> {
    let mut out = Vec::new();
    for g in grants {
        let gt = GrantType::parse(g);
        match gt {
            GrantType::AuthorizationCode
            | GrantType::RefreshToken
            | GrantType::ClientCredentials => {}
            _ => return Err(invalid(format!("unknown or unsupported grant type {g:?}"))),
        }
        if !out.contains(&gt) {
            out.push(gt);
        }
    }
    Ok(out)
}

impl<'a> Clients<'a> {
    pub(crate) fn new(inner: &'a Inner) -> Self {
        Self { inner }
    }

    /// Registers a client (after the `before_insert_client` hook). A confidential client
    /// without a secret gets a generated one, returned once in [`CreatedClient`].
    pub async fn insert(&self, mut new: NewClient) -> Result<CreatedClient, Error> {
        if let Some(hook) = &self.inner.client_hook {
            hook(&mut new).map_err(Error::Rejected)?;
        }
        validate_client_id(&new.client_id)?;
        let allow_http = self.inner.settings.insecure_http_redirect_uris;
        for u in new
            .redirect_uris
            .iter()
            .chain(&new.post_logout_redirect_uris)
        {
            validate_redirect_uri(u, allow_http)?;
        }
        let grant_types = if new.grant_types.is_empty() {
            if new.redirect_uris.is_empty() {
                vec![GrantType::ClientCredentials]
            } else {
                vec![GrantType::AuthorizationCode, GrantType::RefreshToken]
            }
        } else {
            parse_grants(&new.grant_types)?
        };
        if grant_types.contains(&GrantType::AuthorizationCode) && new.redirect_uris.is_empty() {
            return Err(invalid(
                "authorization_code needs at least one redirect URI",
            ));
        }
        let method = if new.public {
            if new.secret.is_some() {
                return Err(invalid("a public client has no secret"));
            }
            if grant_types.contains(&GrantType::ClientCredentials) {
                return Err(invalid("a public client cannot use client_credentials"));
            }
            AuthMethod::None
        } else {
            match new.token_endpoint_auth_method.as_deref() {
                None | Some("client_secret_basic") => AuthMethod::ClientSecretBasic,
                Some("client_secret_post") => AuthMethod::ClientSecretPost,
                Some(other) => {
                    return Err(invalid(format!(
                        "token_endpoint_auth_method {other:?}: use client_secret_basic or client_secret_post (or public)"
                    )));
                }
            }
        };
        let (secret_hash, generated) = if new.public {
            (None, None)
        } else {
            let (secret, generated) = match new.secret.take() {
                Some(s) => {
                    if s.secret().is_empty() || s.secret().len() > 512 {
                        return Err(invalid("client secret must be 1-512 bytes"));
                    }
                    (s, None)
                }
                None => {
                    let s = ClientSecret::new(random_token());
                    (s.clone(), Some(s))
                }
            };
            let hash = hash_off_thread(secret.secret()).await?;
            (Some(hash), generated)
        };
        for a in &new.audiences {
            if a.is_empty() || a.contains(' ') {
                return Err(invalid(format!(
                    "audience {a:?} must be non-empty without spaces"
                )));
            }
        }
        let now = self.inner.now();
        let client = Client {
            client_id: new.client_id,
            tenant_id: new.tenant_id,
            name: new.name,
            secret_hash,
            redirect_uris: new.redirect_uris,
            post_logout_redirect_uris: new.post_logout_redirect_uris,
            allowed_scopes: parse_scopes(&new.allowed_scopes, "allowed_scopes")?,
            grant_types,
            token_endpoint_auth_method: method,
            audiences: new.audiences,
            first_party: new.first_party,
            active: true,
            attributes: new.attributes,
            created_at: now,
            updated_at: now,
        };
        self.inner
            .store
            .insert_client(&client)
            .await
            .map_err(|e| match e {
                crate::store::StoreError::Conflict(_) => Error::Conflict(format!(
                    "client_id {} is already registered",
                    client.client_id
                )),
                other => other.into(),
            })?;
        Ok(CreatedClient {
            client,
            generated_secret: generated,
        })
    }

    /// A client by id.
    pub async fn get(&self, client_id: &str) -> Result<Option<Client>, Error> {
        Ok(self.inner.store.get_client(client_id).await?)
    }

    /// Clients of a tenant, or every client with `None`.
    pub async fn list(&self, tenant_id: Option<&str>) -> Result<Vec<Client>, Error> {
        Ok(self.inner.store.list_clients(tenant_id).await?)
    }

    async fn modify(&self, id: &str, f: impl FnOnce(&mut Client)) -> Result<Client, Error> {
        let mut c = self
            .inner
            .store
            .get_client(id)
            .await?
            .ok_or(Error::NotFound)?;
        f(&mut c);
        c.updated_at = self.inner.now();
        self.inner.store.update_client(&c).await?;
        Ok(c)
    }

    /// Replaces the secret of a confidential client with a generated one (returned once);
    /// the old secret stops working at once.
    pub async fn rotate_secret(&self, client_id: &str) -> Result<ClientSecret, Error> {
        let existing = self.get(client_id).await?.ok_or(Error::NotFound)?;
        if existing.is_public() {
            return Err(invalid("a public client has no secret"));
        }
        let secret = ClientSecret::new(random_token());
        let hash = hash_off_thread(secret.secret()).await?;
        self.modify(client_id, |c| c.secret_hash = Some(hash))
            .await?;
        Ok(secret)
    }

    /// Disables a client: it gets `invalid_client` from now on.
    pub async fn disable(&self, client_id: &str) -> Result<Client, Error> {
        self.modify(client_id, |c| c.active = false).await
    }

    /// Re-enables a client.
    pub async fn enable(&self, client_id: &str) -> Result<Client, Error> {
        self.modify(client_id, |c| c.active = true).await
    }

    /// Deletes a client.
    pub async fn delete(&self, client_id: &str) -> Result<(), Error> {
        if self.inner.store.delete_client(client_id).await? {
            Ok(())
        } else {
            Err(Error::NotFound)
        }
    }
}

/// Signing keys of a provider.
#[derive(Debug)]
pub struct Keys<'a> {
    inner: &'a Inner,
}

impl<'a> Keys<'a> {
    pub(crate) fn new(inner: &'a Inner) -> Self {
        Self { inner }
    }

    /// Every stored key, oldest first.
    pub async fn list(&self) -> Result<Vec<SigningKeyRecord>, Error> {
        Ok(self.inner.store.list_keys().await?)
    }

    /// Rotates now: new keys are published at once and sign after the publish-ahead delay;
    /// old keys stay published until their tokens have expired. Returns the new keys.
    pub async fn rotate(&self) -> Result<Vec<SigningKeyRecord>, Error> {
        let now = self.inner.now();
        self.inner.keys.rotate(self.inner.store.as_ref(), now).await
    }

    /// Re-reads keys from the store (after another process rotated them).
    pub async fn reload(&self) -> Result<(), Error> {
        let now = self.inner.now();
        self.inner.keys.reload(self.inner.store.as_ref(), now).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails() {
        for ok in [
            "a@b.co",
            "dev@example.com",
            "x+y@sub.example.org",
            "me@localhost",
        ] {
            validate_email(ok).unwrap();
        }
        for bad in [
            "", "a", "@b.co", "a@", "a@b", "a b@c.d", "a@@b.co", "a@.b.co", "a@b..co", "a@b.co.",
        ] {
            assert!(validate_email(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn redirect_uris() {
        for ok in [
            "https://app.example.com/cb",
            "http://localhost:3000/callback",
            "http://127.0.0.1/cb",
            "http://[::1]:8080/cb",
            "com.example.app:/oauth2redirect",
        ] {
            validate_redirect_uri(ok, false).unwrap();
        }
        for bad in [
            "/callback",
            "callback",
            "https://app.example.com/cb#frag",
            "http://app.example.com/cb",
            "javascript:alert(1)",
            "data:text/html,hi",
            "file:///etc/passwd",
            "myapp:/cb",
        ] {
            assert!(validate_redirect_uri(bad, false).is_err(), "{bad}");
        }
        validate_redirect_uri("http://app.example.com/cb", true).unwrap();
    }
}
