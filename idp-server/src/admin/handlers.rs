//! The handlers of the admin API: parse, authorise, call the management layer, answer.

use axum::extract::{Path, Query};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::StatusCode;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};

use super::auth::{Admin, ApiError, Reach};
use crate::manage::Actor;
use crate::store::{Client, Tenant, User};
use crate::web::AppState;

/// The most records one page of a list holds.
const MAX_LIMIT: usize = 200;
const DEFAULT_LIMIT: usize = 50;

fn parse<T: DeserializeOwned>(body: &Bytes) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| {
        // serde's message names the field and the position, never more of the input.
        ApiError::invalid(format!("the body is not valid: {e}"))
    })
}

fn ok(status: StatusCode, body: Value) -> Response {
    let mut resp = (status, axum::Json(body)).into_response();
    resp.headers_mut().insert(
        http::header::CACHE_CONTROL,
        http::HeaderValue::from_static("no-store"),
    );
    resp
}

/// `?tenant=&limit=&cursor=` of a list.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ListQuery {
    tenant: Option<String>,
    limit: Option<usize>,
    cursor: Option<String>,
}

impl ListQuery {
    /// The page size asked for, within bounds.
    fn limit(&self) -> usize {
        self.limit.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT)
    }

    /// How many records to read for a page: one more than it shows, to know whether a
    /// next page exists.
    fn read(&self) -> u32 {
        u32::try_from(self.limit() + 1).unwrap_or(u32::MAX)
    }
}

/// `{"items": [...], "next_cursor": ID|null}` from what was read after the cursor (the id
/// of the last item of the previous page): up to [`ListQuery::read`] items, of which the
/// page shows [`ListQuery::limit`].
fn page_of<T>(
    mut items: Vec<T>,
    q: &ListQuery,
    id: impl Fn(&T) -> &str,
    render: impl Fn(&T) -> Value,
) -> Value {
    let limit = q.limit();
    let more = items.len() > limit;
    items.truncate(limit);
    let next = more
        .then(|| items.last().map(|t| id(t).to_owned()))
        .flatten();
    json!({"items": items.iter().map(render).collect::<Vec<_>>(), "next_cursor": next})
}

/// One page of `items` held in memory (tenants, which are few), as [`page_of`].
fn page<T>(
    items: Vec<T>,
    q: &ListQuery,
    id: impl Fn(&T) -> &str,
    render: impl Fn(&T) -> Value,
) -> Value {
    let start = match &q.cursor {
        Some(c) => items
            .iter()
            .position(|t| id(t) == c)
            .map_or(items.len(), |i| i + 1),
        None => 0,
    };
    let read = usize::try_from(q.read()).unwrap_or(usize::MAX);
    let rest: Vec<T> = items.into_iter().skip(start).take(read).collect();
    page_of(rest, q, id, render)
}

pub(crate) mod users {
    use super::*;
    use crate::manage::{NewUser, UserUpdate};

    pub(crate) fn render(u: &User) -> Value {
        json!({
            "id": u.id, "tenant": u.tenant_id, "email": u.email,
            "email_verified": u.email_verified, "name": u.name, "given_name": u.given_name,
            "family_name": u.family_name, "picture": u.picture, "locale": u.locale,
            "active": u.active, "has_password": u.password_hash.is_some(),
            "allowed_scopes": u.allowed_scopes.as_ref().map(ToString::to_string),
            "attributes": u.attributes, "created_at": u.created_at, "updated_at": u.updated_at,
        })
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Create {
        email: String,
        password: Option<String>,
        name: Option<String>,
        given_name: Option<String>,
        family_name: Option<String>,
        picture: Option<String>,
        locale: Option<String>,
        #[serde(default)]
        email_verified: bool,
        tenant: Option<String>,
        allowed_scopes: Option<Vec<String>>,
        #[serde(default)]
        attributes: Map<String, Value>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Update {
        email: Option<String>,
        name: Option<String>,
        given_name: Option<String>,
        family_name: Option<String>,
        picture: Option<String>,
        locale: Option<String>,
        email_verified: Option<bool>,
        allowed_scopes: Option<Vec<String>>,
        attributes: Option<Map<String, Value>>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct SetPassword {
        password: String,
    }

    /// The user `id`, if the caller may see it (another tenant's is "not found").
    async fn visible(app: &AppState, who: &Admin, id: &str) -> Result<User, ApiError> {
        match app.users().get(id).await? {
            Some(u) if who.sees(u.tenant_id.as_deref()) => Ok(u),
            _ => Err(ApiError::not_found()),
        }
    }

    fn acting<'a>(app: &'a AppState, who: &Admin) -> crate::manage::Users<'a> {
        app.users()
            .by(Actor::Admin(who.sub.clone()))
            .from_addr(who.addr)
    }

    pub(crate) async fn list(
        app: AppState,
        who: Admin,
        q: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
    ) -> Result<Response, ApiError> {
        let Query(q) = q.map_err(|e| ApiError::invalid(e.body_text()))?;
        let tenant = who.confine(q.tenant.clone())?;
        let read = app
            .users()
            .list_after(tenant.as_deref(), q.cursor.as_deref(), q.read())
            .await?;
        Ok(ok(StatusCode::OK, page_of(read, &q, |u| &u.id, render)))
    }

    pub(crate) async fn create(
        app: AppState,
        who: Admin,
        body: Bytes,
    ) -> Result<Response, ApiError> {
        let c: Create = parse(&body)?;
        let tenant_id = who.confine(c.tenant)?;
        let u = acting(&app, &who)
            .insert(NewUser {
                email: c.email,
                password: c.password.map(Into::into),
                name: c.name,
                given_name: c.given_name,
                family_name: c.family_name,
                picture: c.picture,
                locale: c.locale,
                email_verified: c.email_verified,
                tenant_id,
                allowed_scopes: c.allowed_scopes,
                attributes: c.attributes,
            })
            .await?;
        Ok(ok(StatusCode::CREATED, render(&u)))
    }

    pub(crate) async fn get(
        app: AppState,
        who: Admin,
        Path(id): Path<String>,
    ) -> Result<Response, ApiError> {
        Ok(ok(StatusCode::OK, render(&visible(&app, &who, &id).await?)))
    }

    pub(crate) async fn update(
        app: AppState,
        who: Admin,
        Path(id): Path<String>,
        body: Bytes,
    ) -> Result<Response, ApiError> {
        visible(&app, &who, &id).await?;
        let c: Update = parse(&body)?;
        let u = acting(&app, &who)
            .update(
                &id,
                UserUpdate {
                    email: c.email,
                    name: c.name,
                    given_name: c.given_name,
                    family_name: c.family_name,
                    picture: c.picture,
                    locale: c.locale,
                    email_verified: c.email_verified,
                    allowed_scopes: c.allowed_scopes,
                    attributes: c.attributes,
                },
            )
            .await?;
        Ok(ok(StatusCode::OK, render(&u)))
    }

    pub(crate) async fn delete(
        app: AppState,
        who: Admin,
        Path(id): Path<String>,
    ) -> Result<Response, ApiError> {
        visible(&app, &who, &id).await?;
        app.users().delete(&id).await?;
        Ok(StatusCode::NO_CONTENT.into_response())
    }

    pub(crate) async fn disable(
        app: AppState,
        who: Admin,
        Path(id): Path<String>,
    ) -> Result<Response, ApiError> {
        visible(&app, &who, &id).await?;
        Ok(ok(StatusCode::OK, render(&app.users().disable(&id).await?)))
    }

    pub(crate) async fn enable(
        app: AppState,
        who: Admin,
        Path(id): Path<String>,
    ) -> Result<Response, ApiError> {
        visible(&app, &who, &id).await?;
        Ok(ok(StatusCode::OK, render(&app.users().enable(&id).await?)))
    }

    pub(crate) async fn set_password(
        app: AppState,
        who: Admin,
        Path(id): Path<String>,
        body: Bytes,
    ) -> Result<Response, ApiError> {
        visible(&app, &who, &id).await?;
        let c: SetPassword = parse(&body)?;
        let u = app.users().set_password(&id, c.password.into()).await?;
        Ok(ok(StatusCode::OK, render(&u)))
    }
}

pub(crate) mod clients {
    use super::*;
    use crate::manage::{ClientUpdate, NewClient};

    pub(crate) fn render(c: &Client) -> Value {
        json!({
            "client_id": c.client_id, "tenant": c.tenant_id, "name": c.name,
            "public": c.is_public(), "redirect_uris": c.redirect_uris,
            "post_logout_redirect_uris": c.post_logout_redirect_uris,
            "backchannel_logout_uri": c.backchannel_logout_uri,
            "allowed_scopes": c.allowed_scopes.to_string(), "grant_types": c.grant_types,
            "token_endpoint_auth_method": c.token_endpoint_auth_method.as_str(),
            "audiences": c.audiences, "first_party": c.first_party, "active": c.active,
            "attributes": c.attributes, "created_at": c.created_at, "updated_at": c.updated_at,
        })
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Create {
        client_id: String,
        #[serde(default)]
        public: bool,
        name: Option<String>,
        #[serde(default)]
        redirect_uris: Vec<String>,
        #[serde(default)]
        post_logout_redirect_uris: Vec<String>,
        backchannel_logout_uri: Option<String>,
        #[serde(default)]
        allowed_scopes: Vec<String>,
        #[serde(default)]
        grant_types: Vec<String>,
        token_endpoint_auth_method: Option<String>,
        #[serde(default)]
        audiences: Vec<String>,
        #[serde(default)]
        first_party: bool,
        tenant: Option<String>,
        #[serde(default)]
        attributes: Map<String, Value>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Update {
        name: Option<String>,
        redirect_uris: Option<Vec<String>>,
        post_logout_redirect_uris: Option<Vec<String>>,
        allowed_scopes: Option<Vec<String>>,
        audiences: Option<Vec<String>>,
        first_party: Option<bool>,
        attributes: Option<Map<String, Value>>,
    }

    async fn visible(app: &AppState, who: &Admin, id: &str) -> Result<Client, ApiError> {
        match app.clients().get(id).await? {
            Some(c) if who.sees(c.tenant_id.as_deref()) => Ok(c),
            _ => Err(ApiError::not_found()),
        }
    }

    pub(crate) async fn list(
        app: AppState,
        who: Admin,
        q: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
    ) -> Result<Response, ApiError> {
        let Query(q) = q.map_err(|e| ApiError::invalid(e.body_text()))?;
        let tenant = who.confine(q.tenant.clone())?;
        let read = app
            .clients()
            .list_after(tenant.as_deref(), q.cursor.as_deref(), q.read())
            .await?;
        Ok(ok(
            StatusCode::OK,
            page_of(read, &q, |c| &c.client_id, render),
        ))
    }

    /// Registers a client; a confidential client's secret is generated and shown in this
    /// response only (`client_secret`).
    pub(crate) async fn create(
        app: AppState,
        who: Admin,
        body: Bytes,
    ) -> Result<Response, ApiError> {
        let c: Create = parse(&body)?;
        let tenant_id = who.confine(c.tenant)?;
        let clients = app
            .clients()
            .by(Actor::Admin(who.sub.clone()))
            .from_addr(who.addr);
        let created = clients
            .insert(NewClient {
                client_id: c.client_id,
                secret: None,
                public: c.public,
                name: c.name,
                redirect_uris: c.redirect_uris,
                post_logout_redirect_uris: c.post_logout_redirect_uris,
                backchannel_logout_uri: c.backchannel_logout_uri,
                allowed_scopes: c.allowed_scopes,
                grant_types: c.grant_types,
                token_endpoint_auth_method: c.token_endpoint_auth_method,
                audiences: c.audiences,
                first_party: c.first_party,
                tenant_id,
                attributes: c.attributes,
            })
            .await?;
        let mut out = render(&created.client);
        if let (Some(obj), Some(s)) = (out.as_object_mut(), &created.generated_secret) {
            obj.insert("client_secret".into(), json!(s.secret()));
        }
        Ok(ok(StatusCode::CREATED, out))
    }

    pub(crate) async fn get(
        app: AppState,
        who: Admin,
        Path(id): Path<String>,
    ) -> Result<Response, ApiError> {
        Ok(ok(StatusCode::OK, render(&visible(&app, &who, &id).await?)))
    }

    pub(crate) async fn update(
        app: AppState,
        who: Admin,
        Path(id): Path<String>,
        body: Bytes,
    ) -> Result<Response, ApiError> {
        visible(&app, &who, &id).await?;
        let c: Update = parse(&body)?;
        let updated = app
            .clients()
            .update(
                &id,
                ClientUpdate {
                    name: c.name,
                    redirect_uris: c.redirect_uris,
                    post_logout_redirect_uris: c.post_logout_redirect_uris,
                    allowed_scopes: c.allowed_scopes,
                    audiences: c.audiences,
                    first_party: c.first_party,
                    attributes: c.attributes,
                },
            )
            .await?;
        Ok(ok(StatusCode::OK, render(&updated)))
    }

    pub(crate) async fn delete(
        app: AppState,
        who: Admin,
        Path(id): Path<String>,
    ) -> Result<Response, ApiError> {
        visible(&app, &who, &id).await?;
        app.clients().delete(&id).await?;
        Ok(StatusCode::NO_CONTENT.into_response())
    }

    /// A new generated secret, shown in this response only; the old one stops working.
    pub(crate) async fn rotate_secret(
        app: AppState,
        who: Admin,
        Path(id): Path<String>,
    ) -> Result<Response, ApiError> {
        visible(&app, &who, &id).await?;
        let s = app.clients().rotate_secret(&id).await?;
        Ok(ok(
            StatusCode::OK,
            json!({"client_id": id, "client_secret": s.secret()}),
        ))
    }
}

pub(crate) mod tenants {
    use super::*;
    use crate::manage::{NewTenant, TenantUpdate};

    pub(crate) fn render(t: &Tenant) -> Value {
        json!({
            "id": t.id, "display_name": t.display_name, "logo_url": t.logo_url,
            "allowed_scopes": t.allowed_scopes.as_ref().map(ToString::to_string),
            "created_at": t.created_at, "updated_at": t.updated_at,
        })
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Create {
        id: String,
        display_name: Option<String>,
        logo_url: Option<String>,
        allowed_scopes: Option<Vec<String>>,
    }

    pub(crate) async fn list(
        app: AppState,
        who: Admin,
        q: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
    ) -> Result<Response, ApiError> {
        let Query(q) = q.map_err(|e| ApiError::invalid(e.body_text()))?;
        let all: Vec<Tenant> = app
            .tenants()
            .list()
            .await?
            .into_iter()
            .filter(|t| who.sees(Some(&t.id)))
            .collect();
        Ok(ok(StatusCode::OK, page(all, &q, |t| &t.id, render)))
    }

    pub(crate) async fn create(
        app: AppState,
        who: Admin,
        body: Bytes,
    ) -> Result<Response, ApiError> {
        if who.reach != Reach::All {
            return Err(ApiError::forbidden("only idp:admin registers tenants"));
        }
        let c: Create = parse(&body)?;
        let t = app
            .tenants()
            .insert(NewTenant {
                id: c.id,
                display_name: c.display_name,
                logo_url: c.logo_url,
                allowed_scopes: c.allowed_scopes,
            })
            .await?;
        Ok(ok(StatusCode::CREATED, render(&t)))
    }

    pub(crate) async fn get(
        app: AppState,
        who: Admin,
        Path(id): Path<String>,
    ) -> Result<Response, ApiError> {
        match app.tenants().get(&id).await? {
            Some(t) if who.sees(Some(&t.id)) => Ok(ok(StatusCode::OK, render(&t))),
            _ => Err(ApiError::not_found()),
        }
    }

    /// `{"display_name": ..., "logo_url": ..., "allowed_scopes": [...] | null}`: a field
    /// left out stays; `null` clears it (for `allowed_scopes`: no restriction). A tenant
    /// admin may change its tenant's look, not its scopes.
    pub(crate) async fn update(
        app: AppState,
        who: Admin,
        Path(id): Path<String>,
        body: Bytes,
    ) -> Result<Response, ApiError> {
        if !who.sees(Some(&id)) {
            return Err(ApiError::not_found());
        }
        let v: Map<String, Value> = parse(&body)?;
        let mut update = TenantUpdate::default();
        for (k, val) in v {
            let text = |val: &Value| match val {
                Value::Null => Ok(String::new()),
                Value::String(s) => Ok(s.clone()),
                _ => Err(ApiError::invalid(format!("{k} must be a string or null"))),
            };
            match k.as_str() {
                "display_name" => update.display_name = Some(text(&val)?),
                "logo_url" => update.logo_url = Some(text(&val)?),
                "allowed_scopes" => {
                    if who.reach != Reach::All {
                        return Err(ApiError::forbidden(
                            "only idp:admin changes a tenant's scopes",
                        ));
                    }
                    update.allowed_scopes = Some(match val {
                        Value::Null => None,
                        other => Some(serde_json::from_value(other).map_err(|_| {
                            ApiError::invalid("allowed_scopes must be a list of strings or null")
                        })?),
                    });
                }
                other => {
                    return Err(ApiError::invalid(format!(
                        "unknown field {:?}",
                        crate::error::loggable(other)
                    )));
                }
            }
        }
        let t = app.tenants().update(&id, update).await?;
        Ok(ok(StatusCode::OK, render(&t)))
    }
}
