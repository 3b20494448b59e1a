//! Runnable examples for idp; see the `[[example]]` entries (`cargo run --example NAME`).
