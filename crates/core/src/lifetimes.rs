//! How long things live, in seconds. One place, so that policy and tests agree.

#[derive(Debug, Clone)]
pub struct Lifetimes {
    pub access_token: i64,
    pub authorization_code: i64,
    /// A refresh token unused this long expires.
    pub refresh_idle: i64,
    /// A token family ends this long after its first issue, used or not.
    pub refresh_absolute: i64,
    /// A retry with an already-rotated refresh token within this window gets the same successor.
    pub refresh_retry_window: i64,
    pub session: i64,
}

impl Default for Lifetimes {
    fn default() -> Self {
        Self {
            access_token: 3600,
            authorization_code: 60,
            refresh_idle: 90 * 86_400,
            refresh_absolute: 365 * 86_400,
            refresh_retry_window: 30,
            session: 12 * 3600,
        }
    }
}

/// Parse a duration such as `90s`, `15m`, `24h`, `30d` or a bare number of seconds.
pub fn parse_duration(text: &str) -> Option<i64> {
    let text = text.trim();
    let (number, unit) = match text.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => text.split_at(i),
        None => (text, "s"),
    };
    let n: i64 = number.parse().ok()?;
    let factor = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return None,
    };
    n.checked_mul(factor)
}

#[cfg(test)]
mod tests {
    use super::parse_duration;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("24h"), Some(86_400));
        assert_eq!(parse_duration("90"), Some(90));
        assert_eq!(parse_duration("15m"), Some(900));
        assert_eq!(parse_duration("2w"), None);
        assert_eq!(parse_duration("h"), None);
    }
}
