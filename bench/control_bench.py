#!/usr/bin/env python3
"""Control-plane benchmark: convergence at 10,000 services (issue 3).

    weft-control-load gen   -> YAML: N Services, 5 WorkloadEntries each, one VirtualService
    weft control -f <dir>   -> watches the directory
    weft-control-load run   -> 1000 simulated proxy streams; change one endpoint, then one
                               route, by rewriting a watched file; per-stream time to receive

Both changes are made the way a user makes them with watched files: by
rewriting one file. The control plane polls its files every 250 ms, so each
latency includes up to 250 ms of poll wait; the control plane's debug log
splits the rest (load and validation, debounce, compile, push).

Prints a Markdown report and writes JSON to bench/results/.

Usage: bench/control_bench.py [--services 10000] [--proxies 1000]
"""

import argparse
import json
import math
import os
import platform
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RELEASE = ROOT / "target" / "release"
WEFT = RELEASE / "weft"
LOAD = RELEASE / "weft-control-load"

# `weft_control::run::WATCH_INTERVAL`: how often watched files are polled.
WATCH_INTERVAL_S = 0.25
LOG_LINE = re.compile(r"^(\S+Z)\s+(\w+)\s+(\S+): (.*)$")
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def rss_kb(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def cpu_seconds(pid):
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def mem_available_kb():
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1])
    return 0


def api_config(http):
    with urllib.request.urlopen(f"http://{http}/api/v1/config", timeout=10) as r:
        return json.load(r)


def wait_loaded(proc, http, expected, timeout):
    """Seconds from now until the API reports `expected` resources in force."""
    t0 = time.time()
    while time.time() - t0 < timeout:
        if proc.poll() is not None:
            raise RuntimeError(f"weft control exited with {proc.returncode} while loading")
        try:
            status = api_config(http)
            if status.get("rejected"):
                raise RuntimeError(f"weft control refused the files: {status['rejected']}")
            if status.get("resources") == expected:
                return time.time() - t0, status
        except OSError:
            pass  # not listening yet
        time.sleep(0.1)
    raise RuntimeError(f"weft control did not load {expected} resources within {timeout} s")


def duration_ms(text):
    """tracing's Debug of a Duration: 1.2s, 3.4ms, 5.6µs, 7ns."""
    m = re.match(r"([0-9.]+)(s|ms|µs|us|ns)$", text)
    if not m:
        return None
    scale = {"s": 1e3, "ms": 1.0, "µs": 1e-3, "us": 1e-3, "ns": 1e-6}[m.group(2)]
    return float(m.group(1)) * scale


def parse_log(path):
    """(unix time, level, target, message, fields) for each line of the log."""
    out = []
    for raw in Path(path).read_text(errors="replace").splitlines():
        m = LOG_LINE.match(ANSI.sub("", raw))
        if not m:
            continue
        at = datetime.fromisoformat(m.group(1).replace("Z", "+00:00")).timestamp()
        fields = dict(re.findall(r"(\w+)=(\S+)", m.group(4)))
        out.append((at, m.group(2), m.group(3), m.group(4), fields))
    return out


def log_timeline(log, started, load):
    """Where the control plane spent its time, from its own log lines."""
    compiled = [(at, f) for at, _, _, msg, f in log if msg.startswith("mesh compiled")]
    accepted = [at for at, _, _, msg, _ in log if msg.startswith("config accepted")]
    refused = [msg for _, level, _, msg, _ in log if "config refused" in msg]
    ready = next((at for at, _, _, msg, _ in log if msg.startswith("weft control ready")), None)
    out = {"refused": refused[:5]}
    if accepted:
        out["startup_accepted_s"] = accepted[0] - started
    changes = load.get("changes", [])
    t_first_change = changes[0]["t0_unix"] if changes else float("inf")
    # Generations built before the first change: proxies connecting and
    # going away move the generation too.
    before = [f for at, f in compiled if at < t_first_change]
    took = [duration_ms(f.get("took", "")) or 0.0 for f in before]
    out["generations_before_changes"] = len(before)
    out["compile_ms_before_changes"] = {"sum": sum(took), "max": max(took, default=0.0)}
    out["changes"] = []
    for ch in changes:
        t0 = ch["t0_unix"]
        end = t0 + ch["seconds"]
        acc = next((at for at in accepted if at >= t0), None)
        comp = [(at, duration_ms(f.get("took", ""))) for at, f in compiled if t0 <= at <= end + 1]
        row = {"name": ch["name"], "accepted_ms": (acc - t0) * 1e3 if acc else None,
               "compiles": [{"at_ms": (at - t0) * 1e3, "took_ms": took} for at, took in comp]}
        if ready and acc:
            # The file watcher ticks every 250 ms from just before "ready"
            # (tokio interval, missed ticks skipped: the phase is kept), so
            # the poll that saw the change is the first tick after the
            # write. An estimate, good to a few ms.
            poll = ready + math.ceil((t0 - ready) / WATCH_INTERVAL_S) * WATCH_INTERVAL_S
            row["poll_wait_ms_est"] = (poll - t0) * 1e3
            row["validate_ms_est"] = (acc - poll) * 1e3
        out["changes"].append(row)
    return out


def git(*args):
    # Not stripped: `status --porcelain` lines start with a space.
    return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True).stdout.rstrip("\n")


def timed(cmd):
    t0 = time.time()
    r = subprocess.run(cmd, capture_output=True, text=True)
    return time.time() - t0, r


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--services", type=int, default=10000)
    ap.add_argument("--endpoints-per-service", type=int, default=5)
    ap.add_argument("--files", type=int, default=100)
    ap.add_argument("--proxies", type=int, default=1000)
    ap.add_argument("--connect-parallel", type=int, default=100,
                    help="streams waiting for their first full state at once")
    ap.add_argument("--grpc-port", type=int, default=25012)
    ap.add_argument("--http-port", type=int, default=25014)
    ap.add_argument("--load-timeout", type=int, default=1200, help="seconds to wait for the files to load")
    ap.add_argument("--timeout", type=int, default=900, help="seconds to wait for the streams per phase")
    ap.add_argument("--max-rss-gb", type=float, default=20.0,
                    help="stop the run if the control plane and the load tool together grow past this "
                         "(the machine has no swap)")
    ap.add_argument("--skip-build", action="store_true")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory (config and log)")
    args = ap.parse_args()
    # The commit the binaries are built from (others may commit meanwhile).
    built_from = git("rev-parse", "--short", "HEAD")
    if not args.skip_build:
        subprocess.run(["cargo", "build", "--release", "-p", "weft-cli", "-p", "weft-control-load"],
                       cwd=ROOT, check=True)

    tmp = Path(tempfile.mkdtemp(prefix="weft-control-bench-"))
    mesh = tmp / "mesh"
    layout = ["--services", str(args.services), "--endpoints-per-service", str(args.endpoints_per_service),
              "--files", str(args.files)]
    gen_cmd = [str(LOAD), "gen", "--dir", str(mesh), *layout]
    subprocess.run(gen_cmd, check=True)
    expected = args.services * (1 + args.endpoints_per_service) + 1
    size_mb = sum(p.stat().st_size for p in mesh.iterdir()) / 2**20

    # The store validates every change exactly as `weft analyze` does: the
    # standalone run times loading and analyzing the whole set once.
    analyze_cmd = [str(WEFT), "analyze", "-f", str(mesh)]
    analyze_s, analyzed = timed(analyze_cmd)
    print(f"weft analyze: {analyze_s:.2f} s: {analyzed.stdout.strip().splitlines()[-1:]}", file=sys.stderr)
    if analyzed.returncode != 0:
        sys.exit(f"the generated config does not analyze cleanly:\n{analyzed.stdout}{analyzed.stderr}")

    grpc, http = f"127.0.0.1:{args.grpc_port}", f"127.0.0.1:{args.http_port}"
    control_cmd = [str(WEFT), "control", "-f", str(mesh), "--ephemeral",
                   "--grpc-address", grpc, "--http-address", http]
    env = dict(os.environ, WEFT_LOG="weft_control=debug,info", NO_COLOR="1")
    log_path = tmp / "control.log"
    started = time.time()
    control = subprocess.Popen(control_cmd, stdout=subprocess.DEVNULL, stderr=open(log_path, "w"), env=env)
    load_proc = None
    guard = {"peak_kb": 0, "tripped": False}
    stop_guard = threading.Event()

    def watch_memory():
        # No swap here: a control plane that keeps growing would take the
        # machine (shared with other work) down with it. Stop everything
        # when the control plane and the load tool together pass the limit,
        # or the machine runs low, and say so.
        while not stop_guard.wait(0.2):
            try:
                kb = rss_kb(control.pid)
                tool_kb = rss_kb(load_proc.pid) if load_proc and load_proc.poll() is None else 0
            except OSError:
                return
            guard["peak_kb"] = max(guard["peak_kb"], kb)
            if kb + tool_kb > args.max_rss_gb * 2**20 or mem_available_kb() < 2 * 2**20:
                guard["tripped"] = f"control plane {kb / 2**20:.1f} GB + load tool {tool_kb / 2**20:.1f} GB, " \
                                   f"{mem_available_kb() / 2**20:.1f} GB left on the machine"
                control.kill()
                if load_proc:
                    load_proc.kill()
                return

    threading.Thread(target=watch_memory, daemon=True).start()
    load, load_cmd, loaded, failure = None, None, None, None
    tool_err = []

    def tee(stream):
        # The tool's progress goes to the terminal and is kept: a stopped
        # run reports how far it got.
        for line in stream:
            sys.stderr.write(line)
            tool_err.append(line.rstrip())

    try:
        load_s, status = wait_loaded(control, http, expected, args.load_timeout)
        loaded = {"seconds": load_s, "rss_mb": rss_kb(control.pid) / 1024, "cpu_s": cpu_seconds(control.pid),
                  "warnings": sum(1 for f in status.get("findings", []) if f.get("severity") == "warning")}
        print(f"loaded {expected} resources in {load_s:.1f} s, RSS {loaded['rss_mb']:.0f} MB", file=sys.stderr)
        load_cmd = [str(LOAD), "run", "--grpc", grpc, "--http", http, "--proxies", str(args.proxies),
                    "--dir", str(mesh), *layout, "--pid", str(control.pid),
                    "--connect-parallel", str(args.connect_parallel), "--timeout-secs", str(args.timeout)]
        load_proc = subprocess.Popen(load_cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        teeing = threading.Thread(target=tee, args=(load_proc.stderr,))
        teeing.start()
        out = load_proc.stdout.read()
        load_proc.wait()
        teeing.join()
        if load_proc.returncode != 0:
            why = f"stopped for memory: {guard['tripped']}" if guard["tripped"] else f"exit {load_proc.returncode}"
            raise RuntimeError(f"weft-control-load failed ({why})")
        load = json.loads(out)
    except RuntimeError as e:
        failure = str(e)
        print(f"FAILED: {failure}", file=sys.stderr)
    finally:
        stop_guard.set()
        if load_proc and load_proc.poll() is None:
            load_proc.kill()
        if control.poll() is None:
            control.send_signal(signal.SIGTERM)
            try:
                control.wait(10)
            except subprocess.TimeoutExpired:
                control.kill()
        print(f"control plane log: {log_path}", file=sys.stderr)

    dirty = [l[3:] for l in git("status", "--porcelain").splitlines()]
    # This benchmark's own files do not change what is measured.
    other = [d for d in dirty if d not in ("Cargo.toml", "Cargo.lock") and not d.startswith("bench/")]
    versions = {
        "weft": (built_from if not args.skip_build else f"{built_from} (binaries not rebuilt by this run)")
                 + (f" + uncommitted changes to {', '.join(other)}" if other else ""),
        "rustc": subprocess.run(["rustc", "--version"], capture_output=True, text=True).stdout.strip(),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Linux {platform.release()}",
    }
    report = {
        "versions": versions, "uncommitted": dirty, "args": vars(args),
        "config": {"resources": expected, "files": args.files + 1, "yaml_mb": size_mb},
        "analyze": {"seconds": analyze_s, "summary": analyzed.stdout.strip().splitlines()[-1:]},
        "loaded": loaded, "load": load, "control_plane_peak_rss_mb": guard["peak_kb"] / 1024,
        "failure": failure, "tool_stderr_tail": tool_err[-20:],
        "log": log_timeline(parse_log(log_path), started, load or {}),
        "commands": [" ".join(gen_cmd), " ".join(analyze_cmd),
                     "WEFT_LOG=weft_control=debug,info " + " ".join(control_cmd), " ".join(load_cmd or [])],
    }
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    path = out / f"control-{args.services}-{stamp}.json"
    path.write_text(json.dumps(report, indent=2))
    print(f"wrote {path}", file=sys.stderr)
    if not args.keep:
        for p in mesh.iterdir():
            p.unlink()
        mesh.rmdir()
    if failure:
        print(f"Run failed: {failure}\n\nLast progress:\n" + "\n".join(tool_err[-5:]))
        sys.exit(1)
    print(markdown(report))


def markdown(r):
    load, cfg = r["load"], r["config"]
    cp = {p["phase"]: p for p in load["control_plane"]}
    tool = {p["phase"]: p for p in load["tool"]}
    conn = load["connect"]
    lines = [f"{load['services']} services, {load['endpoints']} endpoints ({cfg['resources']} resources, "
             f"{cfg['files']} files, {cfg['yaml_mb']:.1f} MB of YAML); {load['proxies']} proxy streams; "
             f"{r['versions']['machine']}.", "",
             f"- load at start: {r['loaded']['seconds']:.1f} s to serve all resources "
             f"(RSS {r['loaded']['rss_mb']:.0f} MB); `weft analyze` of the same files: {r['analyze']['seconds']:.2f} s",
             f"- first full state: {conn['bytes']['median'] / 1e6:.2f} MB and {conn['resources']['median']} "
             f"resources per proxy; all {load['proxies']} ACKed after {conn['seconds']:.1f} s "
             f"({load['connect_parallel']} at a time; per stream p50 {conn['latency']['p50_ms']:.0f} ms, "
             f"p99 {conn['latency']['p99_ms']:.0f} ms from its connect)", "",
             "Per change, from the file write: every stream's time to receive it; then where the time went, "
             "from the control plane's log (ms after the write).", "",
             "| change | received | p50 ms | p99 ms | max ms | responses / proxy | bytes / proxy "
             "| poll wait (est.) | validated at | compiled at (compile took) | p99 − compiled |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    timeline = {c["name"]: c for c in r["log"]["changes"]}
    fmt = lambda v: "-" if v is None else f"{v:.0f}"
    for ch in load["changes"]:
        l, t = ch["latency"] or {}, timeline.get(ch["name"], {})
        comps = t.get("compiles", [])
        comp = ", ".join(f"{c['at_ms']:.0f} ({c['took_ms']:.0f})" for c in comps) or "-"
        push = l["p99_ms"] - comps[-1]["at_ms"] if comps and l else None
        lines.append(f"| {ch['name']}: {ch['what']} | {ch['received']}/{ch['expected']} | "
                     f"{fmt(l.get('p50_ms'))} | {fmt(l.get('p99_ms'))} | {fmt(l.get('max_ms'))} | "
                     f"{ch['responses']['mean']:.2f} | {ch['bytes']['median']} | {fmt(t.get('poll_wait_ms_est'))} | "
                     f"{fmt(t.get('accepted_ms'))} | {comp} | {fmt(push)} |")
    lines += ["", "| phase | seconds | control plane RSS MB (start / peak / end) | control plane CPU s (cores) "
                  "| load tool CPU s, peak RSS MB |", "|---|---|---|---|---|"]
    for name, p in cp.items():
        t = tool.get(name, {})
        lines.append(f"| {name} | {p['seconds']:.1f} | {p['rss_mb_start']:.0f} / {p['rss_mb_peak']:.0f} / "
                     f"{p['rss_mb_end']:.0f} | {p['cpu_seconds']:.1f} ({p['cores']:.2f}) | "
                     f"{t.get('cpu_seconds', 0):.1f}, {t.get('rss_mb_peak', 0):.0f} |")
    lines += ["", f"- control plane peak RSS over the whole run: {r['control_plane_peak_rss_mb']:.0f} MB",
              f"- generations compiled before the first change: {r['log']['generations_before_changes']} "
              f"(compile time {r['log']['compile_ms_before_changes']['sum'] / 1e3:.1f} s in total)",
              f"- proxy status at the end: {load['proxy_status']}",
              "", "Versions: " + ", ".join(f"{k} {v}" for k, v in r["versions"].items() if k != "machine")]
    lines += [f"- `{c}`" for c in r["commands"]]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
