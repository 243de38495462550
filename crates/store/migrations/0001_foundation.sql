-- Shared by SQLite and PostgreSQL. `@SERIAL_PK@` is the only word that differs between them.
-- Times are Unix seconds; hashes are lowercase hex SHA-256; lists are space-separated or JSON.

CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    email         TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    created_at    BIGINT NOT NULL
);

CREATE TABLE accounts (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE memberships (
    account_id TEXT NOT NULL REFERENCES accounts(id),
    user_id    TEXT NOT NULL REFERENCES users(id),
    role       TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'member')),
    created_at BIGINT NOT NULL,
    PRIMARY KEY (account_id, user_id)
);
CREATE INDEX memberships_by_user ON memberships (user_id);

CREATE TABLE apps (
    client_id     TEXT PRIMARY KEY,
    name          TEXT NOT NULL,
    description   TEXT NOT NULL,
    redirect_uris TEXT NOT NULL,  -- JSON array
    grant_types   TEXT NOT NULL,  -- space-separated
    scopes        TEXT NOT NULL,  -- space-separated
    public        INTEGER NOT NULL,
    account_id    TEXT REFERENCES accounts(id),
    created_at    BIGINT NOT NULL,
    deleted_at    BIGINT
);

CREATE TABLE client_secrets (
    id         TEXT PRIMARY KEY,
    client_id  TEXT NOT NULL REFERENCES apps(client_id),
    hash       TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT
);
CREATE INDEX client_secrets_by_client ON client_secrets (client_id);

CREATE TABLE private_apps (
    id         TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts(id),
    name       TEXT NOT NULL,
    scopes     TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
);
CREATE INDEX private_apps_by_account ON private_apps (account_id);

-- Bearer tokens: OAuth access tokens and private-app tokens, keyed by hash.
CREATE TABLE access_tokens (
    hash           TEXT PRIMARY KEY,
    kind           TEXT NOT NULL,
    account_id     TEXT NOT NULL,
    client_id      TEXT,
    private_app_id TEXT,
    user_id        TEXT,
    grant_id       TEXT,
    family_id      TEXT,
    scopes         TEXT NOT NULL,
    created_at     BIGINT NOT NULL,
    expires_at     BIGINT,
    revoked_at     BIGINT
);
CREATE INDEX access_tokens_by_client ON access_tokens (client_id);
CREATE INDEX access_tokens_by_private_app ON access_tokens (private_app_id);
CREATE INDEX access_tokens_by_expiry ON access_tokens (expires_at);

-- Every revocation appends here, in the same transaction, so that caches on every node (and the
-- server, when the CLI revokes) can drop what they hold. `target` is one of token, family, grant,
-- client, private_app; `key` is the token hash or the id.
CREATE TABLE revocations (
    seq        @SERIAL_PK@,
    target     TEXT NOT NULL,
    key        TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

-- Server-wide secrets created on first start (shared by every node on the database).
CREATE TABLE server_keys (
    name       TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
