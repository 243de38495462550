#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::*;
use crate::model::Role;

const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

fn app(public: bool, grants: Vec<GrantType>) -> App {
    App {
        client_id: "app_1".into(),
        name: "Sync".into(),
        description: String::new(),
        redirect_uris: vec![
            "https://sync.example.com/cb".into(),
            "http://127.0.0.1/cb".into(),
        ],
        grant_types: grants,
        scopes: ScopeSet::parse("account.read contacts.read").unwrap_or_default(),
        public,
        account_id: None,
        created_at: 0,
    }
}

fn code_app() -> App {
    app(
        false,
        vec![GrantType::AuthorizationCode, GrantType::RefreshToken],
    )
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

fn base() -> Vec<(&'static str, &'static str)> {
    vec![
        ("response_type", "code"),
        ("client_id", "app_1"),
        ("redirect_uri", "https://sync.example.com/cb"),
        ("scope", "account.read"),
        ("state", "xyz"),
    ]
}

fn with(extra: &[(&'static str, &'static str)]) -> Vec<(String, String)> {
    let mut b = base();
    for (k, v) in extra {
        b.retain(|(n, _)| n != k);
        b.push((k, v));
    }
    pairs(&b)
}

fn redirect_code(r: Result<AuthorizeRequest, AuthorizeError>) -> Option<OAuthErrorCode> {
    match r {
        Err(AuthorizeError::Redirect(e)) => {
            assert_eq!(e.state.as_deref(), Some("xyz"));
            Some(e.error.code)
        }
        _ => None,
    }
}

#[test]
fn a_good_request_passes() {
    let a = code_app();
    let r = validate(&with(&[]), Some(&a)).unwrap();
    assert_eq!(r.response_type, ResponseType::Code);
    assert_eq!(r.scopes.to_string(), "account.read");
    assert_eq!(r.state.as_deref(), Some("xyz"));
    assert!(r.redirect_uri_given && !r.force_consent);
    let r = validate(&with(&[("prompt", "consent")]), Some(&a)).unwrap();
    assert!(r.force_consent && !r.no_interaction);
    let r = validate(&with(&[("prompt", "none")]), Some(&a)).unwrap();
    assert!(r.no_interaction && !r.force_consent);
    assert_eq!(
        redirect_code(validate(&with(&[("prompt", "none consent")]), Some(&a))),
        Some(OAuthErrorCode::InvalidRequest)
    );
    // No scope asks for all the app's scopes.
    let no_scope: Vec<_> = with(&[])
        .into_iter()
        .filter(|(n, _)| n != "scope")
        .collect();
    assert_eq!(
        validate(&no_scope, Some(&a)).unwrap().scopes.to_string(),
        "account.read contacts.read"
    );
}

#[test]
fn client_and_redirect_errors_are_pages_never_redirects() {
    let a = code_app();
    let page =
        |r: Result<AuthorizeRequest, AuthorizeError>| matches!(r, Err(AuthorizeError::Page(_)));
    assert!(page(validate(&with(&[]), None)));
    assert!(page(validate(&with(&[("client_id", "other")]), Some(&a))));
    assert!(page(validate(
        &with(&[("redirect_uri", "https://evil.example.com/cb")]),
        Some(&a)
    )));
    assert!(page(validate(
        &with(&[("redirect_uri", "https://sync.example.com/cb/")]),
        Some(&a)
    )));
    let mut dup = with(&[]);
    dup.push(("redirect_uri".into(), "https://sync.example.com/cb".into()));
    assert!(page(validate(&dup, Some(&a))));
    // Omitted redirect_uri is fine only with exactly one registered.
    let omitted: Vec<_> = with(&[])
        .into_iter()
        .filter(|(n, _)| n != "redirect_uri")
        .collect();
    assert!(page(validate(&omitted, Some(&a))));
    let mut one = code_app();
    one.redirect_uris.truncate(1);
    let r = validate(&omitted, Some(&one)).unwrap();
    assert!(!r.redirect_uri_given);
    assert_eq!(r.redirect_uri, "https://sync.example.com/cb");
}

#[test]
fn loopback_redirects_may_use_any_port() {
    let a = code_app();
    let r = validate(
        &with(&[("redirect_uri", "http://127.0.0.1:49152/cb")]),
        Some(&a),
    )
    .unwrap();
    assert_eq!(r.redirect_uri, "http://127.0.0.1:49152/cb");
}

#[test]
fn other_errors_go_back_to_the_client_with_state() {
    let a = code_app();
    assert_eq!(
        redirect_code(validate(&with(&[("scope", "campaigns.send")]), Some(&a))),
        Some(OAuthErrorCode::InvalidScope)
    );
    assert_eq!(
        redirect_code(validate(&with(&[("scope", "nope.read")]), Some(&a))),
        Some(OAuthErrorCode::InvalidScope)
    );
    assert_eq!(
        redirect_code(validate(&with(&[("response_type", "id_token")]), Some(&a))),
        Some(OAuthErrorCode::UnsupportedResponseType)
    );
    assert_eq!(
        redirect_code(validate(&with(&[("response_type", "token")]), Some(&a))),
        Some(OAuthErrorCode::UnauthorizedClient)
    );
    let mut dup = with(&[]);
    dup.push(("scope".into(), "account.read".into()));
    assert_eq!(
        redirect_code(validate(&dup, Some(&a))),
        Some(OAuthErrorCode::InvalidRequest)
    );
}

#[test]
fn pkce_is_s256_only_and_required_for_public_clients() {
    let public = app(true, vec![GrantType::AuthorizationCode]);
    assert_eq!(
        redirect_code(validate(&with(&[]), Some(&public))),
        Some(OAuthErrorCode::InvalidRequest)
    );
    assert_eq!(
        redirect_code(validate(
            &with(&[
                ("code_challenge", CHALLENGE),
                ("code_challenge_method", "plain")
            ]),
            Some(&public)
        )),
        Some(OAuthErrorCode::InvalidRequest)
    );
    assert_eq!(
        redirect_code(validate(
            &with(&[("code_challenge", CHALLENGE)]),
            Some(&public)
        )),
        Some(OAuthErrorCode::InvalidRequest)
    );
    let r = validate(
        &with(&[
            ("code_challenge", CHALLENGE),
            ("code_challenge_method", "S256"),
        ]),
        Some(&public),
    )
    .unwrap();
    assert_eq!(r.code_challenge.as_deref(), Some(CHALLENGE));
    // Confidential clients may skip PKCE.
    assert_eq!(
        validate(&with(&[]), Some(&code_app()))
            .unwrap()
            .code_challenge,
        None
    );
}

#[test]
fn implicit_only_for_apps_that_opt_in_and_errors_use_the_fragment() {
    let a = app(false, vec![GrantType::Implicit]);
    let r = validate(&with(&[("response_type", "token")]), Some(&a)).unwrap();
    assert_eq!(r.response_type, ResponseType::Token);
    match validate(
        &with(&[("response_type", "token"), ("scope", "x.y")]),
        Some(&a),
    ) {
        Err(AuthorizeError::Redirect(e)) => {
            assert!(e.fragment);
            assert!(e
                .location("https://issuer")
                .starts_with("https://sync.example.com/cb#error="));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        redirect_code(validate(&with(&[]), Some(&a))),
        Some(OAuthErrorCode::UnauthorizedClient)
    );
}

#[test]
fn error_location_carries_state_and_iss() {
    let e = ErrorRedirect {
        redirect_uri: "https://c.example/cb?x=1".into(),
        error: OAuthError::new(OAuthErrorCode::AccessDenied, "no"),
        state: Some("s 1".into()),
        fragment: false,
    };
    assert_eq!(
        e.location("https://as.example"),
        "https://c.example/cb?x=1&error=access_denied&error_description=no&state=s+1&iss=https%3A%2F%2Fas.example"
    );
}

fn member(account: &str, role: Role) -> Membership {
    Membership {
        account_id: account.into(),
        account_name: account.into(),
        user_id: "u".into(),
        role,
    }
}

fn grant(account: &str, scopes: &str) -> Grant {
    Grant {
        id: "g".into(),
        account_id: account.into(),
        client_id: "app_1".into(),
        user_id: "u".into(),
        scopes: ScopeSet::parse(scopes).unwrap_or_default(),
        created_at: 0,
        updated_at: 0,
        last_used_at: None,
        revoked_at: None,
    }
}

#[test]
fn consent_is_skipped_only_when_a_grant_covers_and_there_is_no_choice() {
    let a = code_app();
    let req = validate(&with(&[]), Some(&a)).unwrap();
    let ms = vec![
        member("acct_1", Role::Owner),
        member("acct_2", Role::Member),
    ];
    let c = connectable(&ms);
    assert_eq!(c.len(), 1);
    let g = grant("acct_1", "account.read contacts.read");
    assert_eq!(skip_consent(&req, &c, Some(&g)), Some("acct_1"));
    assert_eq!(skip_consent(&req, &c, None), None);
    assert_eq!(
        skip_consent(&req, &c, Some(&grant("acct_1", "contacts.read"))),
        None
    );
    let mut revoked = g.clone();
    revoked.revoked_at = Some(1);
    assert_eq!(skip_consent(&req, &c, Some(&revoked)), None);
    let forced = validate(&with(&[("prompt", "consent")]), Some(&a)).unwrap();
    assert_eq!(skip_consent(&forced, &c, Some(&g)), None);
    let two = vec![member("acct_1", Role::Owner), member("acct_2", Role::Admin)];
    assert_eq!(skip_consent(&req, &connectable(&two), Some(&g)), None);
}

#[test]
fn only_owners_and_admins_connect_accounts() {
    let ms = vec![
        member("acct_1", Role::Owner),
        member("acct_2", Role::Member),
    ];
    let c = connectable(&ms);
    assert_eq!(chosen_account(&c, None), Ok("acct_1"));
    assert_eq!(chosen_account(&c, Some("acct_1")), Ok("acct_1"));
    assert_eq!(
        chosen_account(&c, Some("acct_2")).map_err(|e| e.code),
        Err(OAuthErrorCode::AccessDenied)
    );
    let members_only = vec![member("acct_2", Role::Member)];
    assert_eq!(
        chosen_account(&connectable(&members_only), None).map_err(|e| e.code),
        Err(OAuthErrorCode::AccessDenied)
    );
    let two = vec![member("a", Role::Owner), member("b", Role::Admin)];
    assert_eq!(
        chosen_account(&connectable(&two), None).map_err(|e| e.code),
        Err(OAuthErrorCode::InvalidRequest)
    );
}
