"""A root's ``envpromote`` output in envpromote.toml's terms (pure): tables, and TOML text via tomli-w."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import tomli_w

from envpromote.errors import BadInput

_CONFIG_SECTIONS = ("registry", "ledger", "lock")
_ENVIRONMENT_KEYS = (
    "region",
    "cluster",
    "service",
    "family",
    "container",
    "execution_role_arn",
    "task_role_arn",
    "role_arn",
    "url",
    "events_queue",
)


def config_tables(env: str, outputs: Mapping[str, Any]) -> dict[str, Any]:
    """Map a root's `envpromote` output to envpromote.toml tables (pure).

    Shared root: [registry], [ledger], [lock]. Environment roots: [environments.<env>] (and its taskdef's
    log_group). Raises BadInput when the root has no such output yet (not applied).
    """
    snippet = outputs.get("envpromote")
    if not isinstance(snippet, Mapping) or not snippet:
        raise BadInput(
            f"The {env} root has no 'envpromote' output.",
            fix=f"Run 'invoke infra.apply --env {env}' first (on a new machine 'invoke infra.init --env {env}').",
        )
    tables: dict[str, Any] = {}
    for section in _CONFIG_SECTIONS:
        if isinstance(snippet.get(section), Mapping):
            tables[section] = {k: v for k, v in snippet[section].items() if v is not None}
    environment = snippet.get("environment")
    if isinstance(environment, Mapping):
        name = str(environment.get("name") or env)
        table: dict[str, Any] = {
            k: environment[k] for k in _ENVIRONMENT_KEYS if environment.get(k) is not None
        }
        if environment.get("log_group"):
            table["taskdef"] = {"log_group": environment["log_group"]}
        tables["environments"] = {name: table}
    return tables


def to_toml(tables: Mapping[str, Any]) -> str:
    """Render nested tables as TOML (tomli-w: strings, numbers, booleans, lists, nested tables)."""
    return tomli_w.dumps(dict(tables))
