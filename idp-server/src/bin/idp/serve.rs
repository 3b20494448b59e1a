//! `idp serve`: run the provider, with the `--dev` fixtures and a maintenance task.

use std::time::Duration;

use idp_server::manage::{NewClient, NewUser};
use idp_server::{Config, Error, Provider};

use crate::cli::{Global, ServeArgs};
use crate::commands::insert_client;
use crate::db::{self, Need};
use crate::{Failure, say};

pub(crate) const DEV_ISSUER: &str = "http://localhost:4000";
pub(crate) const DEV_USER: &str = "dev@example.com";
pub(crate) const DEV_PASSWORD: &str = "dev-password-123";
pub(crate) const DEV_CLIENT: &str = "test-app";
pub(crate) const DEV_SECRET: &str = "test-secret";
pub(crate) const DEV_REDIRECT: &str = "http://localhost:3000/callback";
pub(crate) const DEV_NATIVE_CLIENT: &str = "test-cli";
pub(crate) const DEV_SERVICE: &str = "test-service";
pub(crate) const DEV_SERVICE_SECRET: &str = "test-service-secret";
pub(crate) const DEV_DEVICE_CLIENT: &str = "dev-device";

async fn ensure_dev_fixtures(p: &Provider) -> Result<(), Error> {
    if p.users().find_by_email(None, DEV_USER).await?.is_none() {
        p.users()
            .insert(NewUser {
                email: DEV_USER.into(),
                password: Some(DEV_PASSWORD.into()),
                name: Some("Dev User".into()),
                given_name: Some("Dev".into()),
                family_name: Some("User".into()),
                email_verified: true,
                ..Default::default()
            })
            .await?;
    }
    if p.clients().get(DEV_CLIENT).await?.is_none() {
        p.clients()
            .insert(NewClient {
                client_id: DEV_CLIENT.into(),
                secret: Some(DEV_SECRET.into()),
                name: Some("Test App".into()),
                redirect_uris: vec![DEV_REDIRECT.into()],
                post_logout_redirect_uris: vec!["http://localhost:3000/".into()],
                allowed_scopes: ["openid", "profile", "email", "offline_access"]
                    .map(String::from)
                    .to_vec(),
                grant_types: vec!["authorization_code".into(), "refresh_token".into()],
                first_party: true,
                ..Default::default()
            })
            .await?;
    }
    if p.clients().get(DEV_NATIVE_CLIENT).await?.is_none() {
        p.clients()
            .insert(NewClient {
                client_id: DEV_NATIVE_CLIENT.into(),
                public: true,
                name: Some("Test CLI (native app, PKCE)".into()),
                redirect_uris: vec!["http://127.0.0.1/callback".into()],
                allowed_scopes: ["openid", "profile", "email", "offline_access"]
                    .map(String::from)
                    .to_vec(),
                grant_types: vec!["authorization_code".into(), "refresh_token".into()],
                first_party: true,
                ..Default::default()
            })
            .await?;
    }
    if p.clients().get(DEV_SERVICE).await?.is_none() {
        p.clients()
            .insert(NewClient {
                client_id: DEV_SERVICE.into(),
                secret: Some(DEV_SERVICE_SECRET.into()),
                name: Some("Test service (client_credentials)".into()),
                allowed_scopes: vec!["read:orders".into(), "write:orders".into()],
                grant_types: vec!["client_credentials".into()],
                audiences: vec!["orders-api".into()],
                ..Default::default()
            })
            .await?;
    }
    if p.clients().get(DEV_DEVICE_CLIENT).await?.is_none() {
        insert_client(
            p,
            NewClient {
                client_id: DEV_DEVICE_CLIENT.into(),
                public: true,
                name: Some("Dev device (device authorization grant)".into()),
                allowed_scopes: ["openid", "profile", "offline_access"]
                    .map(String::from)
                    .to_vec(),
                grant_types: vec!["device_code".into(), "refresh_token".into()],
                first_party: true,
                ..Default::default()
            },
        )
        .await?;
    }
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down");
}

/// Binds `listen` (`HOST:PORT`, the host resolved); the error names the address.
async fn bind(listen: &str) -> Result<tokio::net::TcpListener, Failure> {
    bind_for(listen, "choose another with --listen").await
}

/// Binds `listen`; an address in use is answered with `choose`.
async fn bind_for(listen: &str, choose: &str) -> Result<tokio::net::TcpListener, Failure> {
    tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::AddrInUse => Failure::msg(format!(
                "cannot listen on {listen}: the address is already in use (another idp or \
                 another program listens there); {choose}"
            )),
            _ => Failure::msg(format!("cannot listen on {listen}: {e}")),
        })
}

/// Reloads the TLS certificate on every SIGHUP, for as long as the server runs.
fn reload_tls_on_sighup(provider: &Provider) {
    #[cfg(unix)]
    {
        let provider = provider.clone();
        let hangups = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup());
        match hangups {
            Ok(mut hangups) => {
                tokio::spawn(async move {
                    while hangups.recv().await.is_some() {
                        match provider.reload_tls() {
                            Ok(true) => tracing::info!("SIGHUP: TLS certificate reloaded"),
                            Ok(false) => {
                                tracing::info!("SIGHUP: no TLS configured; nothing to reload")
                            }
                            Err(e) => {
                                tracing::error!(error = %e, "SIGHUP: the TLS certificate did not load; still serving the previous one")
                            }
                        }
                    }
                });
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGHUP; the certificate reloads only when its files change")
            }
        }
    }
    #[cfg(not(unix))]
    let _ = provider;
}

/// What `idp serve` prints when it listens, for people.
fn banner_lines(local: &str, issuer: &str, dev: bool) -> Vec<String> {
    let mut banner = vec![
        format!("idp listening on {local}"),
        format!("issuer: {issuer}"),
        format!("discovery: {issuer}/.well-known/openid-configuration"),
    ];
    if dev {
        banner.extend([
            format!("dev user: {DEV_USER} / {DEV_PASSWORD}"),
            format!("dev client: {DEV_CLIENT} / {DEV_SECRET} (redirect {DEV_REDIRECT})"),
            format!(
                "dev native client: {DEV_NATIVE_CLIENT} (public, PKCE, redirect http://127.0.0.1:ANY-PORT/callback)"
            ),
            format!(
                "dev service client: {DEV_SERVICE} / {DEV_SERVICE_SECRET} (client_credentials, audience orders-api)"
            ),
            "dev CORS: browser apps on http://localhost:ANY-PORT and http://127.0.0.1:ANY-PORT may call the token, userinfo and revocation endpoints".to_owned(),
            format!(
                "dev device client: {DEV_DEVICE_CLIENT} (public, device authorization grant, {issuer}/device)"
            ),
        ]);
    }
    banner
}

pub(crate) async fn serve(global: &Global, file: Config, args: &ServeArgs) -> Result<(), Failure> {
    let issuer = args.issuer.clone().or_else(|| {
        args.dev
            .then(|| file.issuer().unwrap_or(DEV_ISSUER).to_owned())
    });
    let listen = args
        .listen
        .clone()
        .or_else(|| file.listen().map(str::to_owned))
        .unwrap_or_else(|| "127.0.0.1:4000".to_owned());
    let tls = file.tls_files().is_some();
    let redirect_listen = file.http_redirect_listen().map(str::to_owned);
    let metrics_listen = file.metrics_listen().map(str::to_owned);
    let (provider, opened) = db::open(global, file, issuer, Need::Serve { dev: args.dev }).await?;
    if args.dev {
        ensure_dev_fixtures(&provider).await?;
    }
    let listener = bind(&listen).await?;
    let scheme = if tls { "https" } else { "http" };
    let local = format!("{scheme}://{}", listener.local_addr().map_err(Error::from)?);
    let redirect = match redirect_listen {
        Some(addr) => Some(bind_for(&addr, "change http_redirect_listen").await?),
        None => None,
    };
    let metrics = match metrics_listen {
        Some(addr) => Some(bind_for(&addr, "change metrics_listen").await?),
        None => None,
    };
    let issuer = provider.issuer();
    let banner = if global.json {
        let mut v = serde_json::json!({
            "listening": local,
            "issuer": issuer,
            "discovery": format!("{issuer}/.well-known/openid-configuration"),
        });
        if args.dev {
            v["dev"] = serde_json::json!({
                "user": {"email": DEV_USER, "password": DEV_PASSWORD},
                "client": {"client_id": DEV_CLIENT, "client_secret": DEV_SECRET, "redirect_uri": DEV_REDIRECT},
                "native_client": {"client_id": DEV_NATIVE_CLIENT},
                "service_client": {"client_id": DEV_SERVICE, "client_secret": DEV_SERVICE_SECRET},
                "device_client": {"client_id": DEV_DEVICE_CLIENT},
            });
        }
        vec![v.to_string()]
    } else {
        let mut lines = banner_lines(&local, issuer, args.dev);
        if let Some(l) = &redirect
            && let Ok(a) = l.local_addr()
        {
            lines.push(format!("redirecting http://{a} to {issuer}"));
        }
        if let Some(l) = &metrics
            && let Ok(a) = l.local_addr()
        {
            lines.push(format!("metrics: http://{a}/metrics"));
        }
        if args.dev {
            lines.push(match &opened.outbox {
                Some(dir) => format!(
                    "dev mail: messages are written to {} (and named in the log)",
                    std::path::absolute(dir)
                        .unwrap_or_else(|_| dir.clone())
                        .display()
                ),
                None => "dev mail: sent through [smtp] of the configuration file".to_owned(),
            });
        }
        lines
    };
    // The server keeps running when nobody reads its standard output any more.
    for line in banner {
        if say(&line).is_err() {
            break;
        }
    }
    let maint = provider.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(60));
        tick.tick().await;
        loop {
            tick.tick().await;
            if let Err(e) = maint.maintenance().await {
                tracing::warn!(error = %e, "maintenance failed");
            }
        }
    });
    reload_tls_on_sighup(&provider);
    // One shutdown signal for every listener.
    let (stop, stopping) = tokio::sync::watch::channel(false);
    let stopped = move || {
        let mut stopping = stopping.clone();
        async move {
            let _ = stopping.wait_for(|s| *s).await;
        }
    };
    let mut side = tokio::task::JoinSet::new();
    if let Some(l) = redirect {
        side.spawn(provider.serve_redirects(l, stopped()));
    }
    if let Some(l) = metrics {
        side.spawn(provider.serve_metrics(l, stopped()));
    }
    let main = tokio::spawn(provider.serve(listener, stopped()));
    shutdown_signal().await;
    stop.send_replace(true);
    while let Some(done) = side.join_next().await {
        if let Ok(Err(e)) = done {
            tracing::warn!(error = %e, "a side listener ended with an error");
        }
    }
    match main.await {
        Ok(result) => Ok(result?),
        Err(e) => Err(Failure::msg(format!("the server task failed: {e}"))),
    }
}
