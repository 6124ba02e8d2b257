"""Pure: an environment's deployment strategy and verification, from envpromote.toml to ECS's shapes.

(Over 400 lines for a reason: the model, its validation with key paths and its ECS shapes change together
with every new key, and half of the module is the one-line-per-rule validation.)

Keys read from an environment table (everything else in that table belongs to ``config.py``)::

    strategy = "blue_green"          # rolling (default) | blue_green | canary | linear
    bake_minutes = 5                 # bakeTimeInMinutes (blue_green/canary/linear; ECS needs it for blue_green)
    [environments.prod.canary]       # strategy = "canary" only
    percent = 10.0                   # 0.1..100, multiples of 0.1
    bake_minutes = 5                 # 0..1440
    [environments.prod.linear]       # strategy = "linear" only
    step_percent = 20.0              # 3..100, multiples of 0.1
    interval_minutes = 2             # 0..1440, the bake between steps
    [environments.prod.verify]       # blue_green/canary/linear: run at the pause and during bake
    test_url = "https://test.example.com"     # the test listener; http checks only ever go there
    pause_stage = "POST_TEST_TRAFFIC_SHIFT"   # where EnvPromote's PAUSE hook holds the deployment
    pause_timeout_minutes = 60                # ECS rolls back when nobody continues (1..20160)
    alarms = ["web-5xx"]                      # CloudWatch alarms that must not be in ALARM
    command = ["./smoke.sh", "--fast"]        # optional; a string is split like a shell (no shell runs it)
    command_timeout_seconds = 120
    [[environments.prod.verify.http]]
    path = "/"                                # below test_url; no scheme, no host
    status = 200
    json = { digest = "{digest}" }            # dotted field -> expected value; {digest} {image} {env} {task_definition}
    contains = "ok"                           # optional substring of the body
    timeout_seconds = 5

:func:`parse_strategy` raises :class:`~envpromote.errors.ConfigError` (exit 2) listing every problem with its key
path; :func:`strategy_problems` returns the same lines for ``config.validate`` to merge with its own.
"""

from __future__ import annotations

import math
import shlex
import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from envpromote.errors import ConfigError

KINDS = ("rolling", "blue_green", "canary", "linear")
ECS_STRATEGY = {"rolling": "ROLLING", "blue_green": "BLUE_GREEN", "canary": "CANARY", "linear": "LINEAR"}
# Stages a lifecycle hook may be attached to (botocore: DeploymentLifecycleHookStageList).
HOOK_STAGES = (
    "RECONCILE_SERVICE",
    "PRE_SCALE_UP",
    "POST_SCALE_UP",
    "TEST_TRAFFIC_SHIFT",
    "POST_TEST_TRAFFIC_SHIFT",
    "PRE_PRODUCTION_TRAFFIC_SHIFT",
    "PRODUCTION_TRAFFIC_SHIFT",
    "POST_PRODUCTION_TRAFFIC_SHIFT",
)
DEFAULT_PAUSE_STAGE = "POST_TEST_TRAFFIC_SHIFT"
PLACEHOLDERS = frozenset({"digest", "image", "env", "task_definition"})
# The environment-table keys this module owns (config.py's schema leaves them to parse_strategy).
STRATEGY_KEYS = frozenset({"strategy", "bake_minutes", "canary", "linear", "verify"})

_VERIFY_KEYS = {
    "test_url",
    "pause_stage",
    "pause_timeout_minutes",
    "alarms",
    "command",
    "command_timeout_seconds",
    "http",
}
_HTTP_KEYS = {"path", "status", "json", "contains", "timeout_seconds"}


@dataclass(frozen=True)
class HttpCheck:
    path: str
    status: int = 200
    json_fields: Mapping[str, str] = field(
        default_factory=dict
    )  # dotted path -> expected (may hold {digest})
    contains: str | None = None
    timeout_seconds: float = 5.0

    def name(self) -> str:
        return f"http GET {self.path}"


@dataclass(frozen=True)
class Verify:
    test_url: str | None
    pause_stage: str = DEFAULT_PAUSE_STAGE
    pause_timeout_minutes: int = 60
    http: tuple[HttpCheck, ...] = ()
    alarms: tuple[str, ...] = ()
    command: tuple[str, ...] = ()
    command_timeout_seconds: float = 120.0

    @property
    def empty(self) -> bool:
        return not (self.http or self.alarms or self.command)


@dataclass(frozen=True)
class Strategy:
    kind: str = "rolling"
    bake_minutes: int | None = None
    canary_percent: float = 5.0
    canary_bake_minutes: int = 10
    linear_step_percent: float = 10.0
    linear_interval_minutes: int = 6
    verify: Verify | None = None

    @property
    def ecs_strategy(self) -> str:
        return ECS_STRATEGY[self.kind]

    @property
    def pauses(self) -> bool:
        """True when EnvPromote holds the deployment with its own PAUSE hook to verify it."""
        return self.verify is not None and self.kind != "rolling"


ROLLING = Strategy()


def parse_strategy(raw: Mapping[str, Any], key_path: str) -> Strategy:
    """The Strategy of one environment table (`key_path` e.g. ``environments.prod``); ConfigError if invalid."""
    problems = strategy_problems(raw, key_path)
    if problems:
        count = len(problems)
        raise ConfigError(
            f"{key_path} has {count} strategy problem{'s' if count > 1 else ''}: {'; '.join(problems)}.",
            reasons=problems,
            fix="Correct the keys named above (see 'Deployment strategies' in the README).",
        )
    return _build(raw)


def strategy_problems(raw: Mapping[str, Any], key_path: str) -> list[str]:
    """Every problem with the strategy keys of one environment table, each starting with its key path."""
    problems: list[str] = []
    kind = raw.get("strategy", "rolling")
    if kind not in KINDS:
        problems.append(f"{key_path}.strategy: must be one of {', '.join(KINDS)}, got {_shown(kind)}")
        return problems
    bake = raw.get("bake_minutes")
    if bake is not None:
        if kind == "rolling":
            problems.append(
                f"{key_path}.bake_minutes: only for blue_green, canary or linear (strategy is rolling)"
            )
        else:
            problems += _int(bake, f"{key_path}.bake_minutes", 0, 1440)
    for section, wanted in (("canary", "canary"), ("linear", "linear")):
        if section not in raw:
            continue
        if kind != wanted:
            problems.append(f"{key_path}.{section}: only for strategy = {wanted!r} (strategy is {kind})")
            continue
        problems += _section_problems(raw[section], f"{key_path}.{section}", section)
    if "verify" in raw:
        if kind == "rolling":
            problems.append(
                f"{key_path}.verify: needs strategy blue_green, canary or linear (a rolling update has no test "
                "traffic and no pause)"
            )
        else:
            problems += _table_problems(raw["verify"], f"{key_path}.verify", _VERIFY_KEYS, _verify_contents)
    return problems


_SECTION_RANGES: dict[str, dict[str, tuple[float, float]]] = {
    "canary": {"percent": (0.1, 100.0), "bake_minutes": (0, 1440)},  # a float bound: a percentage
    "linear": {"step_percent": (3.0, 100.0), "interval_minutes": (0, 1440)},  # int bounds: whole minutes
}


def _table_problems(
    value: Any, key: str, known: set[str], contents: Callable[[Mapping[str, Any], str], list[str]]
) -> list[str]:
    """A TOML table's problems: not a table at all; else its unknown keys, then what `contents` finds in it."""
    if not isinstance(value, Mapping):
        return [f"{key}: must be a table, got {_type_name(value)}"]
    return _unknown(value, known, key) + contents(value, key)


def _section_problems(value: Any, key: str, section: str) -> list[str]:
    ranges = _SECTION_RANGES[section]

    def in_range(table: Mapping[str, Any], key: str) -> list[str]:
        problems: list[str] = []
        for name, (low, high) in ranges.items():
            if name not in table:
                continue
            if isinstance(low, float):
                problems += _percent(table[name], f"{key}.{name}", low, high)
            else:
                problems += _int(table[name], f"{key}.{name}", int(low), int(high))
        return problems

    return _table_problems(value, key, set(ranges), in_range)


def _verify_contents(value: Mapping[str, Any], key: str) -> list[str]:
    problems: list[str] = []
    test_url = value.get("test_url")
    if test_url is not None:
        problems += _url_problems(test_url, f"{key}.test_url")
    stage = value.get("pause_stage", DEFAULT_PAUSE_STAGE)
    if stage not in HOOK_STAGES:
        problems.append(f"{key}.pause_stage: must be one of {', '.join(HOOK_STAGES)}, got {_shown(stage)}")
    if "pause_timeout_minutes" in value:
        problems += _int(value["pause_timeout_minutes"], f"{key}.pause_timeout_minutes", 1, 20160)
    alarms = value.get("alarms", [])
    if not isinstance(alarms, list) or not all(isinstance(a, str) and a for a in alarms):
        problems.append(f"{key}.alarms: must be a list of alarm names")
    if "command" in value:
        problems += _command_problems(value["command"], f"{key}.command")
    if "command_timeout_seconds" in value:
        problems += _number(value["command_timeout_seconds"], f"{key}.command_timeout_seconds", 1, 3600)
    checks = value.get("http", [])
    if not isinstance(checks, list):
        problems.append(f"{key}.http: must be a list of tables ([[...verify.http]])")
        checks = []
    for index, check in enumerate(checks):
        problems += _table_problems(check, f"{key}.http.{index}", _HTTP_KEYS, _http_contents)
    if checks and test_url is None:
        problems.append(f"{key}.test_url: missing (the http checks need the test listener's URL)")
    if not checks and not alarms and "command" not in value:
        problems.append(f"{key}: no checks (add http checks, alarms or a command)")
    return problems


def _http_contents(check: Mapping[str, Any], key: str) -> list[str]:
    problems: list[str] = []
    path = check.get("path")
    if not isinstance(path, str) or not path.startswith("/") or path.startswith("//") or "://" in path:
        problems.append(
            f"{key}.path: must be a path starting with '/' (the host is verify.test_url's), got {_shown(path)}"
        )
    if "status" in check:
        problems += _int(check["status"], f"{key}.status", 100, 599)
    fields = check.get("json", {})
    if not isinstance(fields, Mapping):
        problems.append(f"{key}.json: must be a table of field = expected value")
    else:
        for name, expected in fields.items():
            if not isinstance(expected, str | int | float | bool):
                problems.append(f"{key}.json.{name}: must be a string, number or boolean")
            elif isinstance(expected, str):
                problems += _placeholder_problems(expected, f"{key}.json.{name}")
    if "contains" in check:
        contains = check["contains"]
        if not isinstance(contains, str) or not contains:
            problems.append(f"{key}.contains: must be a non-empty string")
        else:
            problems += _placeholder_problems(contains, f"{key}.contains")
    if "timeout_seconds" in check:
        problems += _number(check["timeout_seconds"], f"{key}.timeout_seconds", 0.1, 60)
    return problems


def _placeholder_problems(text: str, key: str) -> list[str]:
    try:
        names = {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}
    except ValueError as exc:
        return [f"{key}: invalid template {_shown(text)} ({exc})"]
    unknown = sorted(names - PLACEHOLDERS)
    if unknown:
        return [f"{key}: unknown placeholder {{{unknown[0]}}} (allowed: {', '.join(sorted(PLACEHOLDERS))})"]
    return []


def _url_problems(url: Any, key: str) -> list[str]:
    if not isinstance(url, str):
        return [f"{key}: must be a string, got {_type_name(url)}"]
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        return [f"{key}: must be an http(s) URL, got {_shown(url)}"]
    if parts.query or parts.fragment or parts.username:
        return [f"{key}: must be scheme://host[:port][/base] without user, query or fragment"]
    return []


def _command_problems(command: Any, key: str) -> list[str]:
    if isinstance(command, str):
        try:
            words = shlex.split(command)
        except ValueError as exc:
            return [f"{key}: cannot be split into words ({exc})"]
        return [] if words else [f"{key}: must not be empty"]
    if isinstance(command, list) and command and all(isinstance(w, str) and w for w in command):
        return []
    return [f"{key}: must be a string or a non-empty list of strings"]


def _unknown(value: Mapping[str, Any], allowed: set[str], key: str) -> list[str]:
    listed = ", ".join(sorted(allowed))
    return [f"{key}.{name}: unknown key (allowed: {listed})" for name in sorted(set(value) - allowed)]


def _int(value: Any, key: str, low: int, high: int) -> list[str]:
    if isinstance(value, bool) or not isinstance(value, int):
        return [f"{key}: must be an integer, got {_type_name(value)}"]
    if not low <= value <= high:
        return [f"{key}: must be between {low} and {high}, got {value}"]
    return []


def _number(value: Any, key: str, low: float, high: float) -> list[str]:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return [f"{key}: must be a number, got {_type_name(value)}"]
    if not low <= value <= high:
        return [f"{key}: must be between {low:g} and {high:g}, got {value}"]
    return []


def _percent(value: Any, key: str, low: float, high: float) -> list[str]:
    problems = _number(value, key, low, high)
    if not problems and abs(round(float(value) * 10) - float(value) * 10) > 1e-6:
        problems.append(f"{key}: must be a multiple of 0.1, got {value}")
    return problems


def _type_name(value: Any) -> str:
    names = {bool: "boolean", int: "integer", float: "number", str: "string", list: "array", dict: "table"}
    return names.get(type(value), type(value).__name__)


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


# ---- building (after validation) ------------------------------------------------------------------------


def _build(raw: Mapping[str, Any]) -> Strategy:
    kind = str(raw.get("strategy", "rolling"))
    canary: Mapping[str, Any] = raw.get("canary", {})
    linear: Mapping[str, Any] = raw.get("linear", {})
    verify = _build_verify(raw["verify"]) if "verify" in raw else None
    bake = raw.get("bake_minutes")
    if bake is None and kind == "blue_green":
        bake = 0  # ECS requires bakeTimeInMinutes for BLUE_GREEN; 0 = no bake unless configured
    return Strategy(
        kind=kind,
        bake_minutes=None if bake is None else int(bake),
        canary_percent=float(canary.get("percent", 5.0)),
        canary_bake_minutes=int(canary.get("bake_minutes", 10)),
        linear_step_percent=float(linear.get("step_percent", 10.0)),
        linear_interval_minutes=int(linear.get("interval_minutes", 6)),
        verify=verify,
    )


def _build_verify(raw: Mapping[str, Any]) -> Verify:
    command = raw.get("command", ())
    words = tuple(shlex.split(command) if isinstance(command, str) else command)
    test_url = raw.get("test_url")
    return Verify(
        test_url=str(test_url).rstrip("/") if test_url else None,
        pause_stage=str(raw.get("pause_stage", DEFAULT_PAUSE_STAGE)),
        pause_timeout_minutes=int(raw.get("pause_timeout_minutes", 60)),
        http=tuple(
            HttpCheck(
                path=str(check["path"]),
                status=int(check.get("status", 200)),
                json_fields={
                    str(k): str(v) if isinstance(v, str) else _json_text(v)
                    for k, v in check.get("json", {}).items()
                },
                contains=check.get("contains"),
                timeout_seconds=float(check.get("timeout_seconds", 5.0)),
            )
            for check in raw.get("http", [])
        ),
        alarms=tuple(raw.get("alarms", [])),
        command=words,
        command_timeout_seconds=float(raw.get("command_timeout_seconds", 120.0)),
    )


def _json_text(value: Any) -> str:
    """Expected non-string JSON values are compared in their JSON spelling (true, 200, 1.5)."""
    import json

    return json.dumps(value)


def deployment_configuration(strategy: Strategy) -> dict[str, Any]:
    """The UpdateService ``deploymentConfiguration`` fragment of `strategy` (merge it into the call).

    Rolling gives only ``{"strategy": "ROLLING"}``: the circuit breaker and percentages stay as the infrastructure
    set them. The others carry their bake time and configuration and, when EnvPromote verifies at a pause, one
    PAUSE lifecycle hook at the configured stage that ECS rolls back on timeout (nobody continued it).
    """
    fragment: dict[str, Any] = {"strategy": strategy.ecs_strategy}
    if strategy.kind == "rolling":
        return fragment
    if strategy.bake_minutes is not None:
        fragment["bakeTimeInMinutes"] = strategy.bake_minutes
    if strategy.kind == "canary":
        fragment["canaryConfiguration"] = {
            "canaryPercent": strategy.canary_percent,
            "canaryBakeTimeInMinutes": strategy.canary_bake_minutes,
        }
    if strategy.kind == "linear":
        fragment["linearConfiguration"] = {
            "stepPercent": strategy.linear_step_percent,
            "stepBakeTimeInMinutes": strategy.linear_interval_minutes,
        }
    if strategy.pauses and strategy.verify is not None:
        fragment["lifecycleHooks"] = [
            {
                "targetType": "PAUSE",
                "lifecycleStages": [strategy.verify.pause_stage],
                "timeoutConfiguration": {
                    "timeoutInMinutes": strategy.verify.pause_timeout_minutes,
                    "action": "ROLLBACK",
                },
            }
        ]
    return fragment


def describe(strategy: Strategy) -> str:
    """One line for plans, `status` and `history`: ``blue_green (bake 5 min, verified at POST_TEST_TRAFFIC_SHIFT)``."""
    parts: list[str] = []
    if strategy.kind == "canary":
        parts.append(f"{strategy.canary_percent:g}% for {strategy.canary_bake_minutes} min")
    if strategy.kind == "linear":
        parts.append(
            f"steps of {strategy.linear_step_percent:g}% every {strategy.linear_interval_minutes} min"
        )
    if strategy.bake_minutes:
        parts.append(f"bake {strategy.bake_minutes} min")
    if strategy.pauses and strategy.verify is not None:
        parts.append(f"verified at {strategy.verify.pause_stage}")
    return f"{strategy.kind} ({', '.join(parts)})" if parts else strategy.kind


def merged_deployment_configuration(current: Mapping[str, Any], strategy: Strategy) -> dict[str, Any]:
    """The whole ``deploymentConfiguration`` for UpdateService: the service's `current` one with `strategy`'s.

    What the infrastructure set (circuit breaker, alarms, percentages) is kept; another strategy's configuration
    is dropped; lifecycle hooks EnvPromote does not own (Lambda hooks, PAUSE hooks at other stages) are kept, and
    EnvPromote's PAUSE hook is added once at its stage.
    """
    merged = {k: v for k, v in current.items() if k not in {"canaryConfiguration", "linearConfiguration"}}
    fragment = deployment_configuration(strategy)
    ours = fragment.pop("lifecycleHooks", [])
    merged.update(fragment)
    if strategy.kind == "rolling":
        merged.pop("bakeTimeInMinutes", None)
    stages = {stage for hook in ours for stage in hook["lifecycleStages"]}
    kept = [
        hook
        for hook in current.get("lifecycleHooks", [])
        if not (
            stages and hook.get("targetType") == "PAUSE" and set(hook.get("lifecycleStages", [])) <= stages
        )
    ]
    if kept or ours:
        merged["lifecycleHooks"] = [*kept, *ours]
    else:
        merged.pop("lifecycleHooks", None)
    return merged


def minimum_watch_seconds(strategy: Strategy) -> float:
    """The least time ECS itself needs for the strategy's waits (bake, canary bake, linear steps), in seconds.

    Add it to the usual rollout timeout: a watch shorter than this times out on a healthy deployment.
    """
    minutes = float(strategy.bake_minutes or 0)
    if strategy.kind == "canary":
        minutes += strategy.canary_bake_minutes
    if strategy.kind == "linear":
        steps = max(1, math.ceil(100.0 / strategy.linear_step_percent - 1e-9))
        minutes += (steps - 1) * strategy.linear_interval_minutes  # no bake after the step that reaches 100%
    return minutes * 60.0
