#!/usr/bin/env bash
# seed-tokens.sh BACKEND URL N ACCOUNT CLIENT_ID [EXPIRED] : write N access-token rows straight into
# the database (one bulk INSERT), before the server starts, so that lookups run against a big table;
# and EXPIRED more that expired two days ago, for the background purge to delete under load.
# The hashes have the shape of real ones (core/src/token.rs): 12 hex digits of issue time (spread
# over the past day, in order, as a day of issuance leaves them) and 64 of a SHA-256 that no token
# has, so no seeded row can authorise a request. This is bench tooling, not a code path of mailgrant.
set -euo pipefail
BACKEND=$1 URL=$2 N=$3 ACCOUNT=$4 CLIENT=$5 EXPIRED=${6:-0}
[ "$N" -gt 0 ] || [ "$EXPIRED" -gt 0 ] || exit 0
t0=$(date +%s)
if [ "$BACKEND" = postgres ]; then
  psql -q "$URL" -v ON_ERROR_STOP=1 <<SQL
INSERT INTO access_tokens (hash, kind, account_id, client_id, scopes, created_at, expires_at)
SELECT lpad(to_hex((extract(epoch FROM now()) * 1000)::bigint - 86400000 + i::bigint * 86400000 / $N), 12, '0')
         || encode(sha256(('bench-live-' || i)::bytea), 'hex'), 'access', '$ACCOUNT', '$CLIENT', 'account.read',
       extract(epoch FROM now())::bigint, extract(epoch FROM now())::bigint + 86400
FROM generate_series(1, $N) AS i;
INSERT INTO access_tokens (hash, kind, account_id, client_id, scopes, created_at, expires_at)
SELECT lpad(to_hex((extract(epoch FROM now()) * 1000)::bigint - 259200000 + i), 12, '0')
         || encode(sha256(('bench-expired-' || i)::bytea), 'hex'), 'access', '$ACCOUNT', '$CLIENT', 'account.read',
       extract(epoch FROM now())::bigint - 259200, extract(epoch FROM now())::bigint - 172800
FROM generate_series(1, $EXPIRED) AS i;
ANALYZE access_tokens;
SQL
else
  sqlite3 "${URL#sqlite://}" <<SQL
PRAGMA journal_mode = WAL;
PRAGMA cache_size = -262144;
BEGIN;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $N)
INSERT INTO access_tokens (hash, kind, account_id, client_id, scopes, created_at, expires_at)
SELECT h, 'access', '$ACCOUNT', '$CLIENT', 'account.read',
       strftime('%s','now'), strftime('%s','now') + 86400
FROM (SELECT printf('%012x', CAST(strftime('%s','now') AS INTEGER) * 1000 - 86400000 + i * 86400000 / $N)
             || lower(hex(randomblob(32))) AS h FROM n WHERE $N > 0);
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $EXPIRED)
INSERT INTO access_tokens (hash, kind, account_id, client_id, scopes, created_at, expires_at)
SELECT h, 'access', '$ACCOUNT', '$CLIENT', 'account.read',
       strftime('%s','now') - 259200, strftime('%s','now') - 172800
FROM (SELECT printf('%012x', (CAST(strftime('%s','now') AS INTEGER) - 259200) * 1000 + i)
             || lower(hex(randomblob(32))) AS h FROM n WHERE $EXPIRED > 0);
COMMIT;
SQL
fi
echo "seeded $N stored tokens and $EXPIRED expired ones in $(($(date +%s) - t0)) s"
