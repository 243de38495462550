//! Token strings: `<prefix>_<43 base62 body chars><6 base62 chars of CRC32>`.
//!
//! The body is 8 characters of issue time (milliseconds, base62, fixed width) and then 35
//! random characters (208 bits) from the thread's CSPRNG (`rand::thread_rng`: ChaCha12, seeded and
//! reseeded from the operating system). The checksum covers prefix and body, so a mistyped or
//! truncated token is refused without a database look-up, and a secret scanner can recognise a
//! leaked one offline.
//!
//! Only a [`TokenHash`] is ever stored: the issue time followed by the SHA-256 of the whole token.
//! With 208 random bits a key adds nothing against guessing, and an unkeyed hash lets every node
//! and the CLI agree. The time in front is not secret (JWTs carry `iat` too); it is there so
//! that stored keys grow in time order: a new token lands at the right edge of every index that
//! holds it instead of on a random page, which is what lets a group commit of 32 tokens write a
//! handful of pages rather than 32 (see the README, "Benchmark").

use crate::secret::Secret;
use rand::RngCore;
use sha2::{Digest, Sha256};
use std::fmt;
use subtle::ConstantTimeEq;

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
pub const BODY_LEN: usize = 43;
pub const CHECKSUM_LEN: usize = 6;
/// Body characters that carry the issue time: 62^8 ms is about 6,900 years.
const ORDER_LEN: usize = 8;
const PREFIX_LEN: usize = 4;

/// When a token was issued, in milliseconds since the Unix epoch: the leading part of its body
/// and of its [`TokenHash`]. A storage-locality hint only; no decision reads it (policy takes
/// `now` as a parameter).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct IssueOrder(u64);

impl IssueOrder {
    /// Largest value the 6 bytes in a hash can hold.
    const MAX: u64 = (1 << 48) - 1;

    pub fn now() -> Self {
        let ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        Self::from_millis(ms)
    }

    pub fn from_millis(ms: u64) -> Self {
        Self(ms.min(Self::MAX))
    }

    pub fn millis(self) -> u64 {
        self.0
    }

    /// The order a presented token claims, read from its first body characters; 0 for strings
    /// that are not shaped like a token (session ids, test values).
    fn of_token(token: &str) -> Self {
        let Some(chars) = token.as_bytes().get(PREFIX_LEN..PREFIX_LEN + ORDER_LEN) else {
            return Self(0);
        };
        if token.as_bytes().get(PREFIX_LEN - 1) != Some(&b'_') {
            return Self(0);
        }
        let mut value: u64 = 0;
        for &c in chars {
            let Some(digit) = base62_digit(c) else {
                return Self(0);
            };
            value = value * 62 + digit;
        }
        Self::from_millis(value)
    }

    pub(crate) fn encode(self, out: &mut String) {
        out.extend(fixed_base62::<ORDER_LEN>(self.0).map(char::from));
    }
}

/// `value` as exactly `N` base62 digits, most significant first (higher digits dropped).
fn fixed_base62<const N: usize>(mut value: u64) -> [u8; N] {
    let mut chars = [b'0'; N];
    for slot in chars.iter_mut().rev() {
        *slot = BASE62[(value % 62) as usize];
        value /= 62;
    }
    chars
}

/// The value of one base62 character (the inverse of `BASE62`).
fn base62_digit(c: u8) -> Option<u64> {
    match c {
        b'0'..=b'9' => Some(u64::from(c - b'0')),
        b'A'..=b'Z' => Some(u64::from(c - b'A') + 10),
        b'a'..=b'z' => Some(u64::from(c - b'a') + 36),
        _ => None,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TokenKind {
    Access,
    Refresh,
    PrivateApp,
    ClientSecret,
    Code,
    /// Initial access token for dynamic client registration (RFC 7591).
    Registration,
}

impl TokenKind {
    pub const ALL: [TokenKind; 6] = [
        TokenKind::Access,
        TokenKind::Refresh,
        TokenKind::PrivateApp,
        TokenKind::ClientSecret,
        TokenKind::Code,
        TokenKind::Registration,
    ];

    pub fn prefix(self) -> &'static str {
        match self {
            TokenKind::Access => "mga",
            TokenKind::Refresh => "mgr",
            TokenKind::PrivateApp => "mgp",
            TokenKind::ClientSecret => "mgs",
            TokenKind::Code => "mgc",
            TokenKind::Registration => "mgi",
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            TokenKind::Access => "access",
            TokenKind::Refresh => "refresh",
            TokenKind::PrivateApp => "private_app",
            TokenKind::ClientSecret => "client_secret",
            TokenKind::Code => "code",
            TokenKind::Registration => "registration",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    fn from_prefix(prefix: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.prefix() == prefix)
    }

    pub const fn token_len() -> usize {
        3 + 1 + BODY_LEN + CHECKSUM_LEN
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenFormatError {
    #[error("the token has the wrong length")]
    Length,
    #[error("the token has an unknown prefix")]
    Prefix,
    #[error("the token has characters outside base62")]
    Alphabet,
    #[error("the token's checksum does not match")]
    Checksum,
    #[error("the token is of another kind")]
    WrongKind,
}

/// Generate a fresh token of `kind`: the issue time, then randomness from the thread's CSPRNG.
/// Not `OsRng`: that is one `getrandom` system call per token (~0.5 µs here, 3 % of a token
/// request's CPU), where `thread_rng` calls the kernel once per 64 KiB it hands out (its
/// reseeding). `rand` documents both as cryptographically secure.
pub fn generate(kind: TokenKind) -> Secret {
    let mut out = String::with_capacity(TokenKind::token_len());
    out.push_str(kind.prefix());
    out.push('_');
    IssueOrder::now().encode(&mut out);
    let mut buf = [0u8; 64];
    let mut filled = ORDER_LEN;
    let mut rng = rand::thread_rng();
    while filled < BODY_LEN {
        rng.fill_bytes(&mut buf);
        for b in buf {
            // 248 = 4 * 62: rejecting the top values keeps every character equally likely.
            if b < 248 && filled < BODY_LEN {
                out.push(BASE62[(b % 62) as usize] as char);
                filled += 1;
            }
        }
    }
    let crc = crc32fast::hash(out.as_bytes());
    out.push_str(&encode_checksum(crc));
    Secret::new(out)
}

fn encode_checksum(crc: u32) -> String {
    fixed_base62::<CHECKSUM_LEN>(u64::from(crc))
        .map(char::from)
        .iter()
        .collect()
}

/// Check a presented token's shape and checksum; says which kind it is. No database involved.
pub fn parse(token: &str) -> Result<TokenKind, TokenFormatError> {
    if token.len() != TokenKind::token_len() {
        return Err(TokenFormatError::Length);
    }
    let (prefix, rest) = token.split_at(3);
    let kind = TokenKind::from_prefix(prefix).ok_or(TokenFormatError::Prefix)?;
    if !rest.starts_with('_') {
        return Err(TokenFormatError::Prefix);
    }
    let body = &rest[1..];
    if !body.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(TokenFormatError::Alphabet);
    }
    let (signed, checksum) = token.split_at(token.len() - CHECKSUM_LEN);
    let expected = encode_checksum(crc32fast::hash(signed.as_bytes()));
    if expected.as_bytes().ct_eq(checksum.as_bytes()).into() {
        Ok(kind)
    } else {
        Err(TokenFormatError::Checksum)
    }
}

/// Parse and require a given kind.
pub fn parse_kind(token: &str, kind: TokenKind) -> Result<(), TokenFormatError> {
    if parse(token)? == kind {
        Ok(())
    } else {
        Err(TokenFormatError::WrongKind)
    }
}

/// What storage keeps and looks up by: the token's [`IssueOrder`] (6 bytes, big-endian) and the
/// SHA-256 of the whole token. As hex (76 characters) it sorts by issue time.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct TokenHash {
    order: [u8; 6],
    digest: [u8; 32],
}

impl TokenHash {
    const HEX_LEN: usize = 2 * (6 + 32);

    pub fn of(token: &str) -> Self {
        let order = IssueOrder::of_token(token).0.to_be_bytes();
        let mut head = [0u8; 6];
        head.copy_from_slice(&order[2..]);
        Self {
            order: head,
            digest: Sha256::digest(token.as_bytes()).into(),
        }
    }
    /// The SHA-256 part alone.
    pub fn digest(&self) -> &[u8; 32] {
        &self.digest
    }
    pub fn order(&self) -> IssueOrder {
        let mut bytes = [0u8; 8];
        bytes[2..].copy_from_slice(&self.order);
        IssueOrder(u64::from_be_bytes(bytes))
    }
    pub fn to_hex(&self) -> String {
        // Into a fixed buffer first: pushing chars onto a String cost 1.1k instructions a hash
        // (callgrind), and a request formats three to five.
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut hex = [0u8; Self::HEX_LEN];
        for (pair, b) in hex
            .chunks_exact_mut(2)
            .zip(self.order.iter().chain(self.digest.iter()))
        {
            pair[0] = DIGITS[usize::from(b >> 4)];
            pair[1] = DIGITS[usize::from(b & 15)];
        }
        String::from_utf8(hex.to_vec()).unwrap_or_default()
    }
    pub fn from_hex(s: &str) -> Option<Self> {
        if s.len() != Self::HEX_LEN {
            return None;
        }
        let mut out = [0u8; 38];
        for (i, chunk) in s.as_bytes().chunks(2).enumerate() {
            let hi = (chunk[0] as char).to_digit(16)?;
            let lo = (chunk[1] as char).to_digit(16)?;
            out[i] = (hi * 16 + lo) as u8;
        }
        let mut order = [0u8; 6];
        let mut digest = [0u8; 32];
        order.copy_from_slice(&out[..6]);
        digest.copy_from_slice(&out[6..]);
        Some(Self { order, digest })
    }
    /// Constant-time comparison, for checking a presented secret against a stored hash.
    pub fn ct_eq(&self, other: &TokenHash) -> bool {
        (self.order.ct_eq(&other.order) & self.digest.ct_eq(&other.digest)).into()
    }
}

impl fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // A hash is not a secret, but a short form keeps logs readable.
        write!(f, "TokenHash({}…)", &self.to_hex()[12..20])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_tokens_have_prefix_length_and_valid_checksum() {
        for kind in TokenKind::ALL {
            let t = generate(kind);
            let s = t.expose();
            assert!(s.starts_with(&format!("{}_", kind.prefix())));
            assert_eq!(s.len(), 53);
            assert_eq!(parse(s), Ok(kind));
        }
    }

    #[test]
    fn tokens_are_unique() {
        let a = generate(TokenKind::Access);
        let b = generate(TokenKind::Access);
        assert_ne!(a.expose(), b.expose());
    }

    #[test]
    fn a_changed_character_breaks_the_checksum() {
        let t = generate(TokenKind::Access).expose().to_string();
        let mut bytes = t.into_bytes();
        bytes[10] = if bytes[10] == b'a' { b'b' } else { b'a' };
        let mutated = String::from_utf8(bytes).unwrap_or_default();
        assert_eq!(parse(&mutated), Err(TokenFormatError::Checksum));
    }

    #[test]
    fn malformed_tokens_are_refused() {
        assert_eq!(parse("mga_short"), Err(TokenFormatError::Length));
        let t = generate(TokenKind::Access)
            .expose()
            .replacen("mga", "xyz", 1);
        assert_eq!(parse(&t), Err(TokenFormatError::Prefix));
        let t = generate(TokenKind::Access).expose().replacen('_', "-", 1);
        assert_eq!(parse(&t), Err(TokenFormatError::Prefix));
        let mut t = generate(TokenKind::Access).expose().to_string();
        t.replace_range(8..9, "!");
        assert_eq!(parse(&t), Err(TokenFormatError::Alphabet));
    }

    #[test]
    fn checksum_is_pinned() {
        // A fixed body pins the format: change it and every issued token becomes invalid.
        let body = "mga_0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefg";
        let token = format!(
            "{body}{}",
            encode_checksum(crc32fast::hash(body.as_bytes()))
        );
        assert_eq!(parse(&token), Ok(TokenKind::Access));
        assert_eq!(token.len(), 53);
        assert_eq!(
            parse_kind(&token, TokenKind::Refresh),
            Err(TokenFormatError::WrongKind)
        );
    }

    #[test]
    fn hash_round_trips_through_hex() {
        let h = TokenHash::of("mga_x");
        assert_eq!(TokenHash::from_hex(&h.to_hex()), Some(h));
        assert!(h.ct_eq(&TokenHash::of("mga_x")));
        assert!(!h.ct_eq(&TokenHash::of("mga_y")));
        let t = generate(TokenKind::Access);
        let h = TokenHash::of(t.expose());
        assert_eq!(h.to_hex().len(), 76);
        assert_eq!(TokenHash::from_hex(&h.to_hex()), Some(h));
        assert_eq!(TokenHash::from_hex(&h.to_hex()[..64]), None);
    }

    #[test]
    fn base62_digits_invert_the_alphabet() {
        for (i, &c) in BASE62.iter().enumerate() {
            assert_eq!(base62_digit(c), Some(i as u64));
        }
        assert_eq!(base62_digit(b'_'), None);
    }

    #[test]
    fn tokens_and_their_hashes_sort_by_issue_time() {
        let before = IssueOrder::now();
        let t = generate(TokenKind::Access);
        let after = IssueOrder::now();
        let order = TokenHash::of(t.expose()).order();
        assert!(before <= order && order <= after, "{order:?}");
        let mut hashes: Vec<String> = [5_u64, 1_000, 1_000_000, 1_764_000_000_000]
            .into_iter()
            .map(|ms| {
                let v = derive(TokenKind::Access, b"k", "in", IssueOrder::from_millis(ms));
                TokenHash::of(v.expose()).to_hex()
            })
            .collect();
        let issued = hashes.clone();
        hashes.sort();
        assert_eq!(hashes, issued);
        // A string not shaped like a token sorts first, and still hashes.
        assert_eq!(
            TokenHash::of("session-value").order(),
            IssueOrder::from_millis(0)
        );
    }
}

/// A token of `kind` issued at `order`, derived from `input` under `key` (HMAC-SHA256 in counter
/// mode, mapped to base62 by rejection sampling, then checksummed). The same key, input and
/// order always give the same token, so a value need never be stored to be given again (the
/// order can be read back from the stored hash); without the key, the output says nothing about
/// the input.
pub fn derive(kind: TokenKind, key: &[u8], input: &str, order: IssueOrder) -> Secret {
    use hmac::{Hmac, Mac};
    let mut out = String::with_capacity(TokenKind::token_len());
    out.push_str(kind.prefix());
    out.push('_');
    order.encode(&mut out);
    let mut filled = ORDER_LEN;
    let mut counter: u32 = 0;
    while filled < BODY_LEN {
        let mut mac = match Hmac::<Sha256>::new_from_slice(key) {
            Ok(m) => m,
            // HMAC takes keys of any length; this branch cannot be reached.
            Err(_) => return generate(kind),
        };
        mac.update(kind.prefix().as_bytes());
        mac.update(&counter.to_be_bytes());
        mac.update(&order.0.to_be_bytes());
        mac.update(input.as_bytes());
        for b in mac.finalize().into_bytes() {
            if b < 248 && filled < BODY_LEN {
                out.push(BASE62[(b % 62) as usize] as char);
                filled += 1;
            }
        }
        counter += 1;
    }
    let crc = crc32fast::hash(out.as_bytes());
    out.push_str(&encode_checksum(crc));
    Secret::new(out)
}

#[cfg(test)]
mod derive_tests {
    use super::*;

    #[test]
    fn derivation_is_deterministic_keyed_and_well_formed() {
        let at = IssueOrder::from_millis(1_764_000_000_000);
        let a = derive(TokenKind::Refresh, b"key-1", "mgr_old", at);
        assert_eq!(parse(a.expose()), Ok(TokenKind::Refresh));
        assert_eq!(TokenHash::of(a.expose()).order(), at);
        assert_eq!(
            a.expose(),
            derive(TokenKind::Refresh, b"key-1", "mgr_old", at).expose()
        );
        assert_ne!(
            a.expose(),
            derive(TokenKind::Refresh, b"key-2", "mgr_old", at).expose()
        );
        assert_ne!(
            a.expose(),
            derive(TokenKind::Refresh, b"key-1", "mgr_other", at).expose()
        );
        let later = IssueOrder::from_millis(at.millis() + 1);
        assert_ne!(
            a.expose()[12..],
            derive(TokenKind::Refresh, b"key-1", "mgr_old", later).expose()[12..]
        );
        let access = derive(TokenKind::Access, b"key-1", "mgr_old", at);
        assert_eq!(parse(access.expose()), Ok(TokenKind::Access));
        assert_ne!(access.expose()[12..], a.expose()[12..]);
    }
}
