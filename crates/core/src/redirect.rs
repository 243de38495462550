//! Redirect URIs: what may be registered, and how a requested one matches (exactly, except the
//! port of a loopback URI, RFC 8252 §7.3).

use url::Url;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RedirectUriError {
    #[error("redirect URI `{0}` is not an absolute URI")]
    NotAbsolute(String),
    #[error("redirect URI `{0}` must not have a fragment")]
    Fragment(String),
    #[error("redirect URI `{0}` must use https, or http on a loopback address")]
    InsecureScheme(String),
}

/// Check a redirect URI at registration time.
pub fn validate(uri: &str) -> Result<(), RedirectUriError> {
    let shown = crate::scope::printable(uri);
    let url = Url::parse(uri).map_err(|_| RedirectUriError::NotAbsolute(shown.clone()))?;
    if url.fragment().is_some() || uri.contains('#') {
        return Err(RedirectUriError::Fragment(shown));
    }
    match url.scheme() {
        "https" => Ok(()),
        "http" if is_loopback(&url) => Ok(()),
        "http" => Err(RedirectUriError::InsecureScheme(shown)),
        // Private-use schemes of native apps (RFC 8252 §7.1) need a dot, e.g. com.example.app:/cb.
        scheme if scheme.contains('.') => Ok(()),
        _ => Err(RedirectUriError::InsecureScheme(shown)),
    }
}

fn is_loopback(url: &Url) -> bool {
    matches!(
        url.host_str(),
        Some("127.0.0.1") | Some("[::1]") | Some("localhost")
    )
}

/// Does `requested` match one registered URI? Exact string match, except that a loopback
/// registration matches the same URI on any port.
pub fn matches(registered: &[String], requested: &str) -> bool {
    if registered.iter().any(|r| r == requested) {
        return true;
    }
    let Ok(req) = Url::parse(requested) else {
        return false;
    };
    if req.scheme() != "http" || !is_loopback(&req) {
        return false;
    }
    registered.iter().any(|r| {
        Url::parse(r).is_ok_and(|reg| {
            reg.scheme() == "http"
                && is_loopback(&reg)
                && reg.host_str() == req.host_str()
                && reg.path() == req.path()
                && reg.query() == req.query()
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registration_rules() {
        assert!(validate("https://app.example.com/cb").is_ok());
        assert!(validate("http://127.0.0.1/cb").is_ok());
        assert!(validate("com.example.app:/cb").is_ok());
        assert!(validate("http://app.example.com/cb").is_err());
        assert!(validate("https://app.example.com/cb#x").is_err());
        assert!(validate("/relative").is_err());
        assert!(validate("javascript:alert(1)").is_err());
    }

    #[test]
    fn exact_match_with_loopback_port_exception() {
        let reg = vec![
            "https://app.example.com/cb".to_string(),
            "http://127.0.0.1/callback".to_string(),
        ];
        assert!(matches(&reg, "https://app.example.com/cb"));
        assert!(!matches(&reg, "https://app.example.com/cb/"));
        assert!(!matches(&reg, "https://app.example.com/cb?x=1"));
        assert!(!matches(&reg, "https://app.example.com:8443/cb"));
        assert!(matches(&reg, "http://127.0.0.1:53123/callback"));
        assert!(!matches(&reg, "http://127.0.0.1:53123/other"));
        assert!(!matches(&reg, "http://localhost:53123/callback"));
    }
}
