//! PKCE (RFC 7636), S256 only: `plain` gives no protection against a leaked code.

use crate::error::OAuthError;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

/// Validate the challenge and method of an authorization request.
pub fn check_challenge(challenge: &str, method: Option<&str>) -> Result<(), OAuthError> {
    match method.unwrap_or("plain") {
        "S256" => {}
        "plain" => {
            return Err(OAuthError::invalid_request(
                "code_challenge_method must be S256; plain is not accepted",
            ))
        }
        _ => {
            return Err(OAuthError::invalid_request(
                "unsupported code_challenge_method",
            ))
        }
    }
    // A base64url SHA-256 is 43 characters.
    if challenge.len() != 43 || !challenge.bytes().all(is_unreserved) {
        return Err(OAuthError::invalid_request(
            "code_challenge is not a valid S256 challenge",
        ));
    }
    Ok(())
}

/// Does the verifier hash to the challenge? (RFC 7636 §4.6)
pub fn verify(verifier: &str, challenge: &str) -> Result<(), OAuthError> {
    if !(43..=128).contains(&verifier.len()) || !verifier.bytes().all(is_unreserved) {
        return Err(OAuthError::invalid_grant("code_verifier is malformed"));
    }
    let computed = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    if computed.as_bytes().ct_eq(challenge.as_bytes()).into() {
        Ok(())
    } else {
        Err(OAuthError::invalid_grant(
            "code_verifier does not match the code_challenge",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The example of RFC 7636 Appendix B.
    const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    #[test]
    fn rfc_example_verifies() {
        assert!(check_challenge(CHALLENGE, Some("S256")).is_ok());
        assert!(verify(VERIFIER, CHALLENGE).is_ok());
    }

    #[test]
    fn wrong_verifier_and_plain_are_refused() {
        assert!(verify("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXX", CHALLENGE).is_err());
        assert!(check_challenge(CHALLENGE, Some("plain")).is_err());
        assert!(check_challenge(CHALLENGE, None).is_err());
        assert!(check_challenge("short", Some("S256")).is_err());
    }
}
