#!/usr/bin/env python3
"""Data plane benchmark: direct vs weft vs Envoy, one run, one machine.

Topology, the same for both proxies (a sidecar pair, as in a mesh):

    oha -> client-side proxy (outbound) ==HTTP/2==> server-side proxy (inbound) -> upstream (1 KB responses)

and "direct" is oha -> upstream. Each proxy runs one worker thread. Load is
open-model (a fixed request rate whatever the latency, with oha's latency
correction), then closed-loop at maximum rate. Prints a Markdown report and
writes JSON next to it in bench/results/.

With --mtls, two more proxy pairs run in the same session and the hop
between the proxies is mutual TLS 1.3 (ECDSA P-256 SPIFFE certificates):
weft's pair gets its certificates from a `weft control` (bootstrap tokens,
as deployed sidecars do) and its client side's endpoint names the server
side's identity; Envoy's pair is given certificates from the same CA in
static TLS transport sockets. The run fails unless the weft server side
counts every request as `connection_security_policy="mutual_tls"`.

Each round also measures the CPU that processes other than the benchmark's
used meanwhile (another build on the machine, say) and redoes the round
after the machine is quiet again when it passes --max-other-cores.

Usage: bench/setup.sh && bench/proxy_bench.py [--rate 1000] [--seconds 20] [--mtls]
"""

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TOOLS = ROOT / "bench" / ".tools"
OHA = TOOLS / "bin" / "oha"
ENVOY = TOOLS / "venv" / "bin" / "envoy"
# Where cargo put the release build (CARGO_TARGET_DIR, as cargo reads it).
RELEASE = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target")) / "release"
WEFT = RELEASE / "weft"
MTLS_LOAD = RELEASE / "weft-mtls-load"

UPSTREAM = "127.0.0.1:18080"
PATH = "/bytes/1024"
HOST = "bench.local"

CONTROL_GRPC = 17012
CONTROL_HTTP = 17014
SERVER_ID = "spiffe://cluster.local/ns/bench/sa/bench-server"
CLIENT_ID = "spiffe://cluster.local/ns/bench/sa/bench-client"

WEFT_CLIENT = """
node: {{ workload: bench-client, namespace: bench{sa} }}
admin_address: 127.0.0.1:{admin}
metrics_address: 127.0.0.1:{metrics}
health_address: null
{control_plane}
listeners:
  - {{ name: outbound, address: "127.0.0.1:{port}", direction: outbound }}
services:
  - name: bench.local
    ports: [{{ port: 80, protocol: http, cluster: server-sidecar }}]
clusters:
  - name: server-sidecar
    protocol: http2
    endpoints: [{{ address: "127.0.0.1:{peer}"{identity} }}]
"""

WEFT_SERVER = """
node: {{ workload: bench-server, namespace: bench{sa} }}
admin_address: 127.0.0.1:{admin}
metrics_address: 127.0.0.1:{metrics}
health_address: null
{control_plane}
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
      {downstream_tls}
  clusters:
  - name: upstream
    type: STATIC
    connect_timeout: 1s
    {h2}
    {upstream_tls}
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


def weft_config(template, mtls=None, **ports):
    """A weft config; `mtls` is (service account, token file, root) for a
    proxy that takes its certificate from the bench's control plane."""
    extra = {"sa": "", "control_plane": "", "identity": ""}
    if mtls:
        sa, token, root = mtls
        extra = {"sa": f", service_account: {sa}",
                 "control_plane": f'control_plane: {{ address: "127.0.0.1:{CONTROL_GRPC}", '
                                  f'ca_bundle: "{root}", token_file: "{token}" }}',
                 "identity": f', identity: "{SERVER_ID}"'}
    return template.format(**ports, **extra)


def envoy_tls(certs, root, sa, upstream_peer=None, alpn="h2", curves=None):
    """An Envoy TLS transport socket (one line of flow YAML): TLS 1.3, this
    side's certificate, peers verified against the root by URI SAN: exactly
    `upstream_peer` on a client side; on a server side a client certificate
    is required and any identity of the trust domain passes, as in weft.
    `curves` replaces Envoy's default key exchange groups."""
    common = {
        "tls_params": {"tls_minimum_protocol_version": "TLSv1_3", "tls_maximum_protocol_version": "TLSv1_3",
                       **({"ecdh_curves": curves} if curves else {})},
        "alpn_protocols": [alpn],
        "tls_certificates": [{"certificate_chain": {"filename": str(certs / f"{sa}.pem")},
                              "private_key": {"filename": str(certs / f"{sa}-key.pem")}}],
        "validation_context": {
            "trusted_ca": {"filename": str(root)},
            "match_typed_subject_alt_names": [{"san_type": "URI", "matcher": (
                {"exact": upstream_peer} if upstream_peer else {"prefix": "spiffe://cluster.local/"})}],
        },
    }
    tls = "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3."
    if upstream_peer:
        typed = {"@type": tls + "UpstreamTlsContext", "common_tls_context": common}
    else:
        typed = {"@type": tls + "DownstreamTlsContext", "require_client_certificate": True,
                 "common_tls_context": common}
    return "transport_socket: " + json.dumps({"name": "envoy.transport_sockets.tls", "typed_config": typed})


class Procs:
    """The processes a run starts, logging into one directory."""

    def __init__(self, logdir):
        self.logdir = logdir
        self.all = []

    def start(self, cmd, log):
        p = subprocess.Popen(cmd, stdout=open(self.logdir / log, "w"), stderr=subprocess.STDOUT)
        self.all.append(p)
        return p

    def pids(self):
        return [p.pid for p in self.all]

    def stop(self):
        for p in self.all:
            p.terminate()
        for p in self.all:
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.kill()


def http_get(url):
    with urllib.request.urlopen(url, timeout=5) as r:
        return r.status, r.read().decode()


def start_control(procs, tmp):
    """`weft control` with a fresh self-signed CA; returns the root's path."""
    state = tmp / "control"
    procs.start([str(WEFT), "control", "--state-dir", str(state), "--grpc-address", f"127.0.0.1:{CONTROL_GRPC}",
                 "--http-address", f"127.0.0.1:{CONTROL_HTTP}"], "control.log")
    wait_port(CONTROL_HTTP)
    return state / "ca" / "root-cert.pem"


def mint_token(sa, path):
    """A single-use bootstrap token for bench/<sa>, as `weft token -n bench -s <sa>` mints it."""
    body = json.dumps({"namespace": "bench", "serviceAccount": sa}).encode()
    req = urllib.request.Request(f"http://127.0.0.1:{CONTROL_HTTP}/api/v1/tokens", data=body,
                                 headers={"content-type": "application/json"})
    with urllib.request.urlopen(req, timeout=5) as r:
        path.write_text(json.loads(r.read())["token"] + "\n")
    return path


def envoy_certs(root, out, *ids):
    """Certificates and keys for Envoy from the control plane's CA."""
    cmd = [str(MTLS_LOAD), "certs", "--ca-dir", str(root.parent), "--out", str(out)]
    for spiffe_id in ids:
        cmd += ["--id", spiffe_id]
    subprocess.run(cmd, check=True, capture_output=True)
    return out


def wait_ready(admin, timeout=30.0):
    """Until a weft proxy's `/ready` is 200 (certificate and config in hand)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            if http_get(f"http://127.0.0.1:{admin}/ready")[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"the proxy with admin port {admin} never became ready")


def destination_requests(metrics):
    """Requests a weft server side has counted: (over mutual TLS, other)."""
    mtls = other = 0.0
    for line in http_get(f"http://127.0.0.1:{metrics}/stats/prometheus")[1].splitlines():
        if line.startswith("istio_requests_total{") and 'reporter="destination"' in line:
            value = float(line.rsplit(" ", 1)[1])
            if 'connection_security_policy="mutual_tls"' in line:
                mtls += value
            else:
                other += value
    return mtls, other


def envoy_stat(admin, name):
    """One Envoy counter, summed over whatever it is prefixed with."""
    text = http_get(f"http://127.0.0.1:{admin}/stats?filter={name}$")[1]
    return sum(int(line.rsplit(": ", 1)[1]) for line in text.splitlines() if line.endswith(tuple("0123456789")))


class MtlsCheck:
    """Fails the run unless every request a weft server side served in a
    round came over mutual TLS."""

    def __init__(self, metrics):
        self.metrics = metrics

    def before(self):
        return destination_requests(self.metrics)

    def after(self, before, result):
        mtls, other = destination_requests(self.metrics)
        sent = sum(result.get("statusCodeDistribution", {}).values())
        if mtls - before[0] < sent or other != before[1]:
            raise RuntimeError(f"weft mTLS: the server side counted {mtls - before[0]:.0f} requests over mutual "
                               f"TLS and {other - before[1]:.0f} others for {sent} answered")


def busy_cpu_seconds():
    """CPU time of the whole machine that was not idle: user, nice, system,
    irq, softirq, and steal (the hypervisor running someone else)."""
    user, nice, system, _idle, _iowait, irq, softirq, steal = map(
        int, Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def children_cpu_seconds():
    """CPU time of this script's finished children (oha runs)."""
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def kernel_threads_cpu_seconds():
    """CPU time of the kernel's threads (ksoftirqd and kworkers carry some
    of the benchmark's own loopback traffic)."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # gone meanwhile
        if fields[1] in ("0", "2"):  # kthreadd's children (and kthreadd)
            total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


class Others:
    """CPU that processes other than the benchmark's (this script, its oha
    runs and `pids`) and the kernel's threads use from now on, in cores;
    steal time counts too."""

    def __init__(self, pids):
        self.pids = pids
        self.t0, self.busy0, self.ours0 = time.time(), busy_cpu_seconds(), self.ours()

    def ours(self):
        r = resource.getrusage(resource.RUSAGE_SELF)
        return (sum(cpu_seconds(p) for p in self.pids) + children_cpu_seconds() + r.ru_utime + r.ru_stime
                + kernel_threads_cpu_seconds())

    def cores(self):
        elapsed = time.time() - self.t0
        return ((busy_cpu_seconds() - self.busy0) - (self.ours() - self.ours0)) / elapsed


def wait_quiet(pids, max_cores, timeout):
    """Until processes other than ours use under `max_cores` over 3 s."""
    deadline = time.time() + timeout
    while True:
        others = Others(pids)
        time.sleep(3)
        busy = others.cores()
        if busy < max_cores or time.time() > deadline:
            return busy
        print(f"  machine busy ({busy:.2f} cores used by other processes); waiting", file=sys.stderr)
        time.sleep(20)


def quietly(measure, pids, args):
    """Runs `measure()` and redoes it (up to 3 times) when other processes
    took more than --max-other-cores meanwhile; records what they took."""
    for attempt in range(3):
        wait_quiet(pids, args.max_other_cores, args.quiet_timeout)
        others = Others(pids)
        row = measure()
        busy = others.cores()
        if busy < args.max_other_cores:
            break
        print(f"  other processes used {busy:.2f} cores during that round; redoing it", file=sys.stderr)
    return row, busy


def wait_port(port, timeout=15.0):
    import socket

    deadline = time.time() + timeout
    while time.time() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listening on {port}")


def rss_kb(pid, field="VmRSS"):
    """VmRSS, or RssAnon: the part that is not the binary's mapped pages."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
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


def measure_fixed(name, url, pids, args, check=None):
    """One fixed-rate round for one path, sampling RSS and CPU meanwhile."""
    checked = check.before() if check else None
    cpu0 = {p: cpu_seconds(p) for p in pids}
    t0 = time.time()
    fixed, cmd = oha(url, args.seconds, rate=args.rate)
    elapsed = time.time() - t0
    if check:
        check.after(checked, fixed)
    row = {"path": name, "fixed": summarize(fixed), "rss_kb": [rss_kb(p) for p in pids],
           "rss_anon_kb": [rss_kb(p, "RssAnon") for p in pids],
           "cpu_cores": [(cpu_seconds(p) - cpu0[p]) / elapsed for p in pids], "commands": [" ".join(cmd)]}
    print(f"  {name} @ {args.rate} rps: {row['fixed']} rss {row['rss_kb']} cpu {row['cpu_cores']}", file=sys.stderr)
    return row


def measure_max(name, url, row, args, check=None):
    """One maximum-rate round for one path, added to its fixed-rate row."""
    checked = check.before() if check else None
    maxed, cmd = oha(url, args.max_seconds, conns=args.max_conns)
    if check:
        check.after(checked, maxed)
    row["max"] = summarize(maxed)
    row["commands"].append(" ".join(cmd))
    print(f"  {name} max: {row['max']['rps']:.0f} rps", file=sys.stderr)
    return row


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
        "rss_anon_kb": [med(lambda r: r["rss_anon_kb"][i]) for i in range(len(first["rss_anon_kb"]))],
        "cpu_cores": [med(lambda r: r["cpu_cores"][i]) for i in range(len(first["cpu_cores"]))],
        "commands": first["commands"],
        "other_cores_max": max(max(r.get("other_cores", [0.0])) for r in rounds),
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rate", type=int, default=1000)
    ap.add_argument("--seconds", type=int, default=20)
    ap.add_argument("--max-seconds", type=int, default=15)
    ap.add_argument("--max-conns", type=int, default=64)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--mtls", action="store_true", help="also run both proxy pairs with mTLS between them")
    ap.add_argument("--max-other-cores", type=float, default=0.15,
                    help="redo a round when other processes used more CPU than this meanwhile")
    ap.add_argument("--quiet-timeout", type=int, default=1800,
                    help="seconds to wait for a quiet machine before measuring anyway")
    args = ap.parse_args()
    for tool in (OHA, ENVOY):
        if not tool.exists():
            sys.exit(f"{tool} missing: run bench/setup.sh")
    packages = ["-p", "weft-proxy", "-p", "weft-sample"]
    if args.mtls:
        packages += ["-p", "weft-cli", "-p", "weft-mtls-load"]
    subprocess.run(["cargo", "build", "--release", *packages], cwd=ROOT, check=True)

    tmp = Path(tempfile.mkdtemp(prefix="weft-bench-"))
    procs = Procs(tmp)
    start = procs.start
    try:
        start([str(RELEASE / "weft-sample"), "echo", "--http", UPSTREAM], "upstream.log")
        (tmp / "server.yaml").write_text(weft_config(WEFT_SERVER, admin=15100, metrics=15190, port=15106))
        (tmp / "client.yaml").write_text(weft_config(WEFT_CLIENT, admin=15000, metrics=15090, port=15101, peer=15106))
        weft = ["--concurrency", "1", "--log-level", "warn"]
        ws = start([str(RELEASE / "weft-proxy"), "-c", str(tmp / "server.yaml"), *weft], "weft-server.log")
        wc = start([str(RELEASE / "weft-proxy"), "-c", str(tmp / "client.yaml"), *weft], "weft-client.log")
        plain = {"h2": "", "downstream_tls": "", "upstream_tls": ""}
        (tmp / "envoy-server.yaml").write_text(ENVOY_CONFIG.format(admin=16100, port=16106, upstream=18080, **plain))
        (tmp / "envoy-client.yaml").write_text(ENVOY_CONFIG.format(admin=16000, port=16101, upstream=16106,
                                                                   **(plain | {"h2": H2})))
        envoy = ["--concurrency", "1", "--log-level", "warn", "--disable-hot-restart"]
        es = start([str(ENVOY), "-c", str(tmp / "envoy-server.yaml"), "--base-id", "11", *envoy], "envoy-server.log")
        ec = start([str(ENVOY), "-c", str(tmp / "envoy-client.yaml"), "--base-id", "12", *envoy], "envoy-client.log")
        for port in (18080, 15106, 15101, 16106, 16101):
            wait_port(port)
        paths = [("direct", f"http://{UPSTREAM}{PATH}", [], None),
                 ("weft", f"http://127.0.0.1:15101{PATH}", [wc.pid, ws.pid], None),
                 ("envoy", f"http://127.0.0.1:16101{PATH}", [ec.pid, es.pid], None)]
        if args.mtls:
            paths += start_mtls_pairs(procs, tmp)
        for _, url, _, _ in paths:
            oha(url, 2, rate=args.rate)  # warm up connections and pools
        if args.mtls:
            check_envoy_mtls()
        # Rounds interleave the paths so slow drifts in machine noise hit
        # all three alike; the report takes the median of each metric.
        # RSS is read during the fixed-rate rounds, which all run before
        # any maximum-rate round: malloc keeps what a load peak took.
        rounds = {name: [] for name, _, _, _ in paths}
        for i in range(args.rounds):
            print(f"fixed-rate round {i + 1}/{args.rounds}", file=sys.stderr)
            for name, url, pids, check in paths:
                row, others = quietly(lambda: measure_fixed(name, url, pids, args, check), procs.pids(), args)
                row["other_cores"] = [others]
                rounds[name].append(row)
        for i in range(args.rounds):
            print(f"max-rate round {i + 1}/{args.rounds}", file=sys.stderr)
            for name, url, _, check in paths:
                row = rounds[name][i]
                _, others = quietly(lambda: measure_max(name, url, row, args, check), procs.pids(), args)
                row["other_cores"].append(others)
        rows = [median_row(rounds[name]) for name, _, _, _ in paths]
    finally:
        procs.stop()

    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                          text=True).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", "crates"], cwd=ROOT,
                           capture_output=True, text=True).stdout.strip()
    versions = {
        "weft": head + (" (with uncommitted changes in crates/)" if dirty else ""),
        "envoy": subprocess.run([str(ENVOY), "--version"], capture_output=True, text=True).stdout.strip()
                 .split("version: ")[-1],
        "oha": subprocess.run([str(OHA), "--version"], capture_output=True, text=True).stdout.strip(),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.release()}",
    }
    report = {"versions": versions, "rate": args.rate, "seconds": args.seconds, "rounds": args.rounds,
              "mtls": args.mtls, "rows": rows, "all_rounds": rounds}
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    (out / f"proxy-{'mtls-' if args.mtls else ''}{stamp}.json").write_text(json.dumps(report, indent=2))
    print(markdown(report))


def start_mtls_pairs(procs, tmp):
    """The control plane, then weft's and Envoy's mTLS pairs; their paths."""
    start = procs.start
    root = start_control(procs, tmp)
    weft = ["--concurrency", "1", "--log-level", "warn"]
    for side, sa, ports in (("server", "bench-server", {"admin": 15300, "metrics": 15390, "port": 15306}),
                            ("client", "bench-client", {"admin": 15200, "metrics": 15290, "port": 15201,
                                                        "peer": 15306})):
        token = mint_token(sa, tmp / f"{sa}.token")
        template = WEFT_SERVER if side == "server" else WEFT_CLIENT
        (tmp / f"mtls-{side}.yaml").write_text(weft_config(template, mtls=(sa, token, root), **ports))
    ws = start([str(RELEASE / "weft-proxy"), "-c", str(tmp / "mtls-server.yaml"), *weft], "weft-mtls-server.log")
    wc = start([str(RELEASE / "weft-proxy"), "-c", str(tmp / "mtls-client.yaml"), *weft], "weft-mtls-client.log")

    certs = envoy_certs(root, tmp / "certs", SERVER_ID, CLIENT_ID)
    server_tls = envoy_tls(certs, root, "bench-server")
    client_tls = envoy_tls(certs, root, "bench-client", upstream_peer=SERVER_ID)
    (tmp / "envoy-mtls-server.yaml").write_text(ENVOY_CONFIG.format(
        admin=16300, port=16306, upstream=18080, h2="", downstream_tls=server_tls, upstream_tls=""))
    (tmp / "envoy-mtls-client.yaml").write_text(ENVOY_CONFIG.format(
        admin=16200, port=16201, upstream=16306, h2=H2, downstream_tls="", upstream_tls=client_tls))
    envoy = ["--concurrency", "1", "--log-level", "warn", "--disable-hot-restart"]
    es = start([str(ENVOY), "-c", str(tmp / "envoy-mtls-server.yaml"), "--base-id", "13", *envoy],
               "envoy-mtls-server.log")
    ec = start([str(ENVOY), "-c", str(tmp / "envoy-mtls-client.yaml"), "--base-id", "14", *envoy],
               "envoy-mtls-client.log")
    for admin in (15300, 15200):
        wait_ready(admin)
    for port in (16306, 16201):
        wait_port(port)
    return [("weft-mtls", f"http://127.0.0.1:15201{PATH}", [wc.pid, ws.pid], MtlsCheck(15390)),
            ("envoy-mtls", f"http://127.0.0.1:16201{PATH}", [ec.pid, es.pid], None)]


def check_envoy_mtls():
    """Envoy's server side has only a TLS filter chain that requires a
    client certificate; check that handshakes happened on both sides."""
    server, client = envoy_stat(16300, "ssl.handshake"), envoy_stat(16200, "ssl.handshake")
    if not (server and client):
        raise RuntimeError(f"Envoy mTLS: {server} handshakes on the server side, {client} on the client side")


def markdown(r):
    d = {row["path"]: row for row in r["rows"]}
    names = [row["path"] for row in r["rows"]]
    lines = [f"Fixed rate {r['rate']} rps over 16 connections for {r['seconds']} s, 1 KB responses; "
             f"then maximum rate over 64 connections; median of {r['rounds']} interleaved rounds. "
             f"{r['versions']['machine']}.", "",
             "| path | p50 ms | p90 ms | p99 ms | added p50 | added p90 | added p99 | success | max rps "
             "| RSS per proxy (MB) | CPU per proxy at fixed rate (cores) |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    base = d["direct"]["fixed"]
    for name in names:
        row = d[name]
        f = row["fixed"]
        added = [f[k] - base[k] for k in ("p50_ms", "p90_ms", "p99_ms")]
        rss = ", ".join(f"{kb / 1024:.1f}" for kb in row["rss_kb"]) or "-"
        cpu = ", ".join(f"{c:.2f}" for c in row["cpu_cores"]) or "-"
        lines.append(f"| {name} | {f['p50_ms']:.3f} | {f['p90_ms']:.3f} | {f['p99_ms']:.3f} | "
                     + " | ".join(f"{a:+.3f}" for a in added)
                     + f" | {f['success'] * 100:.2f}% | {row['max']['rps']:.0f} | {rss} | {cpu} |")
    added_p99 = lambda row: row["fixed"]["p99_ms"] - base["p99_ms"]
    lines.append("")
    for suffix in ("", "-mtls") if r.get("mtls") else ("",):
        w, e = d["weft" + suffix], d["envoy" + suffix]
        label = " with mTLS" if suffix else ""
        lines += [f"- weft{label} added p99 / Envoy{label} added p99: {added_p99(w) / added_p99(e):.2f} (target <= 0.5)"
                  if added_p99(e) > 0 else f"- Envoy{label} added no p99 latency in this run",
                  f"- weft{label} max rps / Envoy{label} max rps: {w['max']['rps'] / e['max']['rps']:.2f} (target >= 1.0)",
                  f"- weft{label} RSS at {r['rate']} rps: {max(w['rss_kb']) / 1024:.1f} MB per proxy (target <= 10 MB), "
                  f"of which {max(w['rss_anon_kb']) / 1024:.1f} MB anonymous (the rest is the binary's mapped pages); "
                  f"Envoy{label} {max(e['rss_anon_kb']) / 1024:.1f} MB anonymous"]
    if r.get("mtls"):
        for proxy in ("weft", "envoy"):
            plain, mtls = d[proxy], d[proxy + "-mtls"]
            lines.append(f"- {proxy}, cost of mTLS: p99 {mtls['fixed']['p99_ms'] - plain['fixed']['p99_ms']:+.3f} ms, "
                         f"max rps {mtls['max']['rps'] / plain['max']['rps'] - 1:+.1%}, CPU per proxy at "
                         f"{r['rate']} rps " + ", ".join(f"{m - p:+.2f}" for m, p in zip(mtls["cpu_cores"],
                                                                                       plain["cpu_cores"])))
    lines += ["", "Most CPU other processes used during a round of each path (cores): "
              + ", ".join(f"{name} {d[name].get('other_cores_max', 0):.2f}" for name in names)]
    lines += ["", "Versions: " + ", ".join(f"{k} {v}" for k, v in r["versions"].items() if k != "machine")]
    for row in r["rows"]:
        lines.append(f"- `{row['path']}`: `{row['commands'][0]}`; `{row['commands'][1]}`")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
