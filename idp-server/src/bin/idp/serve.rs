//! `idp serve`: run the provider, with the `--dev` fixtures and a maintenance task.

use std::net::SocketAddr;
use std::time::Duration;

use idp_server::manage::{NewClient, NewUser};
use idp_server::{Config, Error, Provider};

use crate::cli::{Global, ServeArgs};
use crate::commands::insert_client;
use crate::{build_provider, dev_outbox};

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

pub(crate) async fn serve(global: &Global, file: Config, args: &ServeArgs) -> Result<(), Error> {
    let issuer = args.issuer.clone().or_else(|| {
        args.dev
            .then(|| file.issuer().unwrap_or(DEV_ISSUER).to_owned())
    });
    let listen = args
        .listen
        .or(file.listen())
        .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 4000)));
    let outbox = if args.dev {
        dev_outbox(global, &file)
    } else {
        None
    };
    let provider = build_provider(global, file, issuer, args.dev).await?;
    if args.dev {
        ensure_dev_fixtures(&provider).await?;
    }
    let listener = tokio::net::TcpListener::bind(listen).await?;
    let local = listener.local_addr()?;
    println!("idp listening on http://{local}");
    println!("issuer: {}", provider.issuer());
    println!(
        "discovery: {}/.well-known/openid-configuration",
        provider.issuer()
    );
    if args.dev {
        println!("dev user: {DEV_USER} / {DEV_PASSWORD}");
        println!("dev client: {DEV_CLIENT} / {DEV_SECRET} (redirect {DEV_REDIRECT})");
        println!(
            "dev native client: {DEV_NATIVE_CLIENT} (public, PKCE, redirect http://127.0.0.1:ANY-PORT/callback)"
        );
        println!(
            "dev service client: {DEV_SERVICE} / {DEV_SERVICE_SECRET} (client_credentials, audience orders-api)"
        );
        println!(
            "dev CORS: browser apps on http://localhost:ANY-PORT and http://127.0.0.1:ANY-PORT may call the token, userinfo and revocation endpoints"
        );
        println!(
            "dev device client: {DEV_DEVICE_CLIENT} (public, device authorization grant, {}/device)",
            provider.issuer()
        );
        match &outbox {
            Some(dir) => println!(
                "dev mail: messages are written to {} (and named in the log)",
                std::path::absolute(dir)
                    .unwrap_or_else(|_| dir.clone())
                    .display()
            ),
            None => println!("dev mail: sent through [smtp] of the configuration file"),
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
    provider.serve(listener, shutdown_signal()).await
}
