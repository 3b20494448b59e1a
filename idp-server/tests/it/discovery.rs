//! Discovery and JWKS.

use crate::common::TestServer;

#[tokio::test]
async fn discovery_lists_exactly_what_is_implemented() {
    let s = TestServer::start().await;
    for path in [
        "/.well-known/openid-configuration",
        "/.well-known/oauth-authorization-server",
    ] {
        let (status, headers, d) = s.get_json(path).await;
        assert_eq!(status, 200);
        assert_eq!(headers["content-type"], "application/json");
        assert_eq!(headers["x-content-type-options"], "nosniff");
        assert!(
            headers["cache-control"]
                .to_str()
                .unwrap()
                .contains("max-age=")
        );
        assert_eq!(d["issuer"], s.base);
        assert_eq!(d["token_endpoint"], s.url("/oauth/token"));
        assert_eq!(d["jwks_uri"], s.url("/.well-known/jwks.json"));
        assert_eq!(d["introspection_endpoint"], s.url("/oauth/introspect"));
        assert_eq!(d["revocation_endpoint"], s.url("/oauth/revoke"));
        assert_eq!(
            d["grant_types_supported"],
            serde_json::json!([
                "authorization_code",
                "refresh_token",
                "client_credentials",
                "urn:ietf:params:oauth:grant-type:device_code"
            ])
        );
        assert_eq!(
            d["device_authorization_endpoint"],
            s.url("/oauth/device_authorization")
        );
        assert_eq!(
            d["token_endpoint_auth_methods_supported"],
            serde_json::json!(["client_secret_basic", "client_secret_post", "none"])
        );
        assert_eq!(d["authorization_endpoint"], s.url("/oauth/authorize"));
        assert_eq!(d["userinfo_endpoint"], s.url("/oauth/userinfo"));
        assert_eq!(d["end_session_endpoint"], s.url("/oauth/logout"));
        assert_eq!(d["response_types_supported"], serde_json::json!(["code"]));
        assert_eq!(
            d["code_challenge_methods_supported"],
            serde_json::json!(["S256"])
        );
        assert_eq!(d["authorization_response_iss_parameter_supported"], true);
        assert_eq!(
            d["id_token_signing_alg_values_supported"],
            serde_json::json!(["RS256"])
        );
        assert!(
            d["claims_supported"]
                .as_array()
                .unwrap()
                .contains(&"email".into())
        );
        // Not implemented, so not advertised.
        assert!(d.get("registration_endpoint").is_none());
        assert!(d.get("pushed_authorization_request_endpoint").is_none());
        let scopes: Vec<&str> = d["scopes_supported"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        for sc in ["openid", "profile", "email", "offline_access"] {
            assert!(scopes.contains(&sc));
        }
    }
    s.stop().await;
}

#[tokio::test]
async fn jwks_publishes_rs256_and_es256_keys_with_kid_use_alg() {
    let s = TestServer::start().await;
    let (status, headers, jwks) = s.get_json("/.well-known/jwks.json").await;
    assert_eq!(status, 200);
    assert_eq!(headers["cache-control"], "public, max-age=300");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    let keys = jwks["keys"].as_array().unwrap();
    let mut algs: Vec<&str> = keys.iter().map(|k| k["alg"].as_str().unwrap()).collect();
    algs.sort();
    assert_eq!(algs, ["ES256", "RS256"]);
    for k in keys {
        assert_eq!(k["use"], "sig");
        assert!(k["kid"].as_str().unwrap().len() >= 43);
        // Public parts only.
        for private in ["d", "p", "q", "dp", "dq", "qi"] {
            assert!(k.get(private).is_none(), "{private} published");
        }
        match k["kty"].as_str().unwrap() {
            "RSA" => {
                assert!(k["n"].as_str().unwrap().len() >= 342); // 2048 bits
                assert_eq!(k["e"], "AQAB");
            }
            "EC" => assert_eq!(k["crv"], "P-256"),
            other => panic!("unexpected kty {other}"),
        }
    }
    s.stop().await;
}

#[tokio::test]
async fn health_endpoints() {
    let s = TestServer::start().await;
    for p in ["/health/live", "/health/ready"] {
        let r = s.http.get(s.url(p)).send().await.unwrap();
        assert_eq!(r.status(), 200, "{p}");
    }
    s.stop().await;
}
