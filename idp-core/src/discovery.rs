//! Provider metadata: OpenID Connect Discovery 1.0 §3 and RFC 8414 §2.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

macro_rules! metadata {
    ($( $(#[$doc:meta])* $field:ident : $ty:ty ),* $(,)?) => {
        /// Provider metadata as published at `/.well-known/openid-configuration` (OIDC
        /// Discovery) or `/.well-known/oauth-authorization-server` (RFC 8414). Every member
        /// but `issuer` is optional; unknown members are kept in [`ProviderMetadata::other`].
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
        #[non_exhaustive]
        pub struct ProviderMetadata {
            /// The issuer identifier; must equal the `iss` of every token.
            pub issuer: String,
            $(
                $(#[$doc])*
                #[serde(skip_serializing_if = "Option::is_none", default)]
                pub $field: Option<$ty>,
            )*
            /// Members not modelled here.
            #[serde(flatten)]
            pub other: BTreeMap<String, Value>,
        }

        impl ProviderMetadata {
            /// Metadata with only `issuer` set.
            pub fn new(issuer: impl Into<String>) -> Self {
                Self {
                    issuer: issuer.into(),
                    $( $field: None, )*
                    other: BTreeMap::new(),
                }
            }
        }
    };
}

metadata! {
    /// Authorization endpoint.
    authorization_endpoint: String,
    /// Token endpoint.
    token_endpoint: String,
    /// UserInfo endpoint.
    userinfo_endpoint: String,
    /// JWK Set document.
    jwks_uri: String,
    /// Dynamic client registration endpoint.
    registration_endpoint: String,
    /// Supported scopes.
    scopes_supported: Vec<String>,
    /// Supported `response_type` values.
    response_types_supported: Vec<String>,
    /// Supported `response_mode` values.
    response_modes_supported: Vec<String>,
    /// Supported grant types.
    grant_types_supported: Vec<String>,
    /// Supported ACR values.
    acr_values_supported: Vec<String>,
    /// `public` and/or `pairwise`.
    subject_types_supported: Vec<String>,
    /// ID-token signing algorithms.
    id_token_signing_alg_values_supported: Vec<String>,
    /// UserInfo signing algorithms.
    userinfo_signing_alg_values_supported: Vec<String>,
    /// Token endpoint client authentication methods.
    token_endpoint_auth_methods_supported: Vec<String>,
    /// Token endpoint JWT auth signing algorithms.
    token_endpoint_auth_signing_alg_values_supported: Vec<String>,
    /// Supported claim names.
    claims_supported: Vec<String>,
    /// Supported `claims` parameter.
    claims_parameter_supported: bool,
    /// Supported `request` parameter.
    request_parameter_supported: bool,
    /// Supported `request_uri` parameter.
    request_uri_parameter_supported: bool,
    /// Supported UI locales.
    ui_locales_supported: Vec<String>,
    /// Service documentation.
    service_documentation: String,
    /// Policy page.
    op_policy_uri: String,
    /// Terms of service page.
    op_tos_uri: String,
    /// RP-initiated logout endpoint.
    end_session_endpoint: String,
    /// Token revocation (RFC 7009).
    revocation_endpoint: String,
    /// Revocation endpoint auth methods.
    revocation_endpoint_auth_methods_supported: Vec<String>,
    /// Token introspection (RFC 7662).
    introspection_endpoint: String,
    /// Introspection endpoint auth methods.
    introspection_endpoint_auth_methods_supported: Vec<String>,
    /// PKCE methods (RFC 7636).
    code_challenge_methods_supported: Vec<String>,
    /// RFC 9207 `iss` in authorization responses.
    authorization_response_iss_parameter_supported: bool,
    /// Device authorization endpoint (RFC 8628).
    device_authorization_endpoint: String,
    /// Pushed authorization request endpoint (RFC 9126).
    pushed_authorization_request_endpoint: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_real_world_document_and_keeps_unknown_members() {
        let doc = r#"{
            "issuer": "https://server.example.com",
            "authorization_endpoint": "https://server.example.com/connect/authorize",
            "token_endpoint": "https://server.example.com/connect/token",
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "private_key_jwt"],
            "jwks_uri": "https://server.example.com/jwks.json",
            "response_types_supported": ["code", "code id_token"],
            "subject_types_supported": ["public", "pairwise"],
            "id_token_signing_alg_values_supported": ["RS256", "ES256"],
            "claims_parameter_supported": true,
            "frontchannel_logout_supported": true,
            "mtls_endpoint_aliases": {"token_endpoint": "https://mtls.example.com/token"}
        }"#;
        let m: ProviderMetadata = serde_json::from_str(doc).unwrap();
        assert_eq!(m.issuer, "https://server.example.com");
        assert_eq!(m.claims_parameter_supported, Some(true));
        assert_eq!(m.other["frontchannel_logout_supported"], true);
        let back = serde_json::to_value(&m).unwrap();
        assert_eq!(
            back["mtls_endpoint_aliases"]["token_endpoint"],
            "https://mtls.example.com/token"
        );
        assert!(back.get("userinfo_endpoint").is_none());
    }

    #[test]
    fn issuer_is_required() {
        assert!(serde_json::from_str::<ProviderMetadata>("{}").is_err());
    }
}
