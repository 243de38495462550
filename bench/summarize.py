#!/usr/bin/env python3
"""One table from a bench/run.sh results folder: median of runs for req/s, p50, p99, server CPU%,
ratios to the peer (node-oidc-provider) and to the bare-axum ceiling, resident memory.
Usage: summarize.py RESULTS_DIR"""
import re
import statistics
import sys
from collections import defaultdict
from pathlib import Path

UNIT = {"us": 0.001, "ms": 1.0, "s": 1000.0}
# mailgrant row -> (title, peer row it is compared with, target)
ROWS = {
    "mg-token": ("POST /oauth/token client_credentials", "oidc-token", ">= 5x peer"),
    "mg-introspect": ("POST /oauth/introspect", "oidc-introspect", ">= 0.5x axum"),
    "mg-account": ("GET /v1/account (bearer)", "oidc-introspect", ">= 0.5x axum"),
    "mg-refresh": ("POST /oauth/token refresh_token", "oidc-token", "0 non-2xx"),
    "mg-code": ("POST /oauth/token authorization_code", "oidc-token", "0 non-2xx"),
}
PEERS = {
    "oidc-token": "peer: oidc-provider POST /token",
    "oidc-introspect": "peer: oidc-provider introspection",
    "rust-hello-w1": "ceiling: bare axum, 1 worker",
}
CEILING = "rust-hello-w1"


def ms(v):
    m = re.fullmatch(r"([\d.]+)(us|ms|s)", v)
    return float(m.group(1)) * UNIT[m.group(2)]


def parse(text):
    r = {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))}
    for pct in ("50", "99"):
        r["p" + pct] = ms(re.search(rf"^\s+{pct}%\s+(\S+)", text, re.M).group(1))
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    r["non2xx"] = int(m.group(1)) if m else 0
    r["reused"] = "bodies exhausted" in text
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    r["sockerr"] = sum(map(int, m.groups())) if m else 0
    m = re.search(r"server_cpu_pct: (\d+)", text)
    r["cpu"] = int(m.group(1)) if m else None
    m = re.search(r"server_rss_kb_load: (\d+)", text)
    r["rss"] = int(m.group(1)) if m else None
    m = re.search(r"host_steal_pct: ([\d.]+)", text)
    r["steal"] = float(m.group(1)) if m else None
    return r


d = Path(sys.argv[1])
runs = defaultdict(list)
for f in sorted(d.glob("*.run*.txt")):
    runs[f.name.split(".run")[0]].append(parse(f.read_text()))
med = {name: {k: statistics.median(r[k] for r in rs if r[k] is not None) if any(r[k] is not None for r in rs) else None
              for k in ("rps", "p50", "p99", "cpu", "rss", "steal")} | {"non2xx": sum(r["non2xx"] for r in rs),
                                                               "sockerr": sum(r["sockerr"] for r in rs),
                                                               "reused": any(r["reused"] for r in rs),
                                                               "each": "/".join("%.0f" % r["rps"] for r in rs)}
       for name, rs in runs.items()}

env = d / "env.txt"
if env.exists():
    print(env.read_text().rstrip())
idle = d / "mailgrant.idle.txt"
if idle.exists():
    kb = int(idle.read_text().split(":")[1])
    print(f"mailgrant resident memory idle: {kb / 1024:.1f} MiB")
print()
print("| benchmark | req/s (runs) | p50 ms | p99 ms | srv CPU% | steal % | vs peer | vs axum | RSS load MiB | errors | target |")
print("|---|---|---|---|---|---|---|---|---|---|---|")


def ratio(a, b):
    return f"{a / b:.2f}x" if a is not None and b else "–"


for name, (title, peer, target) in ROWS.items():
    m = med.get(name)
    if m is None:
        print(f"| {title} | not run | | | | | | | | | {target} |")
        continue
    p = med.get(peer, {}).get("rps")
    c = med.get(CEILING, {}).get("rps")
    rss = f"{m['rss'] / 1024:.1f}" if m["rss"] else "–"
    # Refused requests are fast: a row with any non-2xx answer measured the wrong thing.
    errors = f"**{m['non2xx']} non-2xx: INVALID**" if m["non2xx"] else m["sockerr"]
    if m["reused"]:
        errors = "**bodies reused: INVALID**"
    steal = f"{m['steal']:.1f}" if m["steal"] is not None else "–"
    print(f"| {title} | **{m['rps']:.0f}** ({m['each']}) | {m['p50']:.2f} | {m['p99']:.2f} | {m['cpu']} | {steal} "
          f"| {ratio(m['rps'], p)} | {ratio(m['rps'], c)} | {rss} | {errors} | {target} |")
for name, title in PEERS.items():
    m = med.get(name)
    if m is None:
        print(f"| {title} | not run | | | | | | | | | |")
        continue
    print(f"| {title} | {m['rps']:.0f} ({m['each']}) | {m['p50']:.2f} | {m['p99']:.2f} | {m['cpu']} | "
          f"| | {ratio(m['rps'], med.get(CEILING, {}).get('rps'))} | | {m['non2xx'] + m['sockerr']} | |")
