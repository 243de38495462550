#!/usr/bin/env bash
# Run mailgrant's whole test suite. On a fresh Debian machine (as root) it first installs and
# starts what the tests need: PostgreSQL 15 for the PostgreSQL half of the storage and server tests,
# and Debian's chromium + chromium-driver for the headless-browser end-to-end test.
# Without root and without them, those tests are skipped with a message.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else return 1; fi; }
apt_updated=""
need_pkg() { # need_pkg COMMAND PACKAGE...
  command -v "$1" >/dev/null 2>&1 && return 0
  shift
  [ -n "$apt_updated" ] || { as_root apt-get update -qq && apt_updated=1; } || return 1
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

# PostgreSQL: a local cluster with a role that may create the per-test databases.
if [ -z "${MAILGRANT_TEST_POSTGRES_URL:-}" ]; then
  if [ -x /usr/bin/pg_ctlcluster ] || need_pkg pg_ctlcluster postgresql; then
    if as_root true; then
      cluster=$(pg_lsclusters -h 2>/dev/null | awk 'NR==1 {print $1" "$2}')
      if [ -n "$cluster" ]; then
        # shellcheck disable=SC2086
        pg_ctlcluster $cluster start 2>/dev/null || true
        for _ in $(seq 1 30); do su postgres -c "pg_isready -q" && break; sleep 0.5; done
        if ! su postgres -c "psql -tAc \"SELECT 1 FROM pg_roles WHERE rolname='mailgrant'\"" | grep -q 1; then
          su postgres -c "createuser --createdb mailgrant"
        fi
        su postgres -c "psql -qc \"ALTER ROLE mailgrant PASSWORD 'mailgrant'\""
        export MAILGRANT_TEST_POSTGRES_URL="postgres://mailgrant:mailgrant@127.0.0.1:5432/postgres"
      fi
    fi
  fi
fi
if [ -n "${MAILGRANT_TEST_POSTGRES_URL:-}" ]; then
  echo "PostgreSQL tests: on ($MAILGRANT_TEST_POSTGRES_URL)" | sed 's/:[^:@]*@/:***@/'
else
  echo "PostgreSQL tests: skipped (no server; run as root on Debian, or set MAILGRANT_TEST_POSTGRES_URL)"
fi

# Headless Chromium and its WebDriver (chromedriver) for the browser end-to-end test.
need_pkg chromedriver chromium chromium-driver || true
if command -v chromedriver >/dev/null 2>&1 && { [ -x /usr/lib/chromium/chromium ] || command -v chromium >/dev/null 2>&1; }; then
  echo "Browser tests: on ($(chromedriver --version 2>/dev/null | cut -d' ' -f1-2))"
else
  echo "Browser tests: skipped (no chromium/chromedriver; run as root on Debian, or apt-get install chromium chromium-driver)"
fi

log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
cargo test --workspace --locked "$@" 2>&1 | tee "$log" || status=$?
# One closing line with the totals of every test binary.
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i; if ($(i+1) ~ /^ignored/) s += $i } }
     END { printf "all tests: %d passed, %d failed, %d skipped\n", p, f, s }' "$log"
exit "$status"
