//! Attribute schemas: what the custom attributes of users and clients may hold.
//!
//! A schema names each attribute with its type (string, integer, boolean, enum, url,
//! e-mail), whether it is required, its default and its maximum length. Once a schema
//! names any attribute, it is closed: an attribute it does not name is refused. Without
//! one, attributes are a free JSON object, as before schemas existed.
//!
//! Values from the command line and HTML forms arrive as strings. A string is accepted for
//! an integer or boolean attribute when it parses (`"42"`, `"true"`), and stored as the
//! typed JSON value.
//!
//! ```
//! use idp_server::{AttributeRule, AttributeSchema, AttributeType};
//! let schema = AttributeSchema::new()
//!     .attribute("department", AttributeRule::new(AttributeType::String).default_value("general"))
//!     .attribute(
//!         "role",
//!         AttributeRule::new(AttributeType::Enum).values(["user", "admin", "owner"]).required(),
//!     );
//! # let _ = schema;
//! ```

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{Map, Value};

/// The most characters a string attribute may hold when its rule sets no `max_length`.
const DEFAULT_MAX_LENGTH: usize = 1024;
/// The longest URL attribute (unless `max_length` says less).
const MAX_URL_LENGTH: usize = 2048;
/// The longest e-mail attribute (RFC 5321's path limit).
const MAX_EMAIL_LENGTH: usize = 254;
/// The longest attribute name.
const MAX_NAME_LENGTH: usize = 64;

/// The type of an attribute's value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum AttributeType {
    /// A string of at most `max_length` characters (1024 by default).
    String,
    /// A whole number (a JSON integer, or a string that parses as one).
    Integer,
    /// `true` or `false` (or the strings `"true"`, `"false"`).
    Boolean,
    /// One of the rule's `values`.
    Enum,
    /// An absolute `https` or `http` URL.
    Url,
    /// An e-mail address.
    Email,
}

impl AttributeType {
    fn name(self) -> &'static str {
        match self {
            Self::String => "a string",
            Self::Integer => "an integer",
            Self::Boolean => "a boolean",
            Self::Enum => "one of the listed values",
            Self::Url => "an http(s) URL",
            Self::Email => "an e-mail address",
        }
    }
}

/// The rule for one attribute. In the configuration file:
///
/// ```toml
/// [user_attributes.role]
/// type = "enum"
/// values = ["user", "admin", "owner"]
/// default = "user"
/// ```
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttributeRule {
    #[serde(rename = "type")]
    kind: AttributeType,
    #[serde(default)]
    required: bool,
    #[serde(default)]
    default: Option<Value>,
    #[serde(default)]
    max_length: Option<usize>,
    #[serde(default)]
    values: Vec<String>,
}

impl AttributeRule {
    /// An optional attribute of this type, without a default.
    pub fn new(kind: AttributeType) -> Self {
        Self {
            kind,
            required: false,
            default: None,
            max_length: None,
            values: Vec::new(),
        }
    }

    /// Every record must have it (a default satisfies this).
    pub fn required(mut self) -> Self {
        self.required = true;
        self
    }

    /// The value a new record gets when it has none.
    pub fn default_value(mut self, value: impl Into<Value>) -> Self {
        self.default = Some(value.into());
        self
    }

    /// The most characters a string, URL or e-mail value may have.
    pub fn max_length(mut self, n: usize) -> Self {
        self.max_length = Some(n);
        self
    }

    /// The allowed values of an enum.
    pub fn values<I: IntoIterator<Item = S>, S: Into<String>>(mut self, values: I) -> Self {
        self.values = values.into_iter().map(Into::into).collect();
        self
    }

    /// `value` checked against the rule, and converted from a string where the type
    /// allows: the value to store, or what is wrong with it.
    fn check(&self, value: &Value) -> Result<Value, String> {
        let wrong = || format!("must be {}", self.kind.name());
        let text = |limit: usize| -> Result<&str, String> {
            let s = value.as_str().ok_or_else(wrong)?;
            let max = self.max_length.unwrap_or(limit).min(limit);
            if s.chars().count() > max {
                return Err(format!("is longer than {max} characters"));
            }
            Ok(s)
        };
        match self.kind {
            AttributeType::String => {
                let s = text(self.max_length.unwrap_or(DEFAULT_MAX_LENGTH))?;
                if s.chars().any(char::is_control) {
                    return Err("must not contain control characters".into());
                }
                Ok(value.clone())
            }
            AttributeType::Integer => match value {
                Value::Number(n) if n.is_i64() => Ok(value.clone()),
                Value::String(s) => s
                    .trim()
                    .parse::<i64>()
                    .map(Value::from)
                    .map_err(|_| wrong()),
                _ => Err(wrong()),
            },
            AttributeType::Boolean => match value {
                Value::Bool(_) => Ok(value.clone()),
                Value::String(s) if s == "true" => Ok(Value::Bool(true)),
                Value::String(s) if s == "false" => Ok(Value::Bool(false)),
                _ => Err(wrong()),
            },
            AttributeType::Enum => {
                let s = value.as_str().ok_or_else(wrong)?;
                if self.values.iter().any(|v| v == s) {
                    Ok(value.clone())
                } else {
                    Err(format!("must be one of {}", self.values.join(", ")))
                }
            }
            AttributeType::Url => {
                let s = text(MAX_URL_LENGTH)?;
                match url::Url::parse(s) {
                    Ok(u) if matches!(u.scheme(), "https" | "http") && u.host().is_some() => {
                        Ok(value.clone())
                    }
                    _ => Err(wrong()),
                }
            }
            AttributeType::Email => {
                let s = text(MAX_EMAIL_LENGTH)?;
                if is_email(s) {
                    Ok(value.clone())
                } else {
                    Err(wrong())
                }
            }
        }
    }
}

/// `local@domain`, one `@`, no spaces or control characters, a dot in the domain.
fn is_email(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && !domain.is_empty()
        && !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !s.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// A refused attribute: the message names it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct AttributeError(pub(crate) String);

/// The attribute rules of users or of clients, by attribute name. See the module docs.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(transparent)]
pub struct AttributeSchema(BTreeMap<String, AttributeRule>);

impl AttributeSchema {
    /// An empty schema: attributes are a free JSON object.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) the rule of one attribute.
    pub fn attribute(mut self, name: impl Into<String>, rule: AttributeRule) -> Self {
        self.0.insert(name.into(), rule);
        self
    }

    /// Whether the schema names no attribute (and so allows any).
    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether it names `name`.
    pub(crate) fn defines(&self, name: &str) -> bool {
        self.0.contains_key(name)
    }

    /// This schema with `over`'s rules added, `over` winning where both name an attribute.
    pub(crate) fn extended(&self, over: &AttributeSchema) -> AttributeSchema {
        let mut out = self.clone();
        for (k, v) in &over.0 {
            out.0.insert(k.clone(), v.clone());
        }
        out
    }

    /// Checks the schema itself: names, enum values, defaults. `key` names it in the
    /// message (`user_attributes`).
    pub(crate) fn validate(&self, key: &str) -> Result<(), String> {
        for (name, rule) in &self.0 {
            let valid_name = !name.is_empty()
                && name.len() <= MAX_NAME_LENGTH
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
            if !valid_name {
                return Err(format!(
                    "{key}: {name:?} is not an attribute name (1-{MAX_NAME_LENGTH} letters, digits, '_', '-', '.')"
                ));
            }
            if rule.kind == AttributeType::Enum && rule.values.is_empty() {
                return Err(format!("{key}.{name}: an enum needs `values`"));
            }
            if rule.kind != AttributeType::Enum && !rule.values.is_empty() {
                return Err(format!("{key}.{name}: `values` is only for enums"));
            }
            if rule.max_length == Some(0) {
                return Err(format!("{key}.{name}: max_length must be positive"));
            }
            if let Some(d) = &rule.default {
                rule.check(d)
                    .map_err(|e| format!("{key}.{name}: the default {e}"))?;
            }
        }
        Ok(())
    }

    /// Checks `attrs` against the schema and completes it: missing attributes get their
    /// defaults, string forms of integers and booleans become typed, a `null` removes an
    /// attribute. Fails, naming the attribute, on an attribute the schema does not name,
    /// a wrong value or a required attribute missing. An empty schema allows anything.
    pub(crate) fn apply(&self, attrs: &mut Map<String, Value>) -> Result<(), AttributeError> {
        attrs.retain(|_, v| !v.is_null());
        if self.0.is_empty() {
            return Ok(());
        }
        if let Some(unknown) = attrs.keys().find(|k| !self.0.contains_key(*k)) {
            return Err(AttributeError(format!(
                "attribute `{}` is not defined",
                crate_loggable(unknown)
            )));
        }
        for (name, rule) in &self.0 {
            match attrs.get(name) {
                Some(v) => {
                    let checked = rule
                        .check(v)
                        .map_err(|e| AttributeError(format!("attribute `{name}` {e}")))?;
                    attrs.insert(name.clone(), checked);
                }
                None => match &rule.default {
                    Some(d) => {
                        attrs.insert(name.clone(), d.clone());
                    }
                    None if rule.required => {
                        return Err(AttributeError(format!("attribute `{name}` is required")));
                    }
                    None => {}
                },
            }
        }
        Ok(())
    }
}

/// A name from the request, shortened and without control characters, for a message.
fn crate_loggable(s: &str) -> String {
    let mut out: String = s.chars().filter(|c| !c.is_control()).take(64).collect();
    if s.chars().count() > 64 {
        out.push('…');
    }
    out
}

/// The schemas of a provider: for users and for clients, and each tenant's additions.
#[derive(Clone, Debug, Default)]
pub(crate) struct Schemas {
    user: AttributeSchema,
    client: AttributeSchema,
    /// Per tenant: the provider's schema extended by the tenant's rules.
    tenant_user: BTreeMap<String, AttributeSchema>,
    tenant_client: BTreeMap<String, AttributeSchema>,
}

impl Schemas {
    pub(crate) fn new(
        user: &AttributeSchema,
        client: &AttributeSchema,
        tenant_user: &BTreeMap<String, AttributeSchema>,
        tenant_client: &BTreeMap<String, AttributeSchema>,
    ) -> Self {
        Self {
            user: user.clone(),
            client: client.clone(),
            tenant_user: tenant_user
                .iter()
                .map(|(t, s)| (t.clone(), user.extended(s)))
                .collect(),
            tenant_client: tenant_client
                .iter()
                .map(|(t, s)| (t.clone(), client.extended(s)))
                .collect(),
        }
    }

    /// The schema of a user in `tenant`.
    pub(crate) fn user(&self, tenant: Option<&str>) -> &AttributeSchema {
        tenant
            .and_then(|t| self.tenant_user.get(t))
            .unwrap_or(&self.user)
    }

    /// The schema of a client in `tenant`.
    pub(crate) fn client(&self, tenant: Option<&str>) -> &AttributeSchema {
        tenant
            .and_then(|t| self.tenant_client.get(t))
            .unwrap_or(&self.client)
    }

    /// Whether some user schema (the provider's or a tenant's) names `attribute`, or no
    /// schema names any (free attributes).
    pub(crate) fn user_may_have(&self, attribute: &str) -> bool {
        (self.user.is_empty() && self.tenant_user.values().all(AttributeSchema::is_empty))
            || self.user.defines(attribute)
            || self.tenant_user.values().any(|s| s.defines(attribute))
    }
}

/// Where a mapped claim goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum TokenKind {
    /// The RFC 9068 access token (what an API sees).
    AccessToken,
    /// The ID token.
    IdToken,
    /// The userinfo response.
    Userinfo,
}

const ALL_KINDS: [TokenKind; 3] = [
    TokenKind::AccessToken,
    TokenKind::IdToken,
    TokenKind::Userinfo,
];

fn all_kinds() -> Vec<TokenKind> {
    ALL_KINDS.to_vec()
}

/// Claims a custom claim may never take: registered JWT claims (RFC 7519), those of RFC
/// 9068 and OpenID Connect Core (ID token and standard claims), and the provider's own.
pub(crate) const RESERVED_CLAIMS: &[&str] = &[
    "iss",
    "sub",
    "aud",
    "exp",
    "nbf",
    "iat",
    "jti",
    "typ",
    "cty",
    "client_id",
    "scope",
    "auth_time",
    "acr",
    "amr",
    "azp",
    "nonce",
    "at_hash",
    "c_hash",
    "s_hash",
    "sid",
    "cnf",
    "act",
    "may_act",
    "events",
    "name",
    "given_name",
    "family_name",
    "middle_name",
    "nickname",
    "preferred_username",
    "profile",
    "picture",
    "website",
    "email",
    "email_verified",
    "gender",
    "birthdate",
    "zoneinfo",
    "locale",
    "phone_number",
    "phone_number_verified",
    "address",
    "updated_at",
    "_claim_names",
    "_claim_sources",
    "tenant",
    "token_use",
    "gid",
];

/// A user attribute released as a claim. In the configuration file:
///
/// ```toml
/// [[claims]]
/// attribute = "role"
/// claim = "role"
/// scope = "roles"                 # released when this scope is granted; none: always
/// tokens = ["access_token"]       # default: access_token, id_token, userinfo
/// ```
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClaimMapping {
    attribute: String,
    claim: String,
    #[serde(default)]
    scope: Option<String>,
    #[serde(default = "all_kinds")]
    tokens: Vec<TokenKind>,
}

impl ClaimMapping {
    /// The user attribute `attribute` as the claim `claim`, in every token kind, whatever
    /// the scope.
    pub fn new(attribute: impl Into<String>, claim: impl Into<String>) -> Self {
        Self {
            attribute: attribute.into(),
            claim: claim.into(),
            scope: None,
            tokens: all_kinds(),
        }
    }

    /// Released only when `scope` is granted (it must be in `scopes_supported`).
    pub fn scope(mut self, scope: impl Into<String>) -> Self {
        self.scope = Some(scope.into());
        self
    }

    /// The scope that releases the claim, if any.
    pub(crate) fn scope_name(&self) -> Option<&str> {
        self.scope.as_deref()
    }

    /// Only in these token kinds.
    pub fn tokens<I: IntoIterator<Item = TokenKind>>(mut self, kinds: I) -> Self {
        self.tokens = kinds.into_iter().collect();
        self
    }
}

/// Checks the `claims` of a configuration: no reserved or duplicate claim, attributes
/// that some schema defines, scopes that are supported.
pub(crate) fn validate_claims(
    mappings: &[ClaimMapping],
    schemas: &Schemas,
    supported: &idp_core::Scope,
) -> Result<(), String> {
    let mut seen: Vec<(&str, TokenKind)> = Vec::new();
    for m in mappings {
        let c = m.claim.as_str();
        if c.is_empty()
            || c.len() > MAX_NAME_LENGTH
            || c.chars().any(|ch| ch.is_control() || ch == ' ')
        {
            return Err(format!("claims: {c:?} is not a claim name"));
        }
        if RESERVED_CLAIMS.contains(&c) {
            return Err(format!(
                "claims: `{c}` is a registered claim; a custom claim cannot take its name"
            ));
        }
        if !schemas.user_may_have(&m.attribute) {
            return Err(format!(
                "claims: `{c}` maps attribute `{}`, which no user attribute schema defines",
                m.attribute
            ));
        }
        if let Some(scope) = &m.scope
            && !supported.contains(scope)
        {
            return Err(format!(
                "claims: scope `{scope}` (for claim `{c}`) is not in scopes_supported"
            ));
        }
        if m.tokens.is_empty() {
            return Err(format!(
                "claims: `{c}` goes into no token (`tokens` is empty)"
            ));
        }
        for &k in &m.tokens {
            if seen.contains(&(c, k)) {
                return Err(format!("claims: `{c}` is mapped twice for {k:?}"));
            }
            seen.push((c, k));
        }
    }
    Ok(())
}

/// The custom claims of a user for one token kind and the granted scope.
pub(crate) fn custom_claims(
    mappings: &[ClaimMapping],
    kind: TokenKind,
    scope: &idp_core::Scope,
    attributes: &Map<String, Value>,
) -> Map<String, Value> {
    let mut out = Map::new();
    for m in mappings {
        if !m.tokens.contains(&kind) || m.scope.as_deref().is_some_and(|s| !scope.contains(s)) {
            continue;
        }
        if let Some(v) = attributes.get(&m.attribute) {
            out.insert(m.claim.clone(), v.clone());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pattern5() -> AttributeSchema {
        AttributeSchema::new()
            .attribute(
                "department",
                AttributeRule::new(AttributeType::String)
                    .default_value("general")
                    .max_length(16),
            )
            .attribute(
                "role",
                AttributeRule::new(AttributeType::Enum)
                    .values(["user", "admin", "owner"])
                    .required(),
            )
            .attribute("customerId", AttributeRule::new(AttributeType::String))
            .attribute("seats", AttributeRule::new(AttributeType::Integer))
            .attribute("beta", AttributeRule::new(AttributeType::Boolean))
            .attribute("logoUrl", AttributeRule::new(AttributeType::Url))
            .attribute("billing", AttributeRule::new(AttributeType::Email))
    }

    fn apply(s: &AttributeSchema, v: Value) -> Result<Value, String> {
        let mut m = v.as_object().unwrap().clone();
        s.apply(&mut m).map(|()| Value::Object(m)).map_err(|e| e.0)
    }

    #[test]
    fn defaults_required_and_conversions() {
        let s = pattern5();
        assert_eq!(
            apply(&s, json!({"role": "admin", "seats": "42", "beta": "true"})).unwrap(),
            json!({"role": "admin", "department": "general", "seats": 42, "beta": true})
        );
        assert_eq!(
            apply(&s, json!({"department": "sales"})).unwrap_err(),
            "attribute `role` is required"
        );
        // A null removes; a required one cannot be removed.
        assert_eq!(
            apply(&s, json!({"role": "user", "customerId": null})).unwrap(),
            json!({"role": "user", "department": "general"})
        );
        assert_eq!(
            apply(&s, json!({"role": null})).unwrap_err(),
            "attribute `role` is required"
        );
    }

    #[test]
    fn every_type_refuses_what_it_does_not_hold() {
        let s = pattern5();
        let cases = [
            (
                json!({"role": "root"}),
                "attribute `role` must be one of user, admin, owner",
            ),
            (
                json!({"role": 1}),
                "attribute `role` must be one of the listed values",
            ),
            (
                json!({"role": "user", "department": "a very long department name"}),
                "attribute `department` is longer than 16 characters",
            ),
            (
                json!({"role": "user", "department": "a\nb"}),
                "attribute `department` must not contain control characters",
            ),
            (
                json!({"role": "user", "seats": "4.5"}),
                "attribute `seats` must be an integer",
            ),
            (
                json!({"role": "user", "seats": 4.5}),
                "attribute `seats` must be an integer",
            ),
            (
                json!({"role": "user", "beta": "yes"}),
                "attribute `beta` must be a boolean",
            ),
            (
                json!({"role": "user", "logoUrl": "javascript:alert(1)"}),
                "attribute `logoUrl` must be an http(s) URL",
            ),
            (
                json!({"role": "user", "billing": "not-an-address"}),
                "attribute `billing` must be an e-mail address",
            ),
            (
                json!({"role": "user", "colour": "red"}),
                "attribute `colour` is not defined",
            ),
        ];
        for (input, want) in cases {
            assert_eq!(apply(&s, input.clone()).unwrap_err(), want, "{input}");
        }
        assert!(
            apply(
                &s,
                json!({"role": "owner", "logoUrl": "https://cdn.example.com/a.png", "billing": "ap@example.com"})
            )
            .is_ok()
        );
    }

    #[test]
    fn an_empty_schema_allows_anything() {
        let s = AttributeSchema::new();
        assert_eq!(
            apply(&s, json!({"anything": [1, 2], "x": null})).unwrap(),
            json!({"anything": [1, 2]})
        );
    }

    #[test]
    fn claims_follow_scope_and_token_kind() {
        let maps = [
            ClaimMapping::new("role", "role")
                .scope("roles")
                .tokens([TokenKind::AccessToken]),
            ClaimMapping::new("department", "dept"),
        ];
        let attrs = json!({"role": "admin", "department": "sales"});
        let attrs = attrs.as_object().unwrap();
        let scope = |s: &str| idp_core::Scope::parse(s).unwrap();
        let at = custom_claims(&maps, TokenKind::AccessToken, &scope("openid roles"), attrs);
        assert_eq!(Value::Object(at), json!({"role": "admin", "dept": "sales"}));
        let at = custom_claims(&maps, TokenKind::AccessToken, &scope("openid"), attrs);
        assert_eq!(Value::Object(at), json!({"dept": "sales"}));
        let id = custom_claims(&maps, TokenKind::IdToken, &scope("openid roles"), attrs);
        assert_eq!(Value::Object(id), json!({"dept": "sales"}));

        let schemas = Schemas::new(
            &pattern5(),
            &AttributeSchema::new(),
            &BTreeMap::new(),
            &BTreeMap::new(),
        );
        let supported = scope("openid roles");
        assert!(validate_claims(&maps, &schemas, &supported).is_ok());
        for (bad, want) in [
            (ClaimMapping::new("role", "sub"), "registered claim"),
            (ClaimMapping::new("role", "email"), "registered claim"),
            (
                ClaimMapping::new("colour", "colour"),
                "no user attribute schema defines",
            ),
            (
                ClaimMapping::new("role", "r").scope("admin"),
                "not in scopes_supported",
            ),
            (
                ClaimMapping::new("role", "r").tokens([]),
                "`tokens` is empty",
            ),
        ] {
            let err = validate_claims(&[bad], &schemas, &supported).unwrap_err();
            assert!(err.contains(want), "{err}");
        }
        let twice = [
            ClaimMapping::new("role", "r"),
            ClaimMapping::new("department", "r"),
        ];
        assert!(
            validate_claims(&twice, &schemas, &supported)
                .unwrap_err()
                .contains("twice")
        );
    }

    #[test]
    fn schemas_are_checked_and_extended() {
        let bad_default = AttributeSchema::new().attribute(
            "role",
            AttributeRule::new(AttributeType::Enum)
                .values(["user"])
                .default_value("admin"),
        );
        assert_eq!(
            bad_default.validate("user_attributes").unwrap_err(),
            "user_attributes.role: the default must be one of user"
        );
        let no_values =
            AttributeSchema::new().attribute("r", AttributeRule::new(AttributeType::Enum));
        assert!(
            no_values
                .validate("k")
                .unwrap_err()
                .contains("needs `values`")
        );
        let bad_name =
            AttributeSchema::new().attribute("a b", AttributeRule::new(AttributeType::String));
        assert!(
            bad_name
                .validate("k")
                .unwrap_err()
                .contains("not an attribute name")
        );
        let from_toml: AttributeSchema = serde_json::from_value(
            json!({"role": {"type": "enum", "values": ["user", "admin"], "default": "user"}}),
        )
        .unwrap();
        assert!(from_toml.validate("user_attributes").is_ok());
        let tenant = AttributeSchema::new()
            .attribute("plan", AttributeRule::new(AttributeType::String).required());
        let both = from_toml.extended(&tenant);
        assert!(both.defines("role") && both.defines("plan"));
        assert_eq!(
            apply(&both, json!({})).unwrap_err(),
            "attribute `plan` is required"
        );
    }
}
