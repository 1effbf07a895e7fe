#!/usr/bin/env python3
"""Telemetry overhead: the same weft sidecar pair as proxy_bench.py, with
tracing (every request sampled, spans exported over OTLP/HTTP to a local
sink) and access logs (to /dev/null) on, against the pair with both off.
Metrics are always on. Reports the throughput and latency cost; the
target is under 5% of throughput.

Usage: bench/setup.sh && bench/telemetry_bench.py [--rate 1000] [--seconds 10] [--rounds 3]
    [--sampling 100] [--no-access-log | --no-tracing] [--compare-bin-dir DIR]
Each cost alone: `--no-access-log` (tracing only), `--no-tracing` (access
logs only). Honours CARGO_TARGET_DIR, as cargo does; `--bin-dir` runs
saved binaries instead of building; `--compare-bin-dir` adds a third pair
with telemetry on, running another build's weft-proxy, in the same
rounds (before/after comparisons on equal terms).

The cost is computed per round (each round's off and on ran seconds
apart) and the median of those is reported, with the proxies' CPU time
per request at maximum rate: on a shared 2-core machine the rates of
whole runs drift by more than the cost being measured, the paired ratio
and the CPU per request much less.
"""

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import proxy_bench as pb  # noqa: E402

SINK = "127.0.0.1:14318"


def telemetry(sampling, access_log):
    """The `on` pair's extra config: tracing at `sampling` percent (none
    when `sampling` is None), and access logs to /dev/null when asked for."""
    text = "\n"
    if sampling is not None:
        text += f'tracing: {{ otlp: {{ endpoint: "{SINK}", protocol: http_protobuf }}, sampling: {sampling} }}\n'
    if access_log:
        text += "access_log: { path: /dev/null }\n"
    return text


class Sink(BaseHTTPRequestHandler):
    """An OTLP/HTTP receiver that accepts every export and counts them."""

    exports = 0

    def do_POST(self):
        self.rfile.read(int(self.headers.get("content-length", 0)))
        Sink.exports += 1
        self.send_response(200)
        self.send_header("content-type", "application/x-protobuf")
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rate", type=int, default=1000)
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--max-seconds", type=int, default=10)
    ap.add_argument("--max-conns", type=int, default=64)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--max-other-cores", type=float, default=0.15)
    ap.add_argument("--quiet-timeout", type=int, default=600)
    ap.add_argument("--sampling", type=float, default=100.0,
                    help="percent of requests traced (Istio's default is 1)")
    ap.add_argument("--no-access-log", action="store_true")
    ap.add_argument("--no-tracing", action="store_true",
                    help="access logs alone: the cost of logging without tracing's")
    ap.add_argument("--bin-dir", type=Path,
                    help="take weft-proxy and weft-sample from here, unbuilt (to compare saved builds)")
    ap.add_argument("--compare-bin-dir", type=Path,
                    help="also run this build's weft-proxy with telemetry on, in the same rounds")
    args = ap.parse_args()
    if args.no_tracing and args.no_access_log:
        sys.exit("--no-tracing with --no-access-log measures nothing")
    if not pb.OHA.exists():
        sys.exit(f"{pb.OHA} missing: run bench/setup.sh")
    if args.bin_dir:
        pb.RELEASE = args.bin_dir
    else:
        subprocess.run(["cargo", "build", "--release", "-p", "weft-proxy", "-p", "weft-sample"], cwd=pb.ROOT,
                       check=True)
    host, port = SINK.split(":")
    sink = ThreadingHTTPServer((host, int(port)), Sink)
    threading.Thread(target=sink.serve_forever, daemon=True).start()

    tmp = Path(tempfile.mkdtemp(prefix="weft-telemetry-bench-"))
    procs = pb.Procs(tmp)
    start = procs.start
    weft = ["--concurrency", "1", "--log-level", "warn"]
    try:
        start([str(pb.RELEASE / "weft-sample"), "echo", "--http", pb.UPSTREAM], "upstream.log")
        pairs = []
        on = telemetry(None if args.no_tracing else args.sampling, not args.no_access_log)
        configs = [("weft", "", 15000, pb.RELEASE), ("weft-telemetry", on, 15400, pb.RELEASE)]
        if args.compare_bin_dir:
            configs.append(("weft-telemetry-compared", on, 15800, args.compare_bin_dir))
        for name, extra, base, bins in configs:
            server = pb.weft_config(pb.WEFT_SERVER, admin=base + 100, metrics=base + 190, port=base + 106) + extra
            client = pb.weft_config(pb.WEFT_CLIENT, admin=base, metrics=base + 90, port=base + 1,
                                    peer=base + 106) + extra
            (tmp / f"{name}-server.yaml").write_text(server)
            (tmp / f"{name}-client.yaml").write_text(client)
            ws = start([str(bins / "weft-proxy"), "-c", str(tmp / f"{name}-server.yaml"), *weft],
                       f"{name}-server.log")
            wc = start([str(bins / "weft-proxy"), "-c", str(tmp / f"{name}-client.yaml"), *weft],
                       f"{name}-client.log")
            pairs.append((name, f"http://127.0.0.1:{base + 1}{pb.PATH}", [wc.pid, ws.pid], None))
        for p in (18080, *(base + d for _, _, base, _ in configs for d in (1, 106))):
            pb.wait_port(p)
        paths = [("direct", f"http://{pb.UPSTREAM}{pb.PATH}", [], None), *pairs]
        for _, url, _, _ in paths:
            pb.oha(url, 2, rate=args.rate)
        rounds = {name: [] for name, _, _, _ in paths}
        for i in range(args.rounds):
            print(f"fixed-rate round {i + 1}/{args.rounds}", file=sys.stderr)
            for name, url, pids, check in paths:
                row, others = pb.quietly(lambda: pb.measure_fixed(name, url, pids, args, check), procs.pids(), args)
                row["other_cores"] = [others]
                rounds[name].append(row)
        for i in range(args.rounds):
            print(f"max-rate round {i + 1}/{args.rounds}", file=sys.stderr)
            for name, url, pids, check in paths:
                row = rounds[name][i]
                cpu0 = sum(pb.cpu_seconds(p) for p in pids)
                t0 = time.time()
                _, others = pb.quietly(lambda: pb.measure_max(name, url, row, args, check), procs.pids(), args)
                row["other_cores"].append(others)
                # The proxies' CPU per request, both sides together.
                requests = row["max"]["rps"] * (time.time() - t0)
                row["max"]["cpu_us_per_request"] = (
                    (sum(pb.cpu_seconds(p) for p in pids) - cpu0) / requests * 1e6 if pids and requests else 0.0)
        costs = {name: [1 - on_row["max"]["rps"] / off_row["max"]["rps"]
                        for on_row, off_row in zip(rounds[name], rounds["weft"])]
                 for name, _, _, _ in pairs[1:]}
        rows = [pb.median_row(rounds[name]) for name, _, _, _ in paths]
    finally:
        procs.stop()
        sink.shutdown()
    if Sink.exports == 0 and args.sampling >= 1 and not args.no_tracing:
        sys.exit("no spans reached the OTLP sink: tracing was not on")
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=pb.ROOT, capture_output=True,
                          text=True).stdout.strip()
    cost = statistics.median(costs["weft-telemetry"])
    what = "access logs only" if args.no_tracing else (
        f"tracing {args.sampling}% of requests{'' if args.no_access_log else ' and access logs'}")
    lines = [f"weft `{head}`; {what}; fixed {args.rate} rps for {args.seconds} s, "
             f"then maximum rate; median of {args.rounds} interleaved rounds; {Sink.exports} OTLP exports "
             "received.", "",
             "| path | p50 ms | p99 ms | max rps | CPU per proxy at fixed rate (cores) "
             "| proxies' CPU per request at max rate (µs) | throughput cost per round |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        f = r["fixed"]
        cpu = ", ".join(f"{c:.2f}" for c in r["cpu_cores"]) or "-"
        us = f"{r['max']['cpu_us_per_request']:.1f}" if r["max"].get("cpu_us_per_request") else "-"
        per_round = ", ".join(f"{c * 100:.1f}%" for c in costs.get(r["path"], [])) or "-"
        lines.append(f"| {r['path']} | {f['p50_ms']:.3f} | {f['p99_ms']:.3f} | {r['max']['rps']:.0f} | {cpu} "
                     f"| {us} | {per_round} |")
    lines += ["", f"Throughput cost: {cost * 100:.1f}% (median of the rounds' own costs; target < 5%)."]
    if "weft-telemetry-compared" in costs:
        lines.append(f"Compared build ({args.compare_bin_dir}): "
                     f"{statistics.median(costs['weft-telemetry-compared']) * 100:.1f}%.")
    out = pb.ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / f"telemetry-{time.strftime('%Y%m%d-%H%M%S')}.json").write_text(
        json.dumps({"rows": rows, "costs": costs}, indent=2))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
