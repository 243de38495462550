-- Initial access tokens for dynamic client registration (RFC 7591 §3). Only the SHA-256 of each
-- token is kept. `account_id`, when set, becomes the account of every client registered with it.
-- `uses` counts registrations; a token with `max_uses` stops once `uses` reaches it.
CREATE TABLE registration_tokens (
    id         TEXT PRIMARY KEY,
    hash       TEXT NOT NULL UNIQUE,
    account_id TEXT REFERENCES accounts(id),
    max_uses   BIGINT,
    uses       BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    expires_at BIGINT,
    revoked_at BIGINT
);
