//! The authorization request (RFC 6749 §4.1.1, OIDC Core §3.1.2.1), checked once: the
//! client and redirect URI first, then every other parameter.

use idp_core::{CodeChallenge, CodeChallengeMethod, ErrorCode, GrantType, Scope};

use crate::state::State;
use crate::store::Client;
use crate::web::form::{first_repeated, single};

/// Form fields of the login and consent steps, never part of the authorization request.
pub(crate) const STEP_FIELDS: [&str; 6] = [
    "_action",
    "csrf_token",
    "email",
    "password",
    "decision",
    // The second factor's code (`account::second_factor`).
    "code",
];

/// Whether `uri` matches a registered redirect URI: exactly, or for a loopback IP redirect
/// with another port (RFC 8252 §7.3).
pub(crate) fn redirect_uri_registered(client: &Client, uri: &str) -> bool {
    client
        .redirect_uris
        .iter()
        .any(|r| r == uri || same_loopback_but_port(r, uri))
}

/// Whether `uri` (a registered redirect URI) goes to a native app through a private-use
/// scheme (RFC 8252 §7.1): anything but `http` and `https`, which registration allows only
/// for such schemes.
fn is_private_use_scheme(uri: &str) -> bool {
    let scheme = uri.split_once(':').map_or("", |(s, _)| s);
    !scheme.eq_ignore_ascii_case("https") && !scheme.eq_ignore_ascii_case("http")
}

/// A loopback redirect URI as written: the host text and the rest (path and query).
struct Loopback<'a> {
    host: &'a str,
    rest: &'a str,
}

/// Splits `uri` as written when it is `http://` on a loopback IP literal (a dotted quad such
/// as `127.0.0.1`, or a bracketed IPv6 address such as `[::1]`; never `localhost`, RFC 8252
/// §8.3), without userinfo or fragment, with a port, if any, in plain decimal. The text is
/// not normalised: `127.1`, `0x7f000001` or `2130706433` are not `127.0.0.1` here.
fn loopback(uri: &str) -> Option<Loopback<'_>> {
    let after = uri.strip_prefix("http://")?;
    if uri.contains('#') {
        return None;
    }
    let (authority, rest) = after.split_at(after.find(['/', '?']).unwrap_or(after.len()));
    if authority.contains('@') {
        return None;
    }
    // The host as written, and what follows it (`""` or `:PORT`).
    let (host, port) = match authority.strip_prefix('[') {
        Some(v6) => {
            let close = v6.find(']')?;
            let ip: std::net::Ipv6Addr = v6[..close].parse().ok()?;
            ip.is_loopback().then(|| authority.split_at(close + 2))?
        }
        None => {
            let split = authority.split_at(authority.find(':').unwrap_or(authority.len()));
            let ip: std::net::Ipv4Addr = split.0.parse().ok()?;
            ip.is_loopback().then_some(split)?
        }
    };
    if let Some(digits) = port.strip_prefix(':') {
        let decimal = digits.bytes().all(|b| b.is_ascii_digit())
            && !digits.starts_with('0')
            && digits.parse::<u16>().is_ok();
        if !decimal {
            return None;
        }
    } else if !port.is_empty() {
        return None;
    }
    Some(Loopback { host, rest })
}

/// Whether `asked` is the loopback redirect URI `registered` with only the port changed:
/// the same host text, path and query, byte for byte.
fn same_loopback_but_port(registered: &str, asked: &str) -> bool {
    match (loopback(registered), loopback(asked)) {
        (Some(r), Some(a)) => r.host == a.host && r.rest == a.rest,
        _ => false,
    }
}

/// The `prompt` values (OIDC Core §3.1.2.1); `none` never comes with another.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Prompt {
    pub(crate) none: bool,
    pub(crate) login: bool,
    pub(crate) consent: bool,
}

/// The checked authorization request.
pub(crate) struct AuthRequest {
    pub(crate) client: std::sync::Arc<Client>,
    pub(crate) redirect_given: bool,
    pub(crate) scope: Scope,
    pub(crate) nonce: Option<String>,
    pub(crate) challenge: Option<CodeChallenge>,
    pub(crate) prompt: Prompt,
    pub(crate) max_age: Option<i64>,
    pub(crate) login_hint: Option<String>,
    pub(crate) hint_sub: Option<String>,
    /// The authorization parameters, carried through the login and consent forms.
    pub(crate) params: Vec<(String, String)>,
    /// The client's tenant, when it is registered (its look and its scopes).
    pub(crate) tenant: Option<std::sync::Arc<crate::store::Tenant>>,
}

pub(crate) type Failure = (ErrorCode, &'static str);

fn one<'a>(pairs: &'a [(String, String)], name: &str) -> Result<Option<&'a str>, Failure> {
    single(pairs, name).map_err(|_| (ErrorCode::InvalidRequest, "a parameter is repeated"))
}

/// Checks every parameter after the client and `redirect_uri` (registered, and `given` in
/// the request or the client's only one).
pub(crate) fn check_request(
    state: &State,
    client: std::sync::Arc<Client>,
    (redirect_uri, redirect_given): (&str, bool),
    pairs: &[(String, String)],
) -> Result<AuthRequest, Failure> {
    if first_repeated(pairs, &STEP_FIELDS).is_some() {
        return Err((ErrorCode::InvalidRequest, "a parameter is repeated"));
    }
    check_response(pairs)?;
    if !client.allows_grant(&GrantType::AuthorizationCode) {
        return Err((
            ErrorCode::UnauthorizedClient,
            "this client may not use the authorization code flow",
        ));
    }
    let scope = check_scope(&client, pairs)?;
    let challenge = check_pkce(pairs)?;
    if client.is_public() && challenge.is_none() {
        return Err((
            ErrorCode::InvalidRequest,
            "public clients must use PKCE (S256)",
        ));
    }
    // Any app on the device may claim a private-use scheme; only PKCE keeps a code it
    // intercepts useless, client secret or not (RFC 8252 §8.1, §8.5).
    if is_private_use_scheme(redirect_uri) && challenge.is_none() {
        return Err((
            ErrorCode::InvalidRequest,
            "a redirect URI with a private-use scheme requires PKCE (S256)",
        ));
    }
    let prompt = check_prompt(pairs)?;
    let max_age = check_max_age(pairs)?;
    let nonce = one(pairs, "nonce")?.map(str::to_owned);
    if nonce.as_ref().is_some_and(|n| n.len() > 512) {
        return Err((ErrorCode::InvalidRequest, "nonce is too long"));
    }
    let hint_sub = match one(pairs, "id_token_hint")? {
        None => None,
        Some(t) => Some(state.verify_id_token_hint(t).map(|c| c.sub).ok_or((
            ErrorCode::InvalidRequest,
            "id_token_hint is not a valid ID token from this provider",
        ))?),
    };
    let params = pairs
        .iter()
        .filter(|(k, _)| !STEP_FIELDS.contains(&k.as_str()))
        .cloned()
        .collect();
    Ok(AuthRequest {
        client,
        redirect_given,
        scope,
        nonce,
        challenge,
        prompt,
        max_age,
        login_hint: one(pairs, "login_hint")?.map(|s| s.chars().take(256).collect()),
        hint_sub,
        params,
        tenant: None,
    })
}

/// `response_type=code`, `response_mode=query`, no request objects.
fn check_response(pairs: &[(String, String)]) -> Result<(), Failure> {
    if one(pairs, "request")?.is_some() {
        return Err((
            ErrorCode::RequestNotSupported,
            "request objects are not supported",
        ));
    }
    if one(pairs, "request_uri")?.is_some() {
        return Err((
            ErrorCode::RequestUriNotSupported,
            "request_uri is not supported",
        ));
    }
    match one(pairs, "response_type")? {
        None => return Err((ErrorCode::InvalidRequest, "response_type is required")),
        Some("code") => {}
        Some(_) => {
            return Err((
                ErrorCode::UnsupportedResponseType,
                "only response_type=code is supported",
            ));
        }
    }
    match one(pairs, "response_mode")? {
        Some(mode) if mode != "query" => Err((
            ErrorCode::InvalidRequest,
            "only response_mode=query is supported",
        )),
        _ => Ok(()),
    }
}

/// The requested scope, narrowed to what the client may have; scopes the client may not
/// have are dropped (the token response reports what was granted).
fn check_scope(client: &Client, pairs: &[(String, String)]) -> Result<Scope, Failure> {
    let requested = match one(pairs, "scope")? {
        Some(s) => Scope::parse(s).map_err(|_| (ErrorCode::InvalidScope, "malformed scope"))?,
        None => client.allowed_scopes.clone(),
    };
    let scope = requested.intersection(&client.allowed_scopes);
    if scope.is_empty() {
        return Err((
            ErrorCode::InvalidScope,
            "none of the requested scopes is allowed for this client",
        ));
    }
    Ok(scope)
}

/// The PKCE challenge (RFC 7636), S256 only.
fn check_pkce(pairs: &[(String, String)]) -> Result<Option<CodeChallenge>, Failure> {
    let method = one(pairs, "code_challenge_method")?;
    let Some(c) = one(pairs, "code_challenge")? else {
        if method.is_some() {
            return Err((
                ErrorCode::InvalidRequest,
                "code_challenge_method without code_challenge",
            ));
        }
        return Ok(None);
    };
    let m = CodeChallengeMethod::parse(method.unwrap_or("plain"))
        .map_err(|_| (ErrorCode::InvalidRequest, "unknown code_challenge_method"))?;
    m.require_s256().map_err(|_| {
        (
            ErrorCode::InvalidRequest,
            "code_challenge_method must be S256",
        )
    })?;
    CodeChallenge::parse(c)
        .map(Some)
        .map_err(|_| (ErrorCode::InvalidRequest, "malformed code_challenge"))
}

/// The `prompt` values; `none` never comes with another. `select_account` and unknown
/// values are ignored: there is one account per browser session.
fn check_prompt(pairs: &[(String, String)]) -> Result<Prompt, Failure> {
    let Some(p) = one(pairs, "prompt")? else {
        return Ok(Prompt::default());
    };
    let values: Vec<&str> = p.split(' ').filter(|v| !v.is_empty()).collect();
    if values.contains(&"none") && values.len() > 1 {
        return Err((ErrorCode::InvalidRequest, "prompt=none cannot be combined"));
    }
    Ok(Prompt {
        none: values.contains(&"none"),
        login: values.contains(&"login"),
        consent: values.contains(&"consent"),
    })
}

fn check_max_age(pairs: &[(String, String)]) -> Result<Option<i64>, Failure> {
    one(pairs, "max_age")?
        .map(|v| {
            v.parse::<u32>().map(i64::from).map_err(|_| {
                (
                    ErrorCode::InvalidRequest,
                    "max_age must be a non-negative integer",
                )
            })
        })
        .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_use_schemes_are_anything_but_http_and_https() {
        for native in ["myapp://callback", "com.example.app:/cb", "MyApp:/cb", ""] {
            assert!(is_private_use_scheme(native), "{native}");
        }
        for web in [
            "https://app.example.com/cb",
            "http://127.0.0.1/cb",
            "HTTPS://app.example.com/cb",
        ] {
            assert!(!is_private_use_scheme(web), "{web}");
        }
    }

    #[test]
    fn loopback_redirects_differ_only_in_the_port() {
        let v4 = "http://127.0.0.1:4000/callback";
        for ok in [
            "http://127.0.0.1:5555/callback",
            "http://127.0.0.1/callback",
            "http://127.0.0.1:65535/callback",
        ] {
            assert!(same_loopback_but_port(v4, ok), "{ok}");
        }
        assert!(same_loopback_but_port(
            "http://127.0.0.1/cb?x=1",
            "http://127.0.0.1:9/cb?x=1"
        ));
        assert!(same_loopback_but_port(
            "http://[::1]:8080/cb",
            "http://[::1]:9090/cb"
        ));
        for bad in [
            "http://127.1:5555/callback",
            "http://0x7f000001:5555/callback",
            "http://2130706433:5555/callback",
            "http://127.0.0.01:5555/callback",
            "http://:pw@127.0.0.1:5555/callback",
            "http://user@127.0.0.1:5555/callback",
            "http://127.0.0.2:5555/callback",
            "http://localhost:5555/callback",
            "https://127.0.0.1:5555/callback",
            "HTTP://127.0.0.1:5555/callback",
            "http://127.0.0.1:5555/callback#f",
            "http://127.0.0.1:5555/callback?x=1",
            "http://127.0.0.1:5555/callback/",
            "http://127.0.0.1:5555/Callback",
            "http://127.0.0.1:5555/%63allback",
            "http://127.0.0.1:5555//callback",
            "http://127.0.0.1:/callback",
            "http://127.0.0.1:+5555/callback",
            "http://127.0.0.1:05555/callback",
            "http://127.0.0.1:65536/callback",
            "http://127.0.0.1:0/callback",
            "http://127.0.0.1:5555:1/callback",
            "http://127.0.0.1.:5555/callback",
            "http://[::1]:5555/callback",
            "http://[0:0:0:0:0:0:0:1]:8080/cb",
        ] {
            assert!(!same_loopback_but_port(v4, bad), "{bad}");
        }
        assert!(!same_loopback_but_port(
            "http://[::1]:8080/cb",
            "http://[0:0:0:0:0:0:0:1]:8080/cb"
        ));
        // Only loopback IP literals are port-agnostic.
        assert!(!same_loopback_but_port(
            "http://localhost:3000/cb",
            "http://localhost:3001/cb"
        ));
        assert!(!same_loopback_but_port(
            "http://10.0.0.1:3000/cb",
            "http://10.0.0.1:3001/cb"
        ));
    }
}
