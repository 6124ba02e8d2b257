"""Rollout-watch benchmark: EnvPromote vs fabfuel's ecs-deploy vs awscli's ``ecs wait services-stable``.

Every (scenario, tool) pair runs ``--runs`` times (interleaved: run 1 of every pair, then run 2, ...) against
one real sandbox server (moto + EnvPromote's ECS rollout simulation) on 127.0.0.1, with every tool's
AWS_ENDPOINT_URL pointed at a counting reverse proxy (``countproxy.py``) in this process. See README.md for
the method. Usage (``invoke bench.rollout`` wraps this)::

    python bench/rollout/run_bench.py [--json] [--runs 3] [--scenarios healthy:5,stuck] [--tools ecs-deploy]

Prints one JSON object per (scenario, tool) with ``--json`` (medians over the runs, the runs inside), else a
Markdown table. Progress goes to stderr. Exit 0 when every run completed (whatever the tools reported),
1 when the bench itself could not run something.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE))

from countproxy import Call, CountingProxy, count_by_name  # noqa: E402

TOOLS_VENV = HERE / ".venv-tools"
TOOLS_REQUIREMENTS = HERE / "requirements-tools.txt"
ALL_TOOLS = ("envpromote-events", "envpromote-poll", "ecs-deploy", "aws-wait")
# With --baseline DIR: `invoke deploy --watch events` run from another checkout (e.g. a `git archive` of main),
# interleaved with the others in the same run, so that a change's effect is measured side by side too.
BASELINE_TOOL = "envpromote-baseline"
DEFAULT_SCENARIOS = (
    "healthy:0",
    "healthy:5",
    "circuit-breaker:5:20",
    "stuck",
    "circuit-breaker:5:20+loss:0.3",
)
ENVIRONMENT = "dev"  # EnvPromote's entry environment: no upstream gate, unscanned digests allowed
WATCH_SERVICES = frozenset({"ecs", "sqs"})  # the calls that observe a rollout ...
NOT_WATCHING = frozenset(  # ... except changes, e.g. ecs-deploy deregistering the old revision after its wait
    {"ecs:RegisterTaskDefinition", "ecs:DeregisterTaskDefinition", "ecs:UpdateService", "ecs:TagResource"}
)
HARD_BOUND_EXTRA_S = 45.0  # the bench kills a tool that outlives its own timeout by this much
BASELINE_SCENARIO = "healthy:0"


def log(message: str) -> None:
    print(f"bench.rollout: {message}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------- scenarios
@dataclass(frozen=True)
class BenchScenario:
    """A sandbox rollout scenario plus optional event loss, e.g. ``circuit-breaker:5:20+loss:0.3``."""

    name: str
    rollout: str
    event_loss: float = 0.0

    @property
    def expected(self) -> str:
        """What a truthful tool reports: success, failure (circuit breaker) or timeout (stuck)."""
        kind = self.rollout.split(":", 1)[0]
        return {"circuit-breaker": "failure", "stuck": "timeout"}.get(kind, "success")

    @classmethod
    def parse(cls, text: str) -> BenchScenario:
        from envpromote.sandbox.scenarios import parse_scenario

        rollout, _, extra = text.strip().partition("+")
        parse_scenario(rollout)  # raises ScenarioError naming the accepted forms
        loss = 0.0
        if extra:
            key, _, value = extra.partition(":")
            if key != "loss" or not value:
                raise ValueError(f"scenario {text!r}: the only modifier is +loss:<fraction>, e.g. +loss:0.3")
            loss = float(value)
            if not 0 <= loss <= 1:
                raise ValueError(f"scenario {text!r}: the event loss must be a fraction from 0 to 1")
        return cls(name=text.strip(), rollout=rollout, event_loss=loss)


# ---------------------------------------------------------------------------------------------- tools
def ensure_tools_venv() -> Path:
    """bench/rollout/.venv-tools with ecs-deploy and awscli (their own pins, never the project's venv)."""
    bin_dir = TOOLS_VENV / "bin"
    if (bin_dir / "ecs").exists() and (bin_dir / "aws").exists():
        return bin_dir
    log(f"creating {TOOLS_VENV.relative_to(ROOT)} from {TOOLS_REQUIREMENTS.name}")
    uv = shutil.which("uv")
    if uv:
        subprocess.run([uv, "venv", "--quiet", "--python", sys.executable, str(TOOLS_VENV)], check=True)
        subprocess.run(
            [
                uv,
                "pip",
                "install",
                "--quiet",
                "--compile-bytecode",
                "--python",
                str(bin_dir / "python"),
                "-r",
                str(TOOLS_REQUIREMENTS),
            ],
            check=True,
        )
    else:
        subprocess.run([sys.executable, "-m", "venv", str(TOOLS_VENV)], check=True)
        subprocess.run([str(bin_dir / "pip"), "install", "-q", "-r", str(TOOLS_REQUIREMENTS)], check=True)
    return bin_dir


def compile_bytecode(python: Path, *paths: Path) -> None:
    """Byte-compile what the tools import, as ``pip install`` does by default (``uv pip install`` does not,
    unless --compile-bytecode): a process that finds no ``.pyc`` compiles every module it imports from source
    at each start (about 2 s of boto3/botocore/invoke on this machine), and with PYTHONDONTWRITEBYTECODE set it
    never writes one. Both tools are timed with their bytecode in place; up to date files are skipped."""
    targets = [str(p) for p in paths if p.exists()]
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    subprocess.run([str(python), "-m", "compileall", "-q", "-j", "0", site, *targets], check=False)


def invoke_has_watch_option() -> bool:
    help_text = subprocess.run(
        [*invoke_command(), "--help", "deploy"], cwd=ROOT, capture_output=True, text=True, check=False
    ).stdout
    return "--watch" in help_text


def invoke_command() -> list[str]:
    return [sys.executable, "-m", "invoke"]


def services_stable_bounded(data_dir: Path, timeout_s: float) -> Path:
    """An AWS_DATA_PATH overlay: botocore's own ECS waiters with ServicesStable's maxAttempts cut to the timeout.

    The waiter polls every 15 s and fails after maxAttempts (default 40, i.e. 10 minutes); with
    maxAttempts = timeout/15 + 1 its last check is at `timeout` seconds. Nothing else changes.
    """
    import botocore

    source = Path(botocore.__file__).parent / "data" / "ecs" / "2014-11-13" / "waiters-2.json"
    model = json.loads(source.read_text())
    stable = model["waiters"]["ServicesStable"]
    stable["maxAttempts"] = int(timeout_s // stable["delay"]) + 1
    target = data_dir / "ecs" / "2014-11-13" / "waiters-2.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(model))
    return data_dir


@dataclass
class Prepared:
    """One run's starting point: the service steady on a baseline release, the scenario image pushed."""

    cluster: str
    service: str
    container: str
    image_uri: str
    digest: str
    scenario_taskdef_arn: str  # registered for the awscli run (the others register their own)
    known_deployments: frozenset[str]


def tool_commands(
    tool: str,
    prepared: Prepared,
    timeout_s: float,
    workdir: Path,
    watch_option: bool,
    root: Path = ROOT,
) -> list[list[str]]:
    """The command line(s) of one run; the waiting part is the last command. `root`: the checkout whose
    ``invoke deploy`` runs (its own tasks.py and envpromote package: the command runs in that directory)."""
    if tool == BASELINE_TOOL:
        tool = "envpromote-events"
    if tool.startswith("envpromote-"):
        command = [
            *invoke_command(),
            "deploy",
            "--env",
            ENVIRONMENT,
            "--digest",
            prepared.digest,
            "--timeout",
            f"{timeout_s:g}",
            "--config",
            str(root / "envpromote.toml"),
            "--records-dir",
            str(workdir / "records"),
        ]
        if watch_option:
            command += ["--watch", tool.removeprefix("envpromote-")]
        return [command]
    bin_dir = TOOLS_VENV / "bin"
    if tool == "ecs-deploy":
        return [
            [
                str(bin_dir / "ecs"),
                "deploy",
                prepared.cluster,
                prepared.service,
                "--image",
                prepared.container,
                prepared.image_uri,
                "--timeout",
                f"{timeout_s:.0f}",
            ]
        ]
    if tool == "aws-wait":
        aws = str(bin_dir / "aws")
        return [
            [
                aws,
                "ecs",
                "update-service",
                "--cluster",
                prepared.cluster,
                "--service",
                prepared.service,
                "--task-definition",
                prepared.scenario_taskdef_arn,
                "--query",
                "service.deployments[0].id",
                "--output",
                "text",
            ],
            [
                aws,
                "ecs",
                "wait",
                "services-stable",
                "--cluster",
                prepared.cluster,
                "--services",
                prepared.service,
            ],
        ]
    raise ValueError(f"unknown tool {tool!r}; expected one of {', '.join(ALL_TOOLS)}")


# ---------------------------------------------------------------------------------------------- sandbox prep
@dataclass(eq=False)
class Bench:
    url: str
    proxy: CountingProxy
    workdir: Path
    timeout_s: float
    baseline: Path | None = None

    def __post_init__(self) -> None:
        from envpromote.config import load_config

        self.config_path = ROOT / "envpromote.toml"
        self.config = load_config(self.config_path)
        self.env = self.config.env(ENVIRONMENT)
        self.data_path = services_stable_bounded(self.workdir / "aws-data", self.timeout_s)
        self.watch_option = invoke_has_watch_option()
        self._images = 0

    def tool_env(self, tool: str) -> dict[str, str]:
        from envpromote.sandbox import client_env

        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "ENVPROMOTE_"))}
        env.update(client_env(self.proxy.url, self.env.region))
        # no profile or config file of the machine's user leaks into any tool
        env["AWS_CONFIG_FILE"] = str(self.workdir / "no-aws-config")
        env["AWS_SHARED_CREDENTIALS_FILE"] = str(self.workdir / "no-aws-credentials")
        env["NO_COLOR"] = "1"
        if tool == "aws-wait":
            env["AWS_DATA_PATH"] = str(self.data_path)
        return env

    @contextlib.contextmanager
    def direct(self) -> Iterator[None]:
        """boto3 in this process straight at the sandbox (preparation is not counted: it bypasses the proxy)."""
        from envpromote.sandbox.process import client_env, patched_env

        with patched_env(client_env(self.url, self.env.region)):
            yield

    def _push(self, scenario: str) -> str:
        from envpromote.aws import ClientFactory
        from envpromote.build import ImageConfig, assemble_image, push_image
        from envpromote.sandbox.scenarios import SCENARIO_ANNOTATION

        self._images += 1
        image = assemble_image(
            [("app/hello.txt", f"{scenario} {self._images}".encode(), 0o644)],
            ImageConfig(cmd=("/app/hello",), workdir="/app", user="10001"),
            annotations={SCENARIO_ANNOTATION: scenario},
        )
        ecr = ClientFactory(self.config.registry.region).client("ecr")
        push_image(ecr, self.config.registry.repository, image, f"bench-{self._images}")
        return image.digest

    def _render(self, digest: str) -> dict[str, Any]:
        from envpromote.aws import ClientFactory
        from envpromote.image import ImageRef
        from envpromote.registry import registry_and_repository
        from envpromote.render import render_task_definition, template_values

        ecr = ClientFactory(self.config.registry.region).client("ecr")
        registry, repository = registry_and_repository(ecr, self.config.registry.repository)
        values = template_values(self.config, self.env, ImageRef(registry, repository, digest))
        return render_task_definition(self.config.template, values)

    def prepare(self, scenario: BenchScenario, seed: int) -> Prepared:
        """Reset, provision, put the service on a steady baseline release, push the scenario's image."""
        from envpromote.aws import ClientFactory
        from envpromote.sandbox import process, provision

        process.reset(self.url)
        provision(self.url, self.config_path)
        with self.direct():
            ecs = ClientFactory(self.env.region).client("ecs")
            baseline = ecs.register_task_definition(**self._render(self._push(BASELINE_SCENARIO)))
            baseline_arn = baseline["taskDefinition"]["taskDefinitionArn"]
            ecs.update_service(
                cluster=self.env.cluster, service=self.env.service, taskDefinition=baseline_arn
            )
            deadline = time.monotonic() + 15
            while True:  # healthy:0 completes on the simulation's next tick
                svc = ecs.describe_services(cluster=self.env.cluster, services=[self.env.service])[
                    "services"
                ][0]
                steady = (
                    len(svc["deployments"]) == 1 and svc["deployments"][0].get("rolloutState") == "COMPLETED"
                )
                if steady and svc["taskDefinition"] == baseline_arn:
                    break
                if time.monotonic() > deadline:
                    raise RuntimeError("the baseline release did not become steady within 15 s")
                time.sleep(0.1)
            self._drain_events_queue()
            digest = self._push(scenario.rollout)
            rendered = self._render(digest)
            scenario_arn = ecs.register_task_definition(**rendered)["taskDefinition"]["taskDefinitionArn"]
            image_uri = str(rendered["containerDefinitions"][0]["image"])
        if scenario.event_loss:
            process.set_faults(self.url, event_loss=scenario.event_loss, seed=seed)
        known = {
            entry["deployment"]
            for svc in process.timeline(self.url, self.env.cluster, self.env.service)
            for entry in svc["entries"]
        }
        return Prepared(
            cluster=self.env.cluster,
            service=self.env.service,
            container=self.env.container,
            image_uri=image_uri,
            digest=digest,
            scenario_taskdef_arn=scenario_arn,
            known_deployments=frozenset(known),
        )

    def _drain_events_queue(self) -> None:
        """The baseline's events are consumed, as earlier releases' events would have been on a real queue."""
        from envpromote.aws import ClientFactory
        from envpromote.sandbox.provisioning import events_queue_name

        sqs = ClientFactory(self.env.region).client("sqs")
        queue_url = sqs.get_queue_url(QueueName=events_queue_name(self.env))["QueueUrl"]
        sqs.purge_queue(QueueUrl=queue_url)

    # ------------------------------------------------------------------------------------------ one run
    def run(self, scenario: BenchScenario, tool: str, index: int) -> dict[str, Any]:
        from envpromote.sandbox import process

        prepared = self.prepare(scenario, seed=1000 + index)
        root = self.baseline if tool == BASELINE_TOOL and self.baseline else ROOT
        commands = tool_commands(tool, prepared, self.timeout_s, self.workdir, self.watch_option, root)
        env = self.tool_env(tool)
        log_path = self.workdir / "logs" / f"{scenario.name.replace(':', '_')}.{tool}.{index}.log"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        self.proxy.clear()
        process.requests(self.url, clear=True)  # the server's own count, to cross-check the proxy's
        exit_code: int | None = None
        killed = False
        started = time.monotonic()
        with log_path.open("w") as output:
            for command in commands:
                output.write(f"$ {' '.join(command)}\n")
                output.flush()
                proc = subprocess.Popen(command, cwd=root, env=env, stdout=output, stderr=subprocess.STDOUT)
                try:
                    exit_code = proc.wait(timeout=self.timeout_s + HARD_BOUND_EXTRA_S)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
                    killed, exit_code = True, None
                if exit_code != 0:
                    break
        exited = time.monotonic()
        calls = self.proxy.calls()
        server_total = int(process.requests(self.url)["total"])
        timeline = process.timeline(self.url, prepared.cluster, prepared.service)
        entries = [
            e for svc in timeline for e in svc["entries"] if e["deployment"] not in prepared.known_deployments
        ]
        said = [line.strip() for line in log_path.read_text(errors="replace").splitlines() if line.strip()]
        return measure(
            scenario=scenario,
            tool=tool,
            index=index,
            calls=calls,
            entries=entries,
            started=started,
            exited=exited,
            exit_code=exit_code,
            killed=killed,
            timeout_s=self.timeout_s,
            last_line=said[-1][:240] if said else "",
            watch_option=self.watch_option,
        ) | {
            "api_calls_total_sandbox": server_total,
            "counts_agree": server_total == len(calls),
            "load_avg_1m": round(os.getloadavg()[0], 2),
        }


def measure(
    *,
    scenario: BenchScenario,
    tool: str,
    index: int,
    calls: Sequence[Call],
    entries: Sequence[dict[str, Any]],
    started: float,
    exited: float,
    exit_code: int | None,
    killed: bool,
    timeout_s: float,
    last_line: str,
    watch_option: bool,
) -> dict[str, Any]:
    """One run's numbers from the proxy's calls and the sandbox's timeline (pure)."""
    updates = [c for c in calls if c.name == "ecs:UpdateService" and c.status == 200]
    result: dict[str, Any] = {
        "scenario": scenario.name,
        "tool": tool,
        "run": index,
        "exit_code": exit_code,
        "killed_by_bench": killed,
        "total_seconds": round(exited - started, 3),
        "api_calls_total": len(calls),
        "seconds_to_first_call": round(min(c.started for c in calls) - started, 3) if calls else None,
        "last_line": last_line,
        # every call in arrival order: [s since the tool's start, ms the call took, service:operation, status]
        "call_timeline": [
            [round(c.started - started, 3), round((c.finished - c.started) * 1000, 1), c.name, c.status]
            for c in sorted(calls, key=lambda c: c.started)
        ],
    }
    if tool == "envpromote-poll" and not watch_option:
        result["note"] = "invoke deploy had no --watch option: ran with its default watch"
    if not updates:
        result.update(truth_reported=False, seconds_after_signal=None, api_calls=None, api_calls_per_min=None)
        result["note"] = "the tool never called UpdateService"
        return result
    update = updates[0]
    zero = update.started  # the deployment starts while this request is handled: never later than this
    waiting = [c for c in calls if c.started >= update.finished]
    watch_calls = [c for c in waiting if c.service in WATCH_SERVICES and c.name not in NOT_WATCHING]
    wait_minutes = max(exited - update.finished, 1e-6) / 60
    ours = next((e["deployment"] for e in entries if e["state"] == "IN_PROGRESS"), None)
    decisive_state = {"success": "COMPLETED", "failure": "FAILED"}.get(scenario.expected)
    signal_at: float | None = None
    if scenario.expected == "timeout":
        signal_at = zero + timeout_s
    else:
        decisive = next(
            (e for e in entries if e["deployment"] == ours and e["state"] == decisive_state), None
        )
        signal_at = zero + float(decisive["applied"]) if decisive else None
    timed_out_window = exited >= zero + timeout_s - 0.5
    if killed or exit_code is None:
        truth = False
    elif scenario.expected == "success":
        truth = exit_code == 0
    elif scenario.expected == "failure":
        truth = exit_code != 0 and not timed_out_window
    else:
        truth = exit_code != 0
    result.update(
        truth_reported=truth,
        seconds_after_signal=round(exited - signal_at, 3) if signal_at is not None else None,
        api_calls=len(watch_calls),
        api_calls_per_min=round(len(watch_calls) / wait_minutes, 1),
        wait_seconds=round(exited - update.finished, 3),
        update_service_latency_ms=round((update.finished - update.started) * 1000, 1),
        waiting_calls=count_by_name(waiting),
        signal=decisive_state or f"timeout {timeout_s:g}s",
    )
    return result


def aggregate(runs: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Medians over the runs of one (scenario, tool); the runs themselves inside (pure)."""

    def median(key: str) -> float | None:
        values = [r[key] for r in runs if r.get(key) is not None]
        return round(statistics.median(values), 3) if values else None

    codes = Counter(r["exit_code"] for r in runs)
    truths = [bool(r.get("truth_reported")) for r in runs]
    return {
        "scenario": runs[0]["scenario"],
        "tool": runs[0]["tool"],
        "exit_code": codes.most_common(1)[0][0],
        "truth_reported": all(truths),
        "truth_runs": f"{sum(truths)}/{len(truths)}",
        "seconds_after_signal": median("seconds_after_signal"),
        "api_calls": median("api_calls"),
        "api_calls_per_min": median("api_calls_per_min"),
        "total_seconds": median("total_seconds"),
        "seconds_to_first_call": median("seconds_to_first_call"),
        "runs": list(runs),
    }


def markdown_table(rows: Sequence[dict[str, Any]]) -> str:
    def show(value: Any) -> str:
        return "-" if value is None else f"{value:g}" if isinstance(value, float) else str(value)

    def spread(row: dict[str, Any], key: str) -> str:
        values = [r[key] for r in row["runs"] if r.get(key) is not None]
        return f" ({min(values):g}-{max(values):g})" if len(values) > 1 else ""

    lines = [
        "| scenario | tool | exit code | truth reported | s after signal: median (min-max) | watch calls | calls/min | total s |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for row in rows:
        codes = sorted({show(r["exit_code"]) for r in row["runs"]})
        lines.append(
            f"| {row['scenario']} | {row['tool']} | {'/'.join(codes)} | "
            f"{'yes' if row['truth_reported'] else 'NO'} ({row['truth_runs']}) | "
            f"{show(row['seconds_after_signal'])}{spread(row, 'seconds_after_signal')} | {show(row['api_calls'])} | "
            f"{show(row['api_calls_per_min'])} | {show(row['total_seconds'])} |"
        )
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------- main
def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true", help="one JSON object per (scenario, tool)")
    parser.add_argument("--runs", type=int, default=3, help="runs per (scenario, tool) (default 3)")
    parser.add_argument("--scenarios", default=",".join(DEFAULT_SCENARIOS), help="comma-separated")
    parser.add_argument(
        "--tools", default=",".join(ALL_TOOLS), help="comma-separated: " + ", ".join(ALL_TOOLS)
    )
    parser.add_argument("--timeout", type=float, default=60.0, help="every tool's own timeout (default 60 s)")
    parser.add_argument("--out", type=Path, help="also write the JSON lines to this file")
    parser.add_argument("--logs", type=Path, help="keep the tools' output under this directory")
    parser.add_argument(
        "--table-from", type=Path, help="print the Markdown table of an earlier --out file; run nothing"
    )
    parser.add_argument(
        "--baseline",
        type=Path,
        help=f"another checkout (e.g. a git archive of main): adds the tool {BASELINE_TOOL}, its "
        "`invoke deploy --watch events`, to every run",
    )
    args = parser.parse_args(argv)
    if not 1 <= args.runs <= 20:
        parser.error("--runs must be from 1 to 20")
    if not 5 <= args.timeout <= 600:
        parser.error("--timeout must be from 5 to 600 seconds")
    args.tool_list = [t.strip() for t in args.tools.split(",") if t.strip()]
    unknown = [t for t in args.tool_list if t not in ALL_TOOLS]
    if unknown or not args.tool_list:
        parser.error(f"unknown tool(s) {unknown}; expected some of {', '.join(ALL_TOOLS)}")
    if args.baseline is not None:
        if not (args.baseline / "tasks.py").is_file() or not (args.baseline / "envpromote.toml").is_file():
            parser.error(f"--baseline {args.baseline} is not a checkout (no tasks.py / envpromote.toml)")
        args.baseline = args.baseline.resolve()
        args.tool_list.insert(0, BASELINE_TOOL)
    try:
        args.scenario_list = [BenchScenario.parse(s) for s in args.scenarios.split(",") if s.strip()]
    except ValueError as exc:
        parser.error(str(exc))
    if not args.scenario_list:
        parser.error("--scenarios is empty")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.table_from:
        rows = [json.loads(line) for line in args.table_from.read_text().splitlines() if line.strip()]
        print(markdown_table(rows))
        return 0
    from envpromote.sandbox import process, provision

    if {"ecs-deploy", "aws-wait"} & set(args.tool_list):
        try:
            ensure_tools_venv()
        except (OSError, subprocess.CalledProcessError) as exc:
            log(
                f"error: cannot install the third-party tools ({exc}); run with --tools envpromote-events,envpromote-poll"
            )
            return 1
    log("byte-compiling the tools' code (skipped where up to date)")
    compile_bytecode(Path(sys.executable), ROOT / "envpromote", ROOT / "tools", ROOT / "tasks.py")
    if args.baseline is not None:
        compile_bytecode(Path(sys.executable), args.baseline / "envpromote", args.baseline / "tools")
    if {"ecs-deploy", "aws-wait"} & set(args.tool_list):
        compile_bytecode(TOOLS_VENV / "bin" / "python")
    with tempfile.TemporaryDirectory(prefix="envpromote-bench-") as tmp:
        workdir = Path(tmp)
        state_dir = workdir / "sandbox"
        info = process.start(ROOT / "envpromote.toml", port=0, state_dir=state_dir)
        log(f"sandbox {info.url} (pid {info.pid})")
        results: dict[tuple[str, str], list[dict[str, Any]]] = {}
        try:
            provision(info.url, ROOT / "envpromote.toml")
            with CountingProxy(info.url) as proxy:
                log(f"counting proxy {proxy.url}")
                bench = Bench(info.url, proxy, workdir, args.timeout, args.baseline)
                tools = list(args.tool_list)
                if not bench.watch_option and "envpromote-events" in tools:
                    log("invoke deploy has no --watch option yet: envpromote-events is skipped")
                    tools.remove("envpromote-events")
                for index in range(1, args.runs + 1):
                    for scenario in args.scenario_list:
                        for tool in tools:
                            run = bench.run(scenario, tool, index)
                            results.setdefault((scenario.name, tool), []).append(run)
                            log(
                                f"run {index} {scenario.name} {tool}: exit {run['exit_code']}, "
                                f"truth {run['truth_reported']}, {run['seconds_after_signal']} s after signal, "
                                f"{run['api_calls']} watch calls ({run['api_calls_per_min']}/min), "
                                f"total {run['total_seconds']} s"
                            )
                if args.logs:
                    shutil.copytree(workdir / "logs", args.logs, dirs_exist_ok=True)
        finally:
            process.stop(state_dir)
    rows = [aggregate(runs) for runs in results.values()]
    lines = [json.dumps(row, sort_keys=True) for row in rows]
    if args.out:
        args.out.write_text("\n".join(lines) + "\n")
    if args.json:
        print("\n".join(lines))
    else:
        print(markdown_table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
