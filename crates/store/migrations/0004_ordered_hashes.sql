-- Token hashes now begin with the token's issue time (12 hex digits; core/src/token.rs), so that
-- new rows append to every index on a hash. A hash stored before that is 64 hex digits; it is kept,
-- given a zero time so that it still parses, and no longer matches any token: tokens, codes,
-- secrets and sessions issued before this migration must be issued again.
UPDATE access_tokens SET hash = '000000000000' || hash WHERE length(hash) = 64;
UPDATE refresh_tokens SET hash = '000000000000' || hash WHERE length(hash) = 64;
UPDATE authorization_codes SET hash = '000000000000' || hash WHERE length(hash) = 64;
UPDATE client_secrets SET hash = '000000000000' || hash WHERE length(hash) = 64;
UPDATE registration_tokens SET hash = '000000000000' || hash WHERE length(hash) = 64;
UPDATE sessions SET hash = '000000000000' || hash WHERE length(hash) = 64;
UPDATE revocations SET key = '000000000000' || key WHERE target = 'token' AND length(key) = 64;

-- Most access tokens (client credentials) have no private app, family or grant, and private-app
-- tokens never expire: index only the rows that have the value, so that issuing a token touches
-- four B-trees (table, hash, client, expiry) instead of seven. `x = ?` implies `x IS NOT NULL`,
-- so both databases use these for the revoking queries.
DROP INDEX access_tokens_by_private_app;
CREATE INDEX access_tokens_by_private_app ON access_tokens (private_app_id)
    WHERE private_app_id IS NOT NULL;
DROP INDEX access_tokens_by_family;
CREATE INDEX access_tokens_by_family ON access_tokens (family_id) WHERE family_id IS NOT NULL;
DROP INDEX access_tokens_by_grant;
CREATE INDEX access_tokens_by_grant ON access_tokens (grant_id) WHERE grant_id IS NOT NULL;
DROP INDEX access_tokens_by_expiry;
CREATE INDEX access_tokens_by_expiry ON access_tokens (expires_at) WHERE expires_at IS NOT NULL;

-- The background purge deletes what expired, a batch at a time; without these it scanned the whole
-- table under the write lock every minute (a 500 ms stall with 1.7 M codes). Expiry times grow
-- with issue time, so these indexes are appended to as well.
CREATE INDEX sessions_by_expiry ON sessions (expires_at);
CREATE INDEX authorization_codes_by_expiry ON authorization_codes (expires_at);
CREATE INDEX refresh_tokens_by_expiry ON refresh_tokens (expires_at);
