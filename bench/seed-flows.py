#!/usr/bin/env python3
"""Seed single-use authorization codes and refresh tokens straight into the database, before the
server starts, and write one form body per request for bench/bodies.lua. Bench tooling, not a code
path of mailgrant (the same idea as bench/seed-tokens.sh).

Usage: seed-flows.py BACKEND URL CLIENT_ID ACCOUNT_ID USER_ID SCOPE REDIRECT_URI OUT_DIR PHASE=N...

For each PHASE=N (e.g. probe=1 warmup=50000 run1=300000) it writes N codes to OUT_DIR/code.PHASE and
N refresh tokens to OUT_DIR/refresh.PHASE, one body per line:
  grant_type=authorization_code&code=mgc_…&redirect_uri=…&code_verifier=…
  grant_type=refresh_token&refresh_token=mgr_…
Token values have the exact mailgrant format (core/src/token.rs): prefix, '_', 43 base62 characters
(8 of issue time in milliseconds, 35 random), 6 base62 characters of the CRC32 of prefix + '_' +
body; the database keeps only their hash: 12 hex digits of the issue time, then the SHA-256 hex.
Every code carries an S256 PKCE challenge whose verifier is in its body; every refresh token is the
only token of its own family, so each request is a real rotation. Family ids have the mailgrant
format too (time-ordered): a code's family was created with the code, a refresh token's family at
a random moment of the past 30 days. One live grant ties them to the
account, the user and the app. Everything expires in a day (the default code lifetime is shorter,
but seeded rows may carry any expiry; the server checks the stored one)."""
import base64
import hashlib
import os
import secrets
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.parse
import zlib

BASE62 = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
# Bytes below 248 = 4 * 62 map to BASE62[b % 62] (every character equally likely, as in token.rs);
# the others are dropped.
TABLE = bytes(BASE62[b % 62] for b in range(248)) + bytes(8)
DROP = bytes(range(248, 256))


def base62(n):
    out = b""
    while len(out) < n:
        out += os.urandom(n + 16).translate(TABLE, DROP)
    return out[:n]


def fixed_base62(n, width):
    """n in `width` base62 digits, most significant first (the checksum and the issue time)."""
    chars = bytearray(b"0" * width)
    for i in range(width - 1, -1, -1):
        chars[i] = BASE62[n % 62]
        n //= 62
    return bytes(chars)


def token(prefix):
    signed = prefix + b"_" + fixed_base62(int(time.time() * 1000), 8) + base62(35)
    return (signed + fixed_base62(zlib.crc32(signed), 6)).decode()


def family_id(ms):
    """A family id in the mailgrant format (core/src/ids.rs): 'fam_', 8 base62 characters of its
    creation time in milliseconds, 12 random."""
    return (b"fam_" + fixed_base62(ms, 8) + base62(12)).decode()


def token_hash(t):
    ms = 0
    for c in t[4:12].encode():
        ms = ms * 62 + BASE62.index(c)
    return "%012x" % ms + hashlib.sha256(t.encode()).hexdigest()


CODE_COLUMNS = ("hash", "client_id", "redirect_uri", "code_challenge", "account_id", "user_id",
                "grant_id", "family_id", "scopes", "created_at", "expires_at", "used_at")
REFRESH_COLUMNS = ("hash", "family_id", "grant_id", "client_id", "account_id", "user_id", "scopes",
                   "created_at", "family_created_at", "expires_at", "rotated_at", "revoked_at")
GRANT_COLUMNS = ("id", "account_id", "client_id", "user_id", "scopes", "created_at", "updated_at",
                 "last_used_at", "revoked_at")


def insert(backend, url, out, table, cols, rows):
    if backend == "sqlite":
        db = sqlite3.connect(url.removeprefix("sqlite://"))
        db.execute("PRAGMA synchronous = OFF")
        with db:
            db.executemany(f"INSERT INTO {table} ({', '.join(cols)}) "
                           f"VALUES ({', '.join('?' * len(cols))})", rows)
        db.close()
        return
    with tempfile.NamedTemporaryFile("w", suffix=".tsv", dir=out, delete=False) as f:
        for r in rows:
            f.write("\t".join("\\N" if v is None else str(v) for v in r) + "\n")
    subprocess.run(["psql", "-q", url, "-v", "ON_ERROR_STOP=1", "-c",
                    f"\\copy {table} ({', '.join(cols)}) FROM '{f.name}'"], check=True)
    os.unlink(f.name)


def main():
    backend, url, client, account, user, scope, redirect, out = sys.argv[1:9]
    phases = [(p.split("=")[0], int(p.split("=")[1])) for p in sys.argv[9:]]
    t0 = time.time()
    now = int(t0)
    expires = now + 86400
    grant = "grt_bench" + secrets.token_hex(8)
    redirect_q = urllib.parse.quote(redirect, safe="")
    total = 0
    insert(backend, url, out, "grants", GRANT_COLUMNS,
           [(grant, account, client, user, scope, now, now, None, None)])
    for phase, n in phases:
        codes, refresh = [], []
        with open(os.path.join(out, f"code.{phase}"), "w") as cf, \
                open(os.path.join(out, f"refresh.{phase}"), "w") as rf:
            for i in range(n):
                code = token(b"mgc")
                verifier = base62(43).decode()
                challenge = base64.urlsafe_b64encode(
                    hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
                # A code's family is minted when the code is issued, seconds before its exchange.
                codes.append((token_hash(code), client, redirect, challenge, account, user, grant,
                              family_id(int(time.time() * 1000)), scope, now, expires, None))
                cf.write(f"grant_type=authorization_code&code={code}&redirect_uri={redirect_q}"
                         f"&code_verifier={verifier}\n")
                rt = token(b"mgr")
                # Families of every age up to 30 days are refreshed at any moment: their places
                # in the family indexes are random, as in production.
                born = now - secrets.randbelow(30 * 86400)
                refresh.append((token_hash(rt), family_id(born * 1000 + secrets.randbelow(1000)),
                                grant, client, account, user, scope, now, born, expires, None, None))
                rf.write(f"grant_type=refresh_token&refresh_token={rt}\n")
        # Sorted by hash, the primary key: inserts append to the index instead of splitting pages.
        codes.sort()
        refresh.sort()
        insert(backend, url, out, "authorization_codes", CODE_COLUMNS, codes)
        insert(backend, url, out, "refresh_tokens", REFRESH_COLUMNS, refresh)
        total += n
    if backend != "sqlite":
        subprocess.run(["psql", "-q", url, "-c", "ANALYZE authorization_codes; ANALYZE refresh_tokens"],
                       check=True)
    print(f"seeded {total} authorization codes and {total} refresh tokens "
          f"in {time.time() - t0:.0f} s")


if __name__ == "__main__":
    main()
