//! Integration tests of idp-server: one binary, one module per area. Each test starts the
//! real server on 127.0.0.1:0 and talks HTTP to it.
#![allow(clippy::unwrap_used, clippy::expect_used, unreachable_pub, dead_code)]

mod abuse;
mod account;
mod admin;
mod attributes;
mod browser;
mod chromium;
mod cli;
mod client_credentials;
mod common;
mod connections;
mod cors;
mod device;
mod discovery;
mod flows;
mod grants;
mod hardening;
mod hooks;
mod hostile;
mod keys;
mod mail;
mod manage;
mod metrics;
mod mount;
mod native;
mod pages;
mod replicas;
mod self_service;
mod storage;
mod storage_two_factor;
mod tenants;
mod tls;
mod tokeninfo;
mod two_factor;
mod web_security;
