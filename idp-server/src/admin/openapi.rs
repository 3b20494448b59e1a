//! The OpenAPI 3.1 description of the admin API, served at `/admin/api/v1/openapi.json`
//! (without authentication: it says nothing about any record).

use serde_json::{Value, json};

/// Every operation: method, path (relative to the API's base), summary, request schema,
/// success status.
pub(crate) const OPERATIONS: &[(&str, &str, &str, Option<&str>, u16)] = &[
    (
        "get",
        "/users",
        "List users (by tenant, in pages)",
        None,
        200,
    ),
    ("post", "/users", "Create a user", Some("NewUser"), 201),
    ("get", "/users/{id}", "Get a user", None, 200),
    (
        "patch",
        "/users/{id}",
        "Update a user (attributes merge; null removes)",
        Some("UserUpdate"),
        200,
    ),
    (
        "delete",
        "/users/{id}",
        "Delete a user (ends their sessions and grants)",
        None,
        204,
    ),
    (
        "post",
        "/users/{id}/disable",
        "Disable a user (ends their sessions and grants)",
        None,
        200,
    ),
    ("post", "/users/{id}/enable", "Enable a user", None, 200),
    (
        "post",
        "/users/{id}/password",
        "Set a user's password (ends their sessions and grants)",
        Some("Password"),
        200,
    ),
    (
        "get",
        "/users/{id}/two-factor",
        "Whether a user has two-factor authentication on, and backup codes left",
        None,
        200,
    ),
    (
        "delete",
        "/users/{id}/two-factor",
        "Turn a user's two-factor authentication off (operator reset)",
        None,
        200,
    ),
    (
        "get",
        "/clients",
        "List clients (by tenant, in pages)",
        None,
        200,
    ),
    (
        "post",
        "/clients",
        "Register a client; a generated client_secret is in this response only",
        Some("NewClient"),
        201,
    ),
    ("get", "/clients/{id}", "Get a client", None, 200),
    (
        "patch",
        "/clients/{id}",
        "Update a client",
        Some("ClientUpdate"),
        200,
    ),
    (
        "delete",
        "/clients/{id}",
        "Delete a client (revokes its grants)",
        None,
        204,
    ),
    (
        "post",
        "/clients/{id}/secret",
        "Rotate a client's secret (shown in this response only)",
        None,
        200,
    ),
    ("get", "/tenants", "List tenants", None, 200),
    (
        "post",
        "/tenants",
        "Register a tenant (idp:admin only)",
        Some("NewTenant"),
        201,
    ),
    ("get", "/tenants/{id}", "Get a tenant", None, 200),
    (
        "patch",
        "/tenants/{id}",
        "Update a tenant (scopes: idp:admin only)",
        Some("TenantUpdate"),
        200,
    ),
];

fn strings() -> Value {
    json!({"type": "array", "items": {"type": "string"}})
}

/// The document, with `server` (the API's base URL) as its server.
pub(crate) fn document(server: &str) -> Value {
    let mut paths = serde_json::Map::new();
    for (method, path, summary, body, status) in OPERATIONS {
        let mut op = json!({
            "summary": summary,
            "security": [{"bearer": ["idp:admin"]}, {"bearer": ["idp:tenant-admin"]}],
            "responses": {
                status.to_string(): {"description": "success"},
                "default": {"description": "an error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
            },
        });
        if path.contains("{id}") {
            op["parameters"] = json!([{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}]);
        }
        if *method == "get" && !path.contains("{id}") {
            op["parameters"] = json!([
                {"name": "tenant", "in": "query", "schema": {"type": "string"}},
                {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 200, "default": 50}},
                {"name": "cursor", "in": "query", "description": "next_cursor of the previous page", "schema": {"type": "string"}},
            ]);
        }
        if let Some(schema) = body {
            op["requestBody"] = json!({"required": true, "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{schema}")}}}});
        }
        let entry = paths.entry(path.to_string()).or_insert_with(|| json!({}));
        entry[*method] = op;
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "idp management API",
            "version": "1",
            "description": "Users, clients and tenants. Tokens: an access token of this provider whose audience includes the issuer's /admin/api, with scope idp:admin (everything) or idp:tenant-admin (the token's own tenant only).",
        },
        "servers": [{"url": server}],
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
            "schemas": {
                "Error": {"type": "object", "required": ["error", "message"], "properties": {
                    "error": {"type": "string", "enum": ["invalid_token", "insufficient_scope", "invalid_input", "not_found", "conflict", "rejected", "busy", "server_error"]},
                    "message": {"type": "string"},
                }},
                "NewUser": {"type": "object", "required": ["email"], "additionalProperties": false, "properties": {
                    "email": {"type": "string"}, "password": {"type": "string"}, "name": {"type": "string"},
                    "given_name": {"type": "string"}, "family_name": {"type": "string"}, "picture": {"type": "string"},
                    "locale": {"type": "string"}, "email_verified": {"type": "boolean"}, "tenant": {"type": "string"},
                    "allowed_scopes": strings(), "attributes": {"type": "object"},
                }},
                "UserUpdate": {"type": "object", "additionalProperties": false, "properties": {
                    "email": {"type": "string"}, "name": {"type": "string"}, "given_name": {"type": "string"},
                    "family_name": {"type": "string"}, "picture": {"type": "string"}, "locale": {"type": "string"},
                    "email_verified": {"type": "boolean"}, "allowed_scopes": strings(), "attributes": {"type": "object"},
                }},
                "Password": {"type": "object", "required": ["password"], "additionalProperties": false, "properties": {"password": {"type": "string"}}},
                "NewClient": {"type": "object", "required": ["client_id"], "additionalProperties": false, "properties": {
                    "client_id": {"type": "string"}, "public": {"type": "boolean"}, "name": {"type": "string"},
                    "redirect_uris": strings(), "post_logout_redirect_uris": strings(),
                    "backchannel_logout_uri": {"type": "string"}, "allowed_scopes": strings(), "grant_types": strings(),
                    "token_endpoint_auth_method": {"type": "string", "enum": ["client_secret_basic", "client_secret_post"]},
                    "audiences": strings(), "first_party": {"type": "boolean"}, "tenant": {"type": "string"},
                    "attributes": {"type": "object"},
                }},
                "ClientUpdate": {"type": "object", "additionalProperties": false, "properties": {
                    "name": {"type": "string"}, "redirect_uris": strings(), "post_logout_redirect_uris": strings(),
                    "allowed_scopes": strings(), "audiences": strings(), "first_party": {"type": "boolean"},
                    "attributes": {"type": "object"},
                }},
                "NewTenant": {"type": "object", "required": ["id"], "additionalProperties": false, "properties": {
                    "id": {"type": "string"}, "display_name": {"type": "string"}, "logo_url": {"type": "string"},
                    "allowed_scopes": strings(),
                }},
                "TenantUpdate": {"type": "object", "additionalProperties": false, "properties": {
                    "display_name": {"type": ["string", "null"]}, "logo_url": {"type": ["string", "null"]},
                    "allowed_scopes": {"type": ["array", "null"], "items": {"type": "string"}},
                }},
            },
        },
    })
}
