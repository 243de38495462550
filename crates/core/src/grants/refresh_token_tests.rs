#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::*;
use crate::{OAuthErrorCode, TokenHash};

const NOW: i64 = 1_000_000;

fn app() -> App {
    App {
        client_id: "app_1".into(),
        name: "Sync".into(),
        description: String::new(),
        redirect_uris: vec![],
        grant_types: vec![GrantType::AuthorizationCode, GrantType::RefreshToken],
        scopes: ScopeSet::parse("account.read contacts.read").unwrap(),
        public: false,
        account_id: None,
        created_at: 0,
    }
}

fn record() -> RefreshTokenRecord {
    RefreshTokenRecord {
        hash: TokenHash::of("mgr_x"),
        family_id: "fam_1".into(),
        grant_id: "grant_1".into(),
        client_id: "app_1".into(),
        account_id: "acct_1".into(),
        user_id: "user_1".into(),
        scopes: ScopeSet::parse("account.read contacts.read").unwrap(),
        created_at: NOW - 100,
        family_created_at: NOW - 1000,
        expires_at: NOW + 1000,
        rotated_at: None,
        revoked_at: None,
    }
}

fn scopes(s: &str) -> ScopeSet {
    ScopeSet::parse(s).unwrap()
}

#[test]
fn rotation_keeps_idle_and_absolute_limits() {
    let lt = Lifetimes::default();
    let d = decide(Some(&record()), &app(), None, &lt, NOW).unwrap();
    assert_eq!(
        d,
        RefreshDecision::Rotate {
            access_scopes: scopes("account.read contacts.read"),
            access_expires_at: NOW + 3600,
            refresh_expires_at: NOW + 90 * 86_400,
        }
    );
    // Near the family's absolute end, the successor stops there.
    let mut r = record();
    r.family_created_at = NOW - lt.refresh_absolute + 10;
    let d = decide(Some(&r), &app(), None, &lt, NOW).unwrap();
    assert!(
        matches!(d, RefreshDecision::Rotate { refresh_expires_at, .. } if refresh_expires_at == NOW + 10)
    );
    // Idle expiry.
    assert_eq!(
        decide(Some(&record()), &app(), None, &lt, NOW + 1000).map_err(|e| e.code),
        Err(OAuthErrorCode::InvalidGrant)
    );
}

#[test]
fn scope_narrows_never_widens() {
    let lt = Lifetimes::default();
    let narrow = scopes("account.read");
    let d = decide(Some(&record()), &app(), Some(&narrow), &lt, NOW).unwrap();
    assert!(matches!(d, RefreshDecision::Rotate { access_scopes, .. } if access_scopes == narrow));
    let wide = scopes("account.read campaigns.send");
    assert_eq!(
        decide(Some(&record()), &app(), Some(&wide), &lt, NOW).map_err(|e| e.code),
        Err(OAuthErrorCode::InvalidScope)
    );
}

#[test]
fn retry_within_the_window_reuse_after_it() {
    let lt = Lifetimes::default();
    let mut r = record();
    r.rotated_at = Some(NOW - lt.refresh_retry_window);
    assert_eq!(
        decide(Some(&r), &app(), None, &lt, NOW),
        Ok(RefreshDecision::Retry)
    );
    r.rotated_at = Some(NOW - lt.refresh_retry_window - 1);
    assert_eq!(
        decide(Some(&r), &app(), None, &lt, NOW),
        Ok(RefreshDecision::Reuse {
            family_id: "fam_1".into()
        })
    );
}

#[test]
fn a_retry_needs_a_live_successor() {
    let r = record();
    let mut successor = record();
    assert_eq!(check_retry(&r, Some(&successor), NOW), Ok(()));
    successor.rotated_at = Some(NOW);
    assert!(check_retry(&r, Some(&successor), NOW).is_err());
    assert!(check_retry(&r, None, NOW).is_err());
}

#[test]
fn refuses_revoked_foreign_and_unknown_tokens() {
    let lt = Lifetimes::default();
    let mut r = record();
    r.revoked_at = Some(NOW - 1);
    assert_eq!(
        decide(Some(&r), &app(), None, &lt, NOW).map_err(|e| e.code),
        Err(OAuthErrorCode::InvalidGrant)
    );
    let mut other = app();
    other.client_id = "app_2".into();
    assert_eq!(
        decide(Some(&record()), &other, None, &lt, NOW).map_err(|e| e.code),
        Err(OAuthErrorCode::InvalidGrant)
    );
    assert_eq!(
        decide(None, &app(), None, &lt, NOW).map_err(|e| e.code),
        Err(OAuthErrorCode::InvalidGrant)
    );
    let mut no_refresh = app();
    no_refresh.grant_types = vec![GrantType::AuthorizationCode];
    assert_eq!(
        decide(Some(&record()), &no_refresh, None, &lt, NOW).map_err(|e| e.code),
        Err(OAuthErrorCode::UnauthorizedClient)
    );
}
