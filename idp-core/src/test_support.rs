//! Test instrumentation: a per-thread count of JOSE header decodes, which the workspace's
//! tests read to prove a token's header is decoded once per request. Not part of the API
//! (hidden from the docs). Always compiled — one thread-local increment per decode — so
//! that the tests build on the same idp-core as `cargo run` (a feature switched on only by
//! dev-dependencies would rebuild idp-core and everything above it for `cargo test`).

use std::cell::Cell;

thread_local! {
    static HEADER_DECODES: Cell<u64> = const { Cell::new(0) };
}

/// Counts one JOSE header decode on this thread.
pub(crate) fn record_header_decode() {
    HEADER_DECODES.with(|c| c.set(c.get().saturating_add(1)));
}

/// How many JOSE headers this thread has decoded so far (every attempt counts, including
/// those that fail). Per thread, so that tests running in parallel do not disturb each
/// other: run the code under test on the test's thread (e.g. a current-thread runtime).
pub fn header_decodes() -> u64 {
    HEADER_DECODES.with(Cell::get)
}
