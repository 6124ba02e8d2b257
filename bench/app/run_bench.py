#!/usr/bin/env python3
"""Benchmark the app against an Express 5 equivalent (and other Python servers), all on 127.0.0.1.

For each target it measures, in one run on one machine:
  * start-up: process spawn -> first 200 from /health (median of --starts runs),
  * idle memory: RSS and PSS of the whole process tree once healthy (before any load),
  * throughput and p99 latency on /health and / with wrk at --connections concurrency.

The server is pinned to one CPU and wrk to another (taskset) so "one worker process" means one core.
Every loop is bounded; nothing but 127.0.0.1 is contacted. This measures; it asserts nothing.

Usage: python bench/app/run_bench.py [--duration 10] [--rounds 3] [--targets uvicorn,express]
Needs: wrk (apt-get install wrk), node + `npm ci` in bench/app/express, the app's requirements,
and granian/hypercorn for those candidates (targets whose tools are missing are reported as SKIPPED).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
APP_SRC = ROOT / "app" / "src"
EXPRESS_DIR = HERE / "express"
HEALTH_REQUEST = b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
START_LIMIT_SECONDS = 10.0


@dataclass
class Target:
    name: str
    description: str
    command: list[str]
    needs_module: str | None = None
    needs_path: Path | None = None

    def missing(self) -> str | None:
        if self.needs_module and importlib.util.find_spec(self.needs_module) is None:
            return f"python module {self.needs_module!r} is not installed"
        if self.needs_path and not self.needs_path.exists():
            return f"{self.needs_path} is missing (run `npm ci` in {EXPRESS_DIR})"
        return None


@dataclass
class Result:
    target: str
    description: str
    skipped: str | None = None
    startup_ms: list[float] = field(default_factory=list)
    idle_rss_mb: float | None = None
    idle_pss_mb: float | None = None
    processes: int | None = None
    loaded_rss_mb: float | None = None
    wrk: dict[str, list[dict[str, float]]] = field(default_factory=dict)
    shutdown_exit_code: int | None = None


def targets(port: int) -> dict[str, Target]:
    py = sys.executable
    asgi = "envpromote_app.asgi:app"
    return {
        "uvicorn": Target(
            "uvicorn",
            "the app as shipped: python -m envpromote_app (uvicorn + httptools + uvloop, 1 process)",
            [py, "-m", "envpromote_app"],
            needs_module="uvicorn",
        ),
        "granian": Target(
            "granian",
            "same ASGI app under granian (Rust HTTP, 1 worker, uvloop)",
            [
                py,
                "-m",
                "granian",
                "--interface",
                "asgi",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--workers",
                "1",
                "--loop",
                "uvloop",
                "--no-ws",
                "--http",
                "1",
                asgi,
            ],
            needs_module="granian",
        ),
        "granian-embed": Target(
            "granian-embed",
            "same ASGI app in granian's embedded server (1 process; granian calls it experimental)",
            [py, str(HERE / "granian_embed.py")],
            needs_module="granian",
        ),
        "hypercorn": Target(
            "hypercorn",
            "same ASGI app under hypercorn (1 in-process worker, uvloop)",
            [
                py,
                "-m",
                "hypercorn",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                "0",
                "--worker-class",
                "uvloop",
                asgi,
            ],
            needs_module="hypercorn",
        ),
        "express": Target(
            "express",
            "Express 5 equivalent (bench/app/express, node, 1 process)",
            ["node", str(EXPRESS_DIR / "server.js")],
            needs_path=EXPRESS_DIR / "node_modules" / "express",
        ),
    }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def health_ok(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1.0) as sock:
            sock.sendall(HEALTH_REQUEST)
            return sock.recv(64).startswith(b"HTTP/1.1 200")
    except OSError:
        return False


def tree_pids(pid: int) -> list[int]:
    pids, pending = [], [pid]
    while pending:
        current = pending.pop()
        pids.append(current)
        for task in Path(f"/proc/{current}/task").glob("*"):
            with contextlib.suppress(OSError):
                pending += [int(child) for child in (task / "children").read_text().split()]
    return pids


def memory_mb(pid: int) -> tuple[float, float, int]:
    """RSS and PSS summed over the process tree (PSS splits shared pages, so it does not double count)."""
    rss = pss = 0
    pids = tree_pids(pid)
    for current in pids:
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{current}/smaps_rollup").read_text().splitlines():
                if line.startswith("Rss:"):
                    rss += int(line.split()[1])
                elif line.startswith("Pss:"):
                    pss += int(line.split()[1])
    return rss / 1024, pss / 1024, len(pids)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of the process tree (threads included), from /proc/<pid>/stat."""
    ticks = 0
    for current in tree_pids(pid):
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


def start(
    target: Target, env: dict[str, str], log: Path, cpu: str | None
) -> tuple[subprocess.Popen[bytes], float]:
    command = ["taskset", "-c", cpu, *target.command] if cpu else target.command
    with log.open("ab") as sink:
        began = time.perf_counter()
        proc = subprocess.Popen(command, env=env, stdout=sink, stderr=subprocess.STDOUT)
    port = int(env["PORT"])
    deadline = began + START_LIMIT_SECONDS
    while time.perf_counter() < deadline:
        if health_ok(port):
            return proc, (time.perf_counter() - began) * 1000
        if proc.poll() is not None:
            raise RuntimeError(f"{target.name} exited with {proc.returncode}; see {log}")
        time.sleep(0.002)
    proc.kill()
    raise RuntimeError(f"{target.name} was not healthy within {START_LIMIT_SECONDS}s; see {log}")


def stop(proc: subprocess.Popen[bytes]) -> int:
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.wait()


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def parse_wrk(output: str) -> dict[str, float]:
    rps = re.search(r"Requests/sec:\s+([\d.]+)", output)
    p99 = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s)\s*$", output, re.MULTILINE)
    p50 = re.search(r"^\s+50%\s+([\d.]+)(us|ms|s)\s*$", output, re.MULTILINE)
    if not (rps and p99 and p50):
        raise RuntimeError(f"cannot parse wrk output:\n{output}")
    total = re.search(r"(\d+) requests in", output)
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    return {
        "requests_per_s": float(rps.group(1)),
        "requests": float(total.group(1)) if total else 0.0,
        "p50_ms": float(p50.group(1)) * _UNITS[p50.group(2)],
        "p99_ms": float(p99.group(1)) * _UNITS[p99.group(2)],
        "non_2xx": float(non2xx.group(1)) if non2xx else 0.0,
        "socket_errors": float(sum(int(n) for n in errors.groups())) if errors else 0.0,
    }


def run_wrk(port: int, path: str, connections: int, seconds: int, cpu: str | None) -> dict[str, float]:
    command = [
        "wrk",
        "-t1",
        f"-c{connections}",
        f"-d{seconds}s",
        "--latency",
        f"http://127.0.0.1:{port}{path}",
    ]
    if cpu:
        command = ["taskset", "-c", cpu, *command]
    done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 30, check=True)
    return parse_wrk(done.stdout)


def app_env(port: int, log_level: str) -> dict[str, str]:
    """What the task definition passes, for every target alike."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": str(APP_SRC),
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "APP_NAME": "envpromote-app",
        "APP_ENVIRONMENT": "bench",
        "APP_IMAGE_DIGEST": "sha256:" + "ab" * 32,
        "APP_SOURCE_COMMIT": "0123456789abcdef0123456789abcdef01234567",
        "LOG_LEVEL": log_level,  # INFO: every target writes one JSON access line per request
        "SHUTDOWN_GRACE_SECONDS": "20",
        "NODE_ENV": "production",
    }


def run_all(chosen: list[str], args: argparse.Namespace, workdir: Path) -> list[Result]:
    """Phases: start-up (one target at a time), idle memory, then wrk rounds interleaved across targets.

    Interleaving spreads any background load on the machine over all targets instead of one.
    """
    ports = {name: free_port() for name in chosen}
    plan = {name: targets(ports[name])[name] for name in chosen}
    results = {name: Result(name, plan[name].description) for name in chosen}
    live: dict[str, subprocess.Popen[bytes]] = {}
    for name, target in plan.items():
        results[name].skipped = target.missing()
    runnable = [name for name in chosen if results[name].skipped is None]
    envs = {name: app_env(ports[name], args.log_level) for name in runnable}
    logs = {name: workdir / f"{name}.log" for name in runnable}
    try:
        for _ in range(args.starts):
            for name in runnable:
                proc, elapsed = start(plan[name], envs[name], logs[name], args.server_cpu)
                results[name].startup_ms.append(round(elapsed, 1))
                stop(proc)
        print("# start-up measured", flush=True)
        for name in runnable:
            live[name] = start(plan[name], envs[name], logs[name], args.server_cpu)[0]
        time.sleep(args.settle)
        for name in runnable:
            rss, pss, count = memory_mb(live[name].pid)
            results[name].idle_rss_mb, results[name].idle_pss_mb = round(rss, 1), round(pss, 1)
            results[name].processes = count
        for round_number in range(args.rounds):
            for path in ("/health", "/"):
                for name in runnable:
                    if round_number == 0:  # warm-up, not recorded
                        run_wrk(ports[name], path, args.connections, 2, args.client_cpu)
                    cpu_before = cpu_seconds(live[name].pid)
                    run = run_wrk(ports[name], path, args.connections, args.duration, args.client_cpu)
                    # CPU per request barely moves with background load, unlike requests/s.
                    used = cpu_seconds(live[name].pid) - cpu_before
                    run["server_cpu_us_per_request"] = (
                        used / run["requests"] * 1e6 if run["requests"] else 0.0
                    )
                    results[name].wrk.setdefault(path, []).append(run)
            print(f"# round {round_number + 1}/{args.rounds} done", flush=True)
        for name in runnable:
            results[name].loaded_rss_mb = round(memory_mb(live[name].pid)[0], 1)
    finally:
        for name, proc in live.items():
            results[name].shutdown_exit_code = stop(proc)
    return [results[name] for name in chosen]


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def markdown(results: list[Result], args: argparse.Namespace) -> str:
    lines = [
        f"| target | start-up to healthy, median of {args.starts} (ms) | idle RSS / PSS (MB) | processes "
        f"| /health req/s | /health p99 (ms) | /health CPU µs/req | / req/s | / p99 (ms) | / CPU µs/req "
        "| exit on SIGTERM |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        if r.skipped:
            lines.append(f"| {r.target} | SKIPPED: {r.skipped} | | | | | | | | | |")
            continue
        cells = [
            r.target,
            f"{median(r.startup_ms):.0f}",
            f"{r.idle_rss_mb} / {r.idle_pss_mb}",
            str(r.processes),
        ]
        for path in ("/health", "/"):
            runs = r.wrk[path]
            cells += [
                f"{median([x['requests_per_s'] for x in runs]):,.0f}",
                f"{median([x['p99_ms'] for x in runs]):.2f}",
                f"{median([x['server_cpu_us_per_request'] for x in runs]):.0f}",
            ]
        cells.append(str(r.shutdown_exit_code))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--targets", default="uvicorn,granian,granian-embed,hypercorn,express")
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk round")
    parser.add_argument("--rounds", type=int, default=3, help="wrk rounds per endpoint (median reported)")
    parser.add_argument("--starts", type=int, default=7, help="start-up measurements per target")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--settle", type=float, default=1.0, help="seconds idle before reading memory")
    parser.add_argument("--server-cpu", default="1", help="taskset CPU list for the server ('' = no pinning)")
    parser.add_argument("--client-cpu", default="0", help="taskset CPU list for wrk ('' = no pinning)")
    parser.add_argument(
        "--log-level", default="INFO", help="LOG_LEVEL for every target; WARNING = no access log"
    )
    parser.add_argument("--json", type=Path, help="also write the raw results here")
    args = parser.parse_args()
    args.server_cpu, args.client_cpu = args.server_cpu or None, args.client_cpu or None
    for tool in ["wrk"] + (["taskset"] if args.server_cpu or args.client_cpu else []):
        if shutil.which(tool) is None:
            print(f"bench/app: error: {tool} not found. Fix: apt-get install -y {tool}", file=sys.stderr)
            return 2
    catalogue = targets(0)
    chosen = [name.strip() for name in args.targets.split(",") if name.strip()]
    if unknown := [name for name in chosen if name not in catalogue]:
        print(
            f"bench/app: error: unknown targets {unknown}. Fix: choose from {sorted(catalogue)}",
            file=sys.stderr,
        )
        return 2
    node = (
        subprocess.run(["node", "--version"], capture_output=True, text=True).stdout.strip()
        if shutil.which("node")
        else "missing"
    )
    print(f"# bench/app  {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    print(
        f"# machine: {os.cpu_count()} CPUs, {platform.platform()}, Python {platform.python_version()}, node {node}; "
        f"server on CPU {args.server_cpu}, wrk on CPU {args.client_cpu}; -c{args.connections}, "
        f"{args.rounds}x{args.duration}s per endpoint; LOG_LEVEL={args.log_level}",
        flush=True,
    )
    load_before = Path("/proc/loadavg").read_text().split()[:3]
    with tempfile.TemporaryDirectory(prefix="bench-app-") as tmp:
        results = run_all(chosen, args, Path(tmp))
    load_after = Path("/proc/loadavg").read_text().split()[:3]
    # The load average includes this benchmark (about 2: the server and wrk); much more means other work
    # shared the CPUs and the absolute numbers are low, although interleaving keeps the comparison fair.
    print(f"# load average (1/5/15 min) before: {' '.join(load_before)}, after: {' '.join(load_after)}")
    print(markdown(results, args))
    if args.json:
        args.json.write_text(json.dumps([asdict(r) for r in results], indent=2) + "\n")
    skipped = [r.target for r in results if r.skipped]
    if skipped:
        print(f"# SKIPPED (not measured): {', '.join(skipped)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
