//! Client authentication at the token, revocation and introspection endpoints
//! (RFC 6749 §2.3, OIDC Core §9).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use http::HeaderValue;
use idp_core::ClientSecret;

use crate::Error;

/// How the client authenticates to the provider. `Debug` never prints the secret.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClientAuth {
    /// `none`: a public client (mobile app, SPA). Sends only `client_id`; use PKCE.
    None,
    /// `client_secret_basic`: HTTP Basic with the form-encoded id and secret (RFC 6749
    /// §2.3.1). What every provider supports.
    ClientSecretBasic(ClientSecret),
    /// `client_secret_post`: `client_id` and `client_secret` in the form body.
    ClientSecretPost(ClientSecret),
}

impl ClientAuth {
    /// `client_secret_basic` with `secret`.
    pub fn basic(secret: impl Into<ClientSecret>) -> Self {
        Self::ClientSecretBasic(secret.into())
    }

    /// `client_secret_post` with `secret`.
    pub fn post(secret: impl Into<ClientSecret>) -> Self {
        Self::ClientSecretPost(secret.into())
    }

    /// The method's registered name (`token_endpoint_auth_method`).
    pub fn method(&self) -> &'static str {
        match self {
            Self::None => "none",
            Self::ClientSecretBasic(_) => "client_secret_basic",
            Self::ClientSecretPost(_) => "client_secret_post",
        }
    }

    /// Adds the credentials to a form and returns the `Authorization` header to send, if
    /// any.
    pub(crate) fn apply(
        &self,
        client_id: &str,
        form: &mut Vec<(&'static str, String)>,
    ) -> Result<Option<HeaderValue>, Error> {
        form.retain(|(k, _)| *k != "client_id" && *k != "client_secret");
        match self {
            Self::None => {
                form.push(("client_id", client_id.to_owned()));
                Ok(None)
            }
            Self::ClientSecretPost(secret) => {
                form.push(("client_id", client_id.to_owned()));
                form.push(("client_secret", secret.secret().to_owned()));
                Ok(None)
            }
            Self::ClientSecretBasic(secret) => basic_header(client_id, secret.secret()).map(Some),
        }
    }
}

/// `Basic base64(urlencode(id) ":" urlencode(secret))` (RFC 6749 §2.3.1, Appendix B).
fn basic_header(client_id: &str, secret: &str) -> Result<HeaderValue, Error> {
    let enc = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    let creds = format!("{}:{}", enc(client_id), enc(secret));
    let mut v = HeaderValue::from_str(&format!("Basic {}", STANDARD.encode(creds)))
        .map_err(|_| Error::Config("client credentials cannot form a header"))?;
    v.set_sensitive(true);
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_encodes_id_and_secret_first() {
        let mut form = Vec::new();
        let h = ClientAuth::basic("p@ss w:rd")
            .apply("my client", &mut form)
            .unwrap()
            .unwrap();
        assert!(form.is_empty());
        let b64 = h.to_str().unwrap().strip_prefix("Basic ").unwrap();
        let decoded = String::from_utf8(STANDARD.decode(b64).unwrap()).unwrap();
        assert_eq!(decoded, "my+client:p%40ss+w%3Ard");
        assert!(h.is_sensitive());
    }

    #[test]
    fn post_and_none_use_the_body() {
        let mut form = vec![("client_id", "stale".to_owned())];
        assert!(
            ClientAuth::post("s3cret")
                .apply("web", &mut form)
                .unwrap()
                .is_none()
        );
        assert_eq!(
            form,
            vec![
                ("client_id", "web".to_owned()),
                ("client_secret", "s3cret".to_owned())
            ]
        );
        let mut form = Vec::new();
        assert!(ClientAuth::None.apply("spa", &mut form).unwrap().is_none());
        assert_eq!(form, vec![("client_id", "spa".to_owned())]);
    }

    #[test]
    fn debug_is_redacted() {
        let dbg = format!("{:?}", ClientAuth::post("hunter2"));
        assert!(!dbg.contains("hunter2"), "{dbg}");
    }
}
