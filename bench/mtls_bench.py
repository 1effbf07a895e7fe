#!/usr/bin/env python3
"""mTLS benchmarks beyond the data plane's (issue 4): handshakes and CSR signing.

1. New-connection mTLS handshakes per second per core of proxy CPU:

       weft-mtls-load handshake -> [TCP + TLS 1.3 mTLS, ALPN weft/tcp, no resumption]
           -> server side (weft-proxy or Envoy, one worker thread, inbound) -> TCP echo

   Each connection: handshake (client certificate required, SPIFFE IDs
   checked), 4 bytes echoed, close, wait for the server's close. The
   proxy's CPU comes from /proc/<pid>/stat.

2. CSR signings per second: `Ca::sign` in process on one thread, and
   `weft.mesh.v1.Certificates/Sign` against `weft control` over gRPC,
   renewing with a workload certificate (mTLS), over one shared HTTP/2
   connection and with a new connection per CSR (as a proxy renews).

Every measurement is repeated --rounds times (interleaved, after waiting
for a quiet machine; see proxy_bench.py) and reported as medians. Prints a
Markdown report and writes JSON to bench/results/.

Usage: bench/setup.sh && bench/mtls_bench.py [--rounds 3] [--seconds 10]
"""

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from proxy_bench import (ENVOY, MTLS_LOAD, RELEASE, ROOT, SERVER_ID, CLIENT_ID, CONTROL_GRPC, Procs, envoy_certs,
                         envoy_tls, mint_token, quietly, start_control, wait_port, wait_ready, weft_config)

ECHO = 18081

WEFT_TCP_SERVER = """
node: {{ workload: bench-server, namespace: bench{sa} }}
admin_address: 127.0.0.1:{admin}
metrics_address: 127.0.0.1:{metrics}
health_address: null
{control_plane}
listeners:
  - {{ name: inbound, address: "127.0.0.1:{port}", direction: inbound, target_port: {echo} }}
inbound:
  - {{ port: {echo}, protocol: tcp }}
"""

ENVOY_TCP_SERVER = """
admin:
  address: {{ socket_address: {{ address: 127.0.0.1, port_value: {admin} }} }}
static_resources:
  listeners:
  - name: inbound
    address: {{ socket_address: {{ address: 127.0.0.1, port_value: {port} }} }}
    filter_chains:
    - filters:
      - name: envoy.filters.network.tcp_proxy
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy
          stat_prefix: inbound
          cluster: app
      {downstream_tls}
  clusters:
  - name: app
    type: STATIC
    connect_timeout: 1s
    load_assignment:
      cluster_name: app
      endpoints:
      - lb_endpoints:
        - endpoint: {{ address: {{ socket_address: {{ address: 127.0.0.1, port_value: {echo} }} }} }}
"""


def load_tool(*argv):
    """One run of weft-mtls-load; its JSON report."""
    cmd = [str(MTLS_LOAD), *map(str, argv)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True)
    result = json.loads(out.stdout)
    result["command"] = " ".join(cmd)
    return result


def median(rounds, *keys):
    def get(r):
        for k in keys:
            r = r[k]
        return r
    return statistics.median(get(r) for r in rounds)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--concurrency", type=int, default=16, help="connections or CSRs in flight")
    ap.add_argument("--max-other-cores", type=float, default=0.15,
                    help="redo a round when other processes used more CPU than this meanwhile")
    ap.add_argument("--quiet-timeout", type=int, default=1800)
    args = ap.parse_args()
    if not ENVOY.exists():
        sys.exit(f"{ENVOY} missing: run bench/setup.sh")
    subprocess.run(["cargo", "build", "--release", "-p", "weft-proxy", "-p", "weft-sample", "-p", "weft-cli",
                    "-p", "weft-mtls-load"], cwd=ROOT, check=True)

    tmp = Path(tempfile.mkdtemp(prefix="weft-mtls-bench-"))
    procs = Procs(tmp)
    start = procs.start
    load = ["--concurrency", args.concurrency, "--seconds", args.seconds, "--warmup", 2]
    try:
        start([str(RELEASE / "weft-sample"), "echo", "--tcp", f"127.0.0.1:{ECHO}"], "echo.log")
        root = start_control(procs, tmp)
        control = procs.all[-1]
        token = mint_token("bench-server", tmp / "bench-server.token")
        (tmp / "weft.yaml").write_text(weft_config(WEFT_TCP_SERVER, mtls=("bench-server", token, root), admin=15400,
                                                   metrics=15490, port=15406, echo=ECHO))
        weft = start([str(RELEASE / "weft-proxy"), "-c", str(tmp / "weft.yaml"), "--concurrency", "1",
                      "--log-level", "warn"], "weft.log")
        certs = envoy_certs(root, tmp / "certs", SERVER_ID, CLIENT_ID)
        # Envoy twice: with the key exchange weft and its client agree on
        # (X25519), and with Envoy's default groups, which prefer the
        # post-quantum hybrid X25519MLKEM768: the client then sends a second
        # ClientHello (HelloRetryRequest) with that key share.
        envoys = []
        for i, (name, curves) in enumerate((("envoy", ["X25519"]), ("envoy-default-groups", None))):
            tls = envoy_tls(certs, root, "bench-server", alpn="weft/tcp", curves=curves)
            (tmp / f"{name}.yaml").write_text(ENVOY_TCP_SERVER.format(admin=16400 + i * 10, port=16406 + i * 10,
                                                                      echo=ECHO, downstream_tls=tls))
            envoys.append((name, 16406 + i * 10, start(
                [str(ENVOY), "-c", str(tmp / f"{name}.yaml"), "--base-id", str(15 + i), "--concurrency", "1",
                 "--log-level", "warn", "--disable-hot-restart"], f"{name}.log").pid))
        wait_ready(15400)
        for _, port, _ in envoys:
            wait_port(port)
        # The same connections in plain TCP through weft's listener: what
        # a connection costs apart from TLS.
        servers = [("weft", 15406, weft.pid, []), ("weft-plaintext", 15406, weft.pid, ["--plaintext"])]
        servers += [(name, port, pid, []) for name, port, pid in envoys]

        results = {"handshake": {name: [] for name, _, _, _ in servers},
                   "sign_local": [], "sign_grpc_shared": [], "sign_grpc_fresh": []}

        def sign_grpc(fresh, i):
            token = mint_token("bench-signer", tmp / f"signer-{fresh}-{i}.token")
            flags = ["--fresh-connection"] if fresh else []
            return load_tool("sign-grpc", "--address", f"127.0.0.1:{CONTROL_GRPC}", "--bundle", root,
                             "--token-file", token, "--pid", control.pid, *load, *flags)

        for i in range(args.rounds):
            print(f"round {i + 1}/{args.rounds}", file=sys.stderr)
            for name, port, pid, flags in servers:
                r, others = quietly(lambda: load_tool("handshake", "--address", f"127.0.0.1:{port}",
                                                      "--ca-dir", root.parent, "--pid", pid, *load, *flags),
                                    procs.pids(), args)
                r["other_cores"] = others
                print(f"  handshakes, {name}: {r['per_second']:.0f}/s, {r['target_cores']:.2f} cores "
                      f"({r['per_target_cpu_second']:.0f} per core-second), client {r['client_cores']:.2f} cores, "
                      f"{r['failures']} failures", file=sys.stderr)
                results["handshake"][name].append(r)
            r, others = quietly(lambda: load_tool("sign-local", "--seconds", min(args.seconds, 5)), procs.pids(), args)
            r["other_cores"] = others
            print(f"  Ca::sign in process: {r['sign']['per_second']:.0f}/s", file=sys.stderr)
            results["sign_local"].append(r)
            for key, fresh in (("sign_grpc_shared", False), ("sign_grpc_fresh", True)):
                r, others = quietly(lambda: sign_grpc(fresh, i), procs.pids(), args)
                r["other_cores"] = others
                print(f"  {key}: {r['per_second']:.0f}/s, control plane {r['target_cores']:.2f} cores "
                      f"({r['per_target_cpu_second']:.0f} per core-second)", file=sys.stderr)
                results[key].append(r)
    finally:
        procs.stop()

    versions = {
        "weft": subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                               text=True).stdout.strip(),
        "envoy": subprocess.run([str(ENVOY), "--version"], capture_output=True, text=True).stdout.strip()
                 .split("version: ")[-1],
    }
    report = {"versions": versions, "rounds": args.rounds, "seconds": args.seconds,
              "concurrency": args.concurrency, "results": results}
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / f"mtls-{time.strftime('%Y%m%d-%H%M%S')}.json").write_text(json.dumps(report, indent=2))
    print(markdown(report))


def markdown(r):
    res = r["results"]
    n = r["rounds"]
    lines = [f"Medians of {n} rounds of {r['seconds']:g} s, {r['concurrency']} in flight. "
             f"weft {r['versions']['weft']}, Envoy {r['versions']['envoy']}.", "",
             "| server (one worker thread) | connections/s | server CPU (cores) | connections per server CPU-second "
             "| client CPU (cores) | failures | negotiated |",
             "|---|---|---|---|---|---|---|"]
    for name, rounds in res["handshake"].items():
        neg = rounds[0].get("negotiated", {"version": "plain TCP", "suite": "-", "group": "-"})
        lines.append(f"| {name} | {median(rounds, 'per_second'):.0f} | {median(rounds, 'target_cores'):.2f} "
                     f"| **{median(rounds, 'per_target_cpu_second'):.0f}** | {median(rounds, 'client_cores'):.2f} "
                     f"| {sum(x['failures'] for x in rounds)} | {neg['version']}, {neg['suite']}, {neg['group']} |")
    lines.append("")
    lines += ["| CSR signing | signings/s | signer CPU (cores) | signings per signer CPU-second |",
              "|---|---|---|---|"]
    local = res["sign_local"]
    lines.append(f"| `Ca::sign` in process, one thread | {median(local, 'sign', 'per_second'):.0f} "
                 f"| {median(local, 'sign', 'client_cores'):.2f} | **{median(local, 'sign', 'per_client_cpu_second'):.0f}** |")
    lines.append(f"| (workload side: P-256 key pair + CSR, one thread) | {median(local, 'keygen_csr', 'per_second'):.0f} "
                 f"| {median(local, 'keygen_csr', 'client_cores'):.2f} "
                 f"| {median(local, 'keygen_csr', 'per_client_cpu_second'):.0f} |")
    for key, label in (("sign_grpc_shared", "gRPC renewal, one shared mTLS connection"),
                       ("sign_grpc_fresh", "gRPC renewal, a new mTLS connection per CSR")):
        rounds = res[key]
        lines.append(f"| {label} | {median(rounds, 'per_second'):.0f} | {median(rounds, 'target_cores'):.2f} "
                     f"| **{median(rounds, 'per_target_cpu_second'):.0f}** |")
    others = [x["other_cores"] for v in res["handshake"].values() for x in v]
    others += [x["other_cores"] for k in ("sign_local", "sign_grpc_shared", "sign_grpc_fresh") for x in res[k]]
    lines += ["", f"Most CPU other processes used during a round: {max(others):.2f} cores.", ""]
    lines += [f"- `{rounds[0]['command']}`" for rounds in res["handshake"].values()]
    lines += [f"- `{res[k][0]['command']}`" for k in ("sign_local", "sign_grpc_shared", "sign_grpc_fresh")]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
