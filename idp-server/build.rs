//! Rebuild when a migration is added (sqlx::migrate! only tracks files it already embeds),
//! and tell the tests which outside services they may use: a test that needs one the
//! environment does not name is compiled `#[ignore = "needs IDP_TEST_…"]`, so that
//! `cargo test` lists it as ignored instead of passing it silently.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
    for (var, cfg) in [
        ("IDP_TEST_POSTGRES_URL", "idp_test_postgres"),
        ("IDP_TEST_REDIS_URL", "idp_test_redis"),
        ("IDP_TEST_CHROMEDRIVER", "idp_test_chromium"),
    ] {
        println!("cargo::rustc-check-cfg=cfg({cfg})");
        println!("cargo:rerun-if-env-changed={var}");
        if std::env::var(var).is_ok_and(|v| !v.is_empty()) {
            println!("cargo:rustc-cfg={cfg}");
        }
    }
}
