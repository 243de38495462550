-- The authorization-code flow: browser sessions, login throttling, grants (an account's consent to
-- an app), authorization codes and rotating refresh tokens. Values are stored only as SHA-256 hashes.

-- A browser session; the cookie holds a random id, the row only its hash. user_id is NULL before login.
CREATE TABLE sessions (
    hash       TEXT PRIMARY KEY,
    user_id    TEXT REFERENCES users(id),
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);

-- Consecutive failed logins per email (known or not), for slowing down and locking out.
CREATE TABLE login_throttle (
    email           TEXT PRIMARY KEY,
    failures        INTEGER NOT NULL,
    last_failure_at BIGINT NOT NULL,
    locked_until    BIGINT
);

CREATE TABLE grants (
    id           TEXT PRIMARY KEY,
    account_id   TEXT NOT NULL REFERENCES accounts(id),
    client_id    TEXT NOT NULL REFERENCES apps(client_id),
    user_id      TEXT NOT NULL REFERENCES users(id),
    scopes       TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL,
    last_used_at BIGINT,
    revoked_at   BIGINT
);
-- At most one live grant per account and app.
CREATE UNIQUE INDEX grants_live ON grants (account_id, client_id) WHERE revoked_at IS NULL;
CREATE INDEX grants_by_client ON grants (client_id);

CREATE TABLE authorization_codes (
    hash           TEXT PRIMARY KEY,
    client_id      TEXT NOT NULL,
    redirect_uri   TEXT,            -- as given in the request; NULL when it was omitted
    code_challenge TEXT,
    account_id     TEXT NOT NULL,
    user_id        TEXT NOT NULL,
    grant_id       TEXT NOT NULL,
    family_id      TEXT NOT NULL,   -- the token family its exchange starts
    scopes         TEXT NOT NULL,
    created_at     BIGINT NOT NULL,
    expires_at     BIGINT NOT NULL,
    used_at        BIGINT
);
CREATE INDEX authorization_codes_by_grant ON authorization_codes (grant_id);

CREATE TABLE refresh_tokens (
    hash              TEXT PRIMARY KEY,
    family_id         TEXT NOT NULL,
    grant_id          TEXT NOT NULL,
    client_id         TEXT NOT NULL,
    account_id        TEXT NOT NULL,
    user_id           TEXT NOT NULL,
    scopes            TEXT NOT NULL,
    created_at        BIGINT NOT NULL,
    family_created_at BIGINT NOT NULL,
    expires_at        BIGINT NOT NULL,
    rotated_at        BIGINT,
    revoked_at        BIGINT
);
CREATE INDEX refresh_tokens_by_family ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_by_grant ON refresh_tokens (grant_id);
CREATE INDEX access_tokens_by_family ON access_tokens (family_id);
CREATE INDEX access_tokens_by_grant ON access_tokens (grant_id);
