#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::*;
use crate::{OAuthErrorCode, TokenHash};

const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
const NOW: i64 = 10_000;

fn app(public: bool, refresh: bool) -> App {
    let mut grant_types = vec![GrantType::AuthorizationCode];
    if refresh {
        grant_types.push(GrantType::RefreshToken);
    }
    App {
        client_id: "app_1".into(),
        name: "Sync".into(),
        description: String::new(),
        redirect_uris: vec!["https://sync.example.com/cb".into()],
        grant_types,
        scopes: ScopeSet::parse("account.read").unwrap(),
        public,
        account_id: None,
        created_at: 0,
    }
}

fn code(challenge: Option<&str>) -> AuthorizationCode {
    AuthorizationCode {
        hash: TokenHash::of("mgc_x"),
        client_id: "app_1".into(),
        redirect_uri: Some("https://sync.example.com/cb".into()),
        code_challenge: challenge.map(str::to_string),
        account_id: "acct_1".into(),
        user_id: "user_1".into(),
        grant_id: "grant_1".into(),
        family_id: "fam_1".into(),
        scopes: ScopeSet::parse("account.read").unwrap(),
        created_at: NOW - 10,
        expires_at: NOW + 50,
        used_at: None,
    }
}

const CB: Option<&str> = Some("https://sync.example.com/cb");

fn code_of(r: Result<Redeem, OAuthError>) -> Option<OAuthErrorCode> {
    r.err().map(|e| e.code)
}

#[test]
fn a_fresh_code_issues_with_refresh_when_allowed() {
    let lt = Lifetimes::default();
    let r = redeem(Some(&code(None)), &app(false, true), CB, None, &lt, NOW).unwrap();
    assert_eq!(
        r,
        Redeem::Issue(CodeDecision {
            scopes: ScopeSet::parse("account.read").unwrap(),
            access_expires_at: NOW + 3600,
            refresh_expires_at: Some(NOW + 90 * 86_400),
        })
    );
    let r = redeem(Some(&code(None)), &app(false, false), CB, None, &lt, NOW).unwrap();
    assert!(matches!(
        r,
        Redeem::Issue(CodeDecision {
            refresh_expires_at: None,
            ..
        })
    ));
}

#[test]
fn a_used_code_is_a_replay_that_names_its_family() {
    let mut c = code(None);
    c.used_at = Some(NOW - 1);
    let r = redeem(
        Some(&c),
        &app(false, true),
        CB,
        None,
        &Lifetimes::default(),
        NOW,
    );
    assert_eq!(
        r,
        Ok(Redeem::Replay {
            grant_id: "grant_1".into(),
            family_id: "fam_1".into()
        })
    );
}

#[test]
fn codes_are_bound_to_client_redirect_time_and_pkce() {
    let lt = Lifetimes::default();
    let a = app(false, true);
    assert_eq!(
        code_of(redeem(None, &a, CB, None, &lt, NOW)),
        Some(OAuthErrorCode::InvalidGrant)
    );
    let mut other = app(false, true);
    other.client_id = "app_2".into();
    assert_eq!(
        code_of(redeem(Some(&code(None)), &other, CB, None, &lt, NOW)),
        Some(OAuthErrorCode::InvalidGrant)
    );
    // Expired after 60 s.
    assert_eq!(
        code_of(redeem(Some(&code(None)), &a, CB, None, &lt, NOW + 50)),
        Some(OAuthErrorCode::InvalidGrant)
    );
    assert_eq!(
        code_of(redeem(
            Some(&code(None)),
            &a,
            Some("https://sync.example.com/other"),
            None,
            &lt,
            NOW
        )),
        Some(OAuthErrorCode::InvalidGrant)
    );
    assert_eq!(
        code_of(redeem(Some(&code(None)), &a, None, None, &lt, NOW)),
        Some(OAuthErrorCode::InvalidGrant)
    );
    let pk = code(Some(CHALLENGE));
    assert!(redeem(Some(&pk), &a, CB, Some(VERIFIER), &lt, NOW).is_ok());
    assert_eq!(
        code_of(redeem(Some(&pk), &a, CB, None, &lt, NOW)),
        Some(OAuthErrorCode::InvalidGrant)
    );
    assert_eq!(
        code_of(redeem(
            Some(&pk),
            &a,
            CB,
            Some("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXX"),
            &lt,
            NOW
        )),
        Some(OAuthErrorCode::InvalidGrant)
    );
    // A verifier with no challenge is a downgrade attempt.
    assert_eq!(
        code_of(redeem(Some(&code(None)), &a, CB, Some(VERIFIER), &lt, NOW)),
        Some(OAuthErrorCode::InvalidGrant)
    );
    // Public clients without PKCE never pass.
    assert_eq!(
        code_of(redeem(
            Some(&code(None)),
            &app(true, true),
            CB,
            None,
            &lt,
            NOW
        )),
        Some(OAuthErrorCode::InvalidGrant)
    );
}
