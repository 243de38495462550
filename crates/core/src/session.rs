//! Browser sessions: the cookie value, and CSRF tokens tied to the session by HMAC under a
//! server key, so they need no storage of their own.

use crate::secret::Secret;
use crate::token::TokenHash;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use rand::rngs::OsRng;
use rand::RngCore;
use sha2::Sha256;
use subtle::ConstantTimeEq;

pub const COOKIE_NAME: &str = "mailgrant_session";

/// A fresh random session value for the cookie (256 bits); store only `TokenHash::of` it.
pub fn new_session_value() -> Secret {
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    Secret::new(URL_SAFE_NO_PAD.encode(bytes))
}

/// The CSRF token of a session: HMAC(key, "csrf" ‖ session hash).
pub fn csrf_token(key: &[u8], session: &TokenHash) -> String {
    let mut mac = match Hmac::<Sha256>::new_from_slice(key) {
        Ok(m) => m,
        Err(_) => return String::new(),
    };
    mac.update(b"csrf");
    mac.update(session.digest());
    URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
}

/// Does `presented` belong to this session? Constant time; an empty token never matches.
pub fn csrf_matches(key: &[u8], session: &TokenHash, presented: &str) -> bool {
    let expected = csrf_token(key, session);
    !expected.is_empty() && bool::from(expected.as_bytes().ct_eq(presented.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csrf_is_tied_to_session_and_key() {
        let s1 = TokenHash::of("one");
        let s2 = TokenHash::of("two");
        let t = csrf_token(b"k", &s1);
        assert!(csrf_matches(b"k", &s1, &t));
        assert!(!csrf_matches(b"k", &s2, &t));
        assert!(!csrf_matches(b"other", &s1, &t));
        assert!(!csrf_matches(b"k", &s1, ""));
        assert_ne!(new_session_value().expose(), new_session_value().expose());
    }
}
