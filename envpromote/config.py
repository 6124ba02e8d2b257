"""Load and validate ``envpromote.toml`` into frozen dataclasses.

Validation is the JSON Schema envpromote/schemas/config.schema.json (types, patterns, ranges, unknown keys)
plus the cross-key rules it does not express well (chain.order vs environments, production vs allow_unscanned,
Fargate cpu/memory pairs, from ``fargate.py``). Every problem is one line starting with its key path
(``environments.staging.soak_seconds: ...``), all reported together so a broken file is fixed in one pass.
"""

from __future__ import annotations

import json
import os
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from envpromote.errors import BadInput, ConfigError
from envpromote.fargate import fargate_size_problems
from envpromote.notify.targets import Target, target_problems
from envpromote.strategy import ROLLING, Strategy, parse_strategy, strategy_problems

if TYPE_CHECKING:
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import ValidationError

DEFAULT_CONFIG_NAME = "envpromote.toml"
CONFIG_ENV_VAR = "ENVPROMOTE_CONFIG"
DEFAULT_APP_DIR = "app"
DEFAULT_INFRA_DIR = "infra"
DEFAULT_TEMPLATE = "templates/taskdef.json.j2"
MAX_CONFIG_BYTES = 256 * 1024
SEVERITIES = ("CRITICAL", "HIGH", "MEDIUM", "LOW")

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
    # How ECS rolls a release out (and what is verified at its pause); rolling unless configured.
    strategy: Strategy = ROLLING
    # Where terminal outcomes are announced (Slack webhooks from env/Secrets Manager, SNS topics).
    notify: tuple[Target, ...] = ()

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
    # The app directory (Dockerfile, src/) and the Terraform tree: [build] app_dir, [infra] dir, resolved
    # against the config file's folder like every other path (the defaults are for a Config built by hand).
    app_dir: Path = Path(DEFAULT_APP_DIR)
    infra_dir: Path = Path(DEFAULT_INFRA_DIR)
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


# ------------------------------------------------------------------------------------------- validation
@lru_cache(maxsize=1)
def _validator() -> Draft202012Validator:
    from jsonschema import Draft202012Validator  # imported when a config is validated, not at start-up

    text = resources.files("envpromote").joinpath("schemas/config.schema.json").read_text("utf-8")
    schema = json.loads(text)
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def _key(path: Iterable[Any]) -> str:
    return ".".join(str(part) for part in path) or "<root>"


def _type_name(value: Any) -> str:
    return {
        bool: "boolean",
        int: "integer",
        float: "number",
        str: "string",
        list: "array",
        dict: "table",
    }.get(type(value), type(value).__name__)


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _schema_problems(error: ValidationError) -> list[str]:
    """One line per problem, starting with its key path (``environments.staging.soak_seconds: ...``)."""
    key = _key(error.absolute_path)
    schema: Any = error.schema
    value: Any = error.instance
    kind: Any = error.validator
    expected: Any = error.validator_value
    hint = f" ({schema['description']})" if isinstance(schema, dict) and "description" in schema else ""
    if "propertyNames" in error.schema_path:
        return [f"{_key([*error.absolute_path, value])}: invalid name{hint}"]
    if kind == "additionalProperties" and isinstance(value, dict):
        allowed = sorted(schema.get("properties", {}))
        listed = f" (allowed: {', '.join(allowed)})" if allowed else ""
        extra = sorted(set(value) - set(allowed)) if allowed else []
        return [f"{_key([*error.absolute_path, name])}: unknown key{listed}" for name in extra]
    if kind == "required":
        missing = [name for name in expected if name not in value]
        at_root = not error.absolute_path
        return [
            f"{_key([*error.absolute_path, name])}: missing{' table' if at_root else ''}" for name in missing
        ]
    if kind == "type":
        wanted = expected
        wanted_text = " or ".join(wanted) if isinstance(wanted, list) else wanted
        words = {"object": "a table", "boolean": "true or false", "array": "a list"}
        wanted_text = words.get(wanted_text, f"a {wanted_text}" if wanted_text != "integer" else "an integer")
        return [f"{key}: must be {wanted_text}, got {_type_name(value)}"]
    if kind in {"minimum", "maximum"}:
        low, high = schema.get("minimum"), schema.get("maximum")
        return [f"{key}: must be between {low} and {high}, got {value}"]
    if kind == "enum":
        return [f"{key}: must be one of {', '.join(map(str, expected))}, got {_shown(value)}"]
    if kind == "pattern":
        return [f"{key}: invalid value {_shown(value)}{hint}"]
    if kind == "uniqueItems":
        return [f"{key}: lists an environment twice"]
    if kind == "minItems":
        return [f"{key}: must not be empty"]
    if kind == "minLength":
        return [f"{key}: must not be empty"]
    return [f"{key}: {error.message}"]


def _rule_problems(data: Mapping[str, Any]) -> list[str]:
    """The cross-key rules a schema does not express well."""
    problems: list[str] = []
    chain = data.get("chain")
    order = chain.get("order", []) if isinstance(chain, dict) else []
    order = [name for name in order if isinstance(name, str)] if isinstance(order, list) else []
    environments = data.get("environments", {})
    environments = environments if isinstance(environments, dict) else {}
    for name in order:
        if name not in environments:
            problems.append(f"environments.{name}: missing table for an environment listed in chain.order")
    for name, raw in environments.items():
        if name not in order:
            problems.append(f"environments.{name}: not listed in chain.order")
        if not isinstance(raw, dict):
            continue
        scan: Mapping[str, Any] = raw["scan"] if isinstance(raw.get("scan"), dict) else {}
        approval = raw.get("approval") is True
        if scan.get("allow_unscanned") is True and is_production(name, approval):
            problems.append(
                f"environments.{name}.scan.allow_unscanned: not allowed for production (approval) environments"
            )
        if isinstance(raw.get("taskdef"), dict):
            problems.extend(fargate_size_problems(f"environments.{name}.taskdef", raw["taskdef"]))
        problems.extend(strategy_problems(raw, f"environments.{name}"))
        if "notify" in raw:
            problems.extend(target_problems(raw["notify"], f"environments.{name}.notify")[1])
    return problems


def validate(data: Mapping[str, Any]) -> list[str]:
    """Every problem of a parsed envpromote.toml, one line each with its key path (empty: valid)."""
    problems: list[str] = []
    for error in sorted(_validator().iter_errors(data), key=lambda e: [str(p) for p in e.absolute_path]):
        problems.extend(_schema_problems(error))
    if isinstance(data, dict):
        problems.extend(_rule_problems(data))
    return list(dict.fromkeys(problems))  # one line per problem (each missing key is reported once)


def parse_config(data: dict[str, Any], path: Path) -> Config:
    """Validate a parsed TOML document (JSON Schema, then cross-key rules) and build the Config.

    Pure apart from resolving relative paths against the file's folder (THE path rule: every path in the
    file is relative to the folder that holds it, whatever the current directory is).
    """
    problems = validate(data)
    if problems:
        count = len(problems)
        raise ConfigError(
            f"Config file {path} has {count} problem{'s' if count > 1 else ''}: {'; '.join(problems)}.",
            reasons=problems,
            fix="Correct the keys named above (see envpromote.toml in the README).",
        )
    base = path.parent
    project, led, lck = data["project"], data["ledger"], data["lock"]
    order: list[str] = data["chain"]["order"]
    environments = tuple(
        _environment(name, data["environments"][name], order[index - 1] if index else None)
        for index, name in enumerate(order)
    )
    summary = project.get("summary_template")
    return Config(
        path=path,
        project_name=project["name"],
        template=base / project.get("template", DEFAULT_TEMPLATE),
        registry=Registry(repository=data["registry"]["repository"], region=data["registry"]["region"]),
        ledger=LedgerSettings(
            bucket=led["bucket"],
            prefix=led.get("prefix", "releases").strip("/"),
            region=led["region"],
            local_dir=base / led.get("local_dir", ".envpromote/records"),
            object_lock=led.get("object_lock", "none"),
            retention_days=led.get("retention_days", 0),
        ),
        lock=LockSettings(
            table=lck["table"], region=lck["region"], lease_seconds=lck.get("lease_seconds", 60)
        ),
        environments=environments,
        summary_template=(base / summary) if summary else None,
        app_dir=base / data.get("build", {}).get("app_dir", DEFAULT_APP_DIR),
        infra_dir=base / data.get("infra", {}).get("dir", DEFAULT_INFRA_DIR),
        _by_name={env.name: env for env in environments},
    )


def _environment(name: str, data: Mapping[str, Any], upstream: str | None) -> Environment:
    scan = data.get("scan", {})
    return Environment(
        name=name,
        upstream=upstream,
        region=data["region"],
        cluster=data["cluster"],
        service=data["service"],
        family=data["family"],
        container=data["container"],
        desired_count=data.get("desired_count", 2),
        soak_seconds=data.get("soak_seconds", 0),
        approval_required=data.get("approval", False),
        execution_role_arn=data["execution_role_arn"],
        task_role_arn=data["task_role_arn"],
        role_arn=data.get("role_arn") or None,
        url=data.get("url") or None,
        events_queue=data.get("events_queue") or None,
        scan=ScanPolicy(
            max_by_severity={s: scan[f"max_{s.lower()}"] for s in SEVERITIES if f"max_{s.lower()}" in scan},
            allow_unscanned=scan.get("allow_unscanned", False),
            accept_partial=scan.get("accept_partial", False),
        ),
        taskdef=dict(data.get("taskdef", {})),
        strategy=parse_strategy(data, f"environments.{name}"),
        notify=target_problems(data.get("notify", []), f"environments.{name}.notify")[0],
    )
