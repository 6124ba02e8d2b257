"""Load and validate ``envpromote.toml`` into frozen dataclasses.

Validation collects every problem with its key path (``environments.staging.soak_seconds: ...``) and reports
them together, so a broken file is fixed in one pass rather than one error at a time.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from envpromote.errors import BadInput, ConfigError

DEFAULT_CONFIG_NAME = "envpromote.toml"
CONFIG_ENV_VAR = "ENVPROMOTE_CONFIG"
MAX_CONFIG_BYTES = 256 * 1024
SEVERITIES = ("CRITICAL", "HIGH", "MEDIUM", "LOW")

_REGION = re.compile(r"^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-\d$")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,254}$")
_ENV_NAME = re.compile(r"^[a-z][a-z0-9-]{0,31}$")
_REPO = re.compile(r"^[a-z0-9]+(?:[._/-][a-z0-9]+)*$")
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+$")
_ENV_VAR = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
PRODUCTION_NAMES = frozenset({"prod", "production"})


def is_production(name: str, approval_required: bool = False) -> bool:
    """THE production rule: a production name, or an environment that requires approval."""
    return name in PRODUCTION_NAMES or approval_required


@dataclass(frozen=True)
class Registry:
    repository: str
    region: str


@dataclass(frozen=True)
class LedgerSettings:
    bucket: str
    prefix: str
    region: str
    local_dir: Path
    object_lock: str  # none | governance | compliance
    retention_days: int


@dataclass(frozen=True)
class LockSettings:
    table: str
    region: str
    lease_seconds: int


@dataclass(frozen=True)
class ScanPolicy:
    """Most findings allowed per severity (absent severity = unlimited) and whether unscanned may pass."""

    max_by_severity: Mapping[str, int]
    allow_unscanned: bool
    # A scan without trivy's vulnerability DB (offline) counts as a pass only when this is set.
    accept_partial: bool = False


@dataclass(frozen=True)
class Environment:
    name: str
    upstream: str | None
    region: str
    cluster: str
    service: str
    family: str
    container: str
    desired_count: int
    soak_seconds: int
    approval_required: bool
    execution_role_arn: str
    task_role_arn: str
    role_arn: str | None
    url: str | None
    events_queue: str | None
    scan: ScanPolicy
    taskdef: Mapping[str, Any]

    @property
    def is_production(self) -> bool:
        return is_production(self.name, self.approval_required)


@dataclass(frozen=True)
class Config:
    path: Path
    project_name: str
    template: Path
    registry: Registry
    ledger: LedgerSettings
    lock: LockSettings
    environments: tuple[Environment, ...]
    summary_template: Path | None = None
    _by_name: Mapping[str, Environment] = field(default_factory=dict, repr=False, compare=False)

    @property
    def chain(self) -> tuple[str, ...]:
        return tuple(env.name for env in self.environments)

    def env(self, name: str) -> Environment:
        """The named environment, or a BadInput naming the valid ones."""
        if not isinstance(name, str) or name not in self._by_name:
            shown = repr(name)[:40]
            raise BadInput(
                f"Unknown environment {shown}.",
                fix=f"Use one of: {', '.join(self.chain)} (the chain in {self.path.name}).",
            )
        return self._by_name[name]

    def downstream_of(self, name: str) -> Environment | None:
        for env in self.environments:
            if env.upstream == name:
                return env
        return None


def config_path(explicit: str | os.PathLike[str] | None = None) -> Path:
    """Where the configuration lives: --config, then $ENVPROMOTE_CONFIG, then ./envpromote.toml."""
    if explicit:
        return Path(explicit)
    from_env = os.environ.get(CONFIG_ENV_VAR)
    if from_env:
        return Path(from_env)
    return Path.cwd() / DEFAULT_CONFIG_NAME


def load_config(path: str | os.PathLike[str] | None = None) -> Config:
    """Read, parse and validate the configuration; raise ConfigError listing every problem."""
    cfg_path = config_path(path)
    try:
        raw_bytes = cfg_path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(
            f"Config file {cfg_path} not found.",
            fix=f"Create {DEFAULT_CONFIG_NAME} (see the README) or pass --config / set {CONFIG_ENV_VAR}.",
        ) from None
    except OSError as exc:
        raise ConfigError(
            f"Cannot read config file {cfg_path}: {exc.strerror}.", fix="Check the path."
        ) from None
    if len(raw_bytes) > MAX_CONFIG_BYTES:
        raise ConfigError(
            f"Config file {cfg_path} is {len(raw_bytes)} bytes, over the {MAX_CONFIG_BYTES}-byte limit.",
            fix="Point --config at the real envpromote.toml; it is a few kilobytes.",
        )
    if not raw_bytes.strip():
        raise ConfigError(
            f"Config file {cfg_path} is empty.",
            fix="Declare [registry], [ledger], [lock], [chain] and [environments.*] (see the README).",
        )
    try:
        data = tomllib.loads(raw_bytes.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(f"Config file {cfg_path} is not UTF-8 text.", fix="Save it as UTF-8.") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(
            f"Config file {cfg_path} is not valid TOML: {exc}.", fix="Fix the syntax."
        ) from None
    return parse_config(data, cfg_path)


class _MissingTable(dict[str, Any]):
    """Stands in for an absent table so that its keys are not reported again one by one."""


class _Checker:
    """Collects problems with key paths while reading a nested mapping."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def problem(self, key: str, message: str) -> None:
        self.problems.append(f"{key}: {message}")

    def table(self, data: Any, key: str, allowed: set[str], required: bool = True) -> dict[str, Any]:
        if data is None:
            if required:
                self.problem(key, "missing table")
                return _MissingTable()
            return {}
        if not isinstance(data, dict):
            self.problem(key, f"must be a table, got {type(data).__name__}")
            return {}
        for unknown in sorted(set(data) - allowed):
            self.problem(f"{key}.{unknown}", f"unknown key (allowed: {', '.join(sorted(allowed))})")
        return data

    def string(
        self,
        data: dict[str, Any],
        key: str,
        path: str,
        *,
        pattern: re.Pattern[str] | None = None,
        hint: str = "",
        default: str | None = None,
        required: bool = True,
    ) -> str:
        value = data.get(key, default)
        if value is None:
            if required and not isinstance(data, _MissingTable):
                self.problem(f"{path}.{key}", "missing")
            return ""
        if not isinstance(value, str):
            self.problem(f"{path}.{key}", f"must be a string, got {type(value).__name__}")
            return ""
        if pattern is not None and not pattern.fullmatch(value):
            self.problem(f"{path}.{key}", f"invalid value {value[:60]!r}{' (' + hint + ')' if hint else ''}")
        return value

    def integer(self, data: dict[str, Any], key: str, path: str, *, default: int, low: int, high: int) -> int:
        value = data.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int):
            self.problem(f"{path}.{key}", f"must be an integer, got {type(value).__name__}")
            return default
        if not low <= value <= high:
            self.problem(f"{path}.{key}", f"must be between {low} and {high}, got {value}")
        return value

    def boolean(self, data: dict[str, Any], key: str, path: str, *, default: bool) -> bool:
        value = data.get(key, default)
        if not isinstance(value, bool):
            self.problem(f"{path}.{key}", f"must be true or false, got {value!r}"[:120])
            return default
        return value


_ENV_KEYS = {
    "region",
    "cluster",
    "service",
    "family",
    "container",
    "desired_count",
    "soak_seconds",
    "approval",
    "execution_role_arn",
    "task_role_arn",
    "role_arn",
    "url",
    "events_queue",
    "scan",
    "taskdef",
}
_TASKDEF_KEYS = {"cpu", "memory", "port", "log_group", "log_level", "env", "secrets", "stop_timeout"}


def parse_config(data: dict[str, Any], path: Path) -> Config:
    """Validate a parsed TOML document; pure apart from resolving relative paths against the file."""
    check = _Checker()
    root = check.table(
        data, "<root>", {"project", "registry", "ledger", "lock", "chain", "environments"}, required=True
    )
    base = path.parent

    project = check.table(root.get("project"), "project", {"name", "template", "summary_template"})
    project_name = check.string(project, "name", "project", pattern=_NAME, hint="letters, digits, - and _")
    template = check.string(project, "template", "project", default="templates/taskdef.json.j2")
    summary = project.get("summary_template")

    reg = check.table(root.get("registry"), "registry", {"repository", "region"})
    registry = Registry(
        repository=check.string(reg, "repository", "registry", pattern=_REPO, hint="an ECR repository name"),
        region=check.string(reg, "region", "registry", pattern=_REGION, hint="e.g. us-east-1"),
    )

    led = check.table(
        root.get("ledger"),
        "ledger",
        {"bucket", "prefix", "region", "local_dir", "object_lock", "retention_days"},
    )
    object_lock = check.string(led, "object_lock", "ledger", default="none")
    if object_lock not in {"none", "governance", "compliance"}:
        check.problem("ledger.object_lock", f"must be none, governance or compliance, got {object_lock!r}")
    ledger = LedgerSettings(
        bucket=check.string(led, "bucket", "ledger", pattern=_BUCKET, hint="an S3 bucket name"),
        prefix=check.string(led, "prefix", "ledger", default="releases").strip("/"),
        region=check.string(led, "region", "ledger", pattern=_REGION, hint="e.g. us-east-1"),
        local_dir=base / check.string(led, "local_dir", "ledger", default=".envpromote/records"),
        object_lock=object_lock,
        retention_days=check.integer(led, "retention_days", "ledger", default=0, low=0, high=36500),
    )

    lck = check.table(root.get("lock"), "lock", {"table", "region", "lease_seconds"})
    lock = LockSettings(
        table=check.string(lck, "table", "lock", pattern=re.compile(r"^[A-Za-z0-9_.-]{3,255}$")),
        region=check.string(lck, "region", "lock", pattern=_REGION, hint="e.g. us-east-1"),
        lease_seconds=check.integer(lck, "lease_seconds", "lock", default=1800, low=5, high=86400),
    )

    chain_table = check.table(root.get("chain"), "chain", {"order"})
    order = chain_table.get("order", [])
    if not isinstance(order, list) or not order or not all(isinstance(n, str) for n in order):
        check.problem("chain.order", "must be a non-empty list of environment names")
        order = []
    if len(set(order)) != len(order):
        check.problem("chain.order", "lists an environment twice")
    raw_envs = root.get("environments")
    known = set(raw_envs) if isinstance(raw_envs, dict) else set()
    envs_table = check.table(raw_envs, "environments", set(order) | known)
    for name in order:
        if not _ENV_NAME.fullmatch(name):
            check.problem("chain.order", f"invalid environment name {name[:40]!r} (lowercase, digits and -)")
        if name not in envs_table:
            check.problem(f"environments.{name}", "missing table for an environment listed in chain.order")
    for name in envs_table:
        if name not in order:
            check.problem(f"environments.{name}", "not listed in chain.order")

    environments: list[Environment] = []
    for index, name in enumerate(order):
        if name not in envs_table:
            continue
        environments.append(
            _parse_environment(check, name, envs_table[name], order[index - 1] if index else None)
        )

    if check.problems:
        count = len(check.problems)
        raise ConfigError(
            f"Config file {path} has {count} problem{'s' if count > 1 else ''}: {'; '.join(check.problems)}.",
            problems=check.problems,
            fix="Correct the keys named above (see envpromote.toml in the README).",
        )
    return Config(
        path=path,
        project_name=project_name,
        template=base / template,
        registry=registry,
        ledger=ledger,
        lock=lock,
        environments=tuple(environments),
        summary_template=(base / summary) if isinstance(summary, str) else None,
        _by_name={env.name: env for env in environments},
    )


def _parse_environment(check: _Checker, name: str, raw: Any, upstream: str | None) -> Environment:
    key = f"environments.{name}"
    data = check.table(raw, key, _ENV_KEYS)
    scan_raw = check.table(
        data.get("scan"),
        f"{key}.scan",
        {f"max_{s.lower()}" for s in SEVERITIES} | {"allow_unscanned", "accept_partial"},
        required=False,
    )
    max_by_severity: dict[str, int] = {}
    for severity in SEVERITIES:
        field_name = f"max_{severity.lower()}"
        if field_name in scan_raw:
            max_by_severity[severity] = check.integer(
                scan_raw, field_name, f"{key}.scan", default=0, low=0, high=100000
            )
    approval = check.boolean(data, "approval", key, default=False)
    allow_unscanned = check.boolean(scan_raw, "allow_unscanned", f"{key}.scan", default=False)
    if allow_unscanned and is_production(name, approval):
        check.problem(f"{key}.scan.allow_unscanned", "not allowed for production (approval) environments")

    taskdef = check.table(data.get("taskdef"), f"{key}.taskdef", _TASKDEF_KEYS)
    for table_name in ("env", "secrets"):
        table = taskdef.get(table_name, {})
        if not isinstance(table, dict):
            check.problem(f"{key}.taskdef.{table_name}", 'must be a table of NAME = "value"')
            continue
        for var, value in table.items():
            if not _ENV_VAR.fullmatch(var):
                check.problem(f"{key}.taskdef.{table_name}.{var[:40]}", "invalid environment variable name")
            if not isinstance(value, str):
                check.problem(f"{key}.taskdef.{table_name}.{var[:40]}", "value must be a string")
    if "port" in taskdef:
        check.integer(taskdef, "port", f"{key}.taskdef", default=8080, low=1, high=65535)

    role_arn = check.string(data, "role_arn", key, pattern=_ROLE_ARN, hint="an IAM role ARN", required=False)
    url = check.string(data, "url", key, required=False)
    events_queue = check.string(data, "events_queue", key, required=False)
    return Environment(
        name=name,
        upstream=upstream,
        region=check.string(data, "region", key, pattern=_REGION, hint="e.g. us-east-1"),
        cluster=check.string(data, "cluster", key, pattern=_NAME),
        service=check.string(data, "service", key, pattern=_NAME),
        family=check.string(data, "family", key, pattern=_NAME),
        container=check.string(data, "container", key, pattern=_NAME),
        desired_count=check.integer(data, "desired_count", key, default=2, low=0, high=1000),
        soak_seconds=check.integer(data, "soak_seconds", key, default=0, low=0, high=30 * 86400),
        approval_required=approval,
        execution_role_arn=check.string(
            data, "execution_role_arn", key, pattern=_ROLE_ARN, hint="an IAM role ARN"
        ),
        task_role_arn=check.string(data, "task_role_arn", key, pattern=_ROLE_ARN, hint="an IAM role ARN"),
        role_arn=role_arn or None,
        url=url or None,
        events_queue=events_queue or None,
        scan=ScanPolicy(
            max_by_severity=max_by_severity,
            allow_unscanned=allow_unscanned,
            accept_partial=check.boolean(scan_raw, "accept_partial", f"{key}.scan", default=False),
        ),
        taskdef=dict(taskdef),
    )
