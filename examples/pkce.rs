//! Prints a PKCE verifier's S256 challenge (RFC 7636), as a client would put it in an
//! authorization request.
//!
//! Run with `cargo run --example pkce`.

use idp_core::CodeVerifier;

fn main() {
    let verifier = CodeVerifier::generate();
    println!("code_challenge={}", verifier.challenge().as_str());
    println!("code_challenge_method=S256");
    println!(
        "(the verifier stays with the client; it is {} characters long)",
        verifier.secret().len()
    );
}
