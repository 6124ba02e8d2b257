"""Options and plumbing shared by the release, query and ledger tasks.

Light at import time on purpose (`invoke --list` imports every task module): the release engine, and with it
boto3, botocore, jinja2 and jsonschema, is imported inside the task bodies, never here.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import os
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from invoke.tasks import Task
from invoke.tasks import task as invoke_task

from envpromote.config import load_config
from envpromote.errors import BadInput
from envpromote.tasks._common import handle_errors

if TYPE_CHECKING:
    from envpromote.release import Context

CONFIG_HELP = "Path to envpromote.toml (default: $ENVPROMOTE_CONFIG or ./envpromote.toml)."
DIGEST_HELP = "Image digest sha256:<64 hex> (default: $ENVPROMOTE_DIGEST)."
ENV_HELP = "Target environment (from the chain in envpromote.toml)."
RECORDS_DIR_HELP = "Where the local JSON copy of the record goes (default: [ledger] local_dir)."
JSON_HELP = "Print one JSON document on stdout (results and errors); everything else goes to stderr."

# One meaning per short flag across every task: an option gets a short flag only if it is named here.
# (invoke would otherwise give each task's options first-free letters: -d was --digest in deploy and
# --dry-run in rollback.)
SHORT_FLAGS: dict[str, str] = {
    "env": "e",
    "digest": "d",
    "config": "c",
    "json": "j",
    "dry_run": "n",
    "yes": "y",
    "approver": "a",
    "force": "f",
    "tag": "t",
    "verbose": "v",
    "limit": "l",
}


class ProductTask(Task[Any]):
    """An invoke Task whose short flags come from :data:`SHORT_FLAGS` only."""

    def arg_opts(self, name: str, default: str, taken_names: set[str]) -> dict[str, Any]:
        opts: dict[str, Any] = super().arg_opts(name, default, taken_names)
        short = SHORT_FLAGS.get(name)
        opts["names"] = [n for n in opts["names"] if len(n) > 1] + ([short] if short else [])
        return opts


def task(**kwargs: Any) -> Callable[[Callable[..., Any]], ProductTask]:
    """``@task(help=...)``: ``invoke.task`` with :class:`ProductTask` (the decorator for every product task)."""
    decorate: Callable[[Callable[..., Any]], ProductTask] = invoke_task(klass=ProductTask, **kwargs)
    return decorate


def options_task(
    options: type[Any], shared_help: Mapping[str, str]
) -> Callable[..., Callable[[Callable[..., None]], ProductTask]]:
    """The decorator for a family of tasks that share the options of the dataclass `options`.

    ``@family(option=help, ...)`` goes over ``def verb(c, opts: <options>, *, own options)``. invoke reads a
    task's flags from its signature: the task it makes has the shared options and the verb's own (with
    `shared_help` and the given help texts), and calls the body with the shared ones as one `opts` value.
    """
    shared = [
        inspect.Parameter(f.name, inspect.Parameter.KEYWORD_ONLY, default=f.default, annotation=f.type)
        for f in dataclasses.fields(options)
    ]
    shared_names = {p.name for p in shared}

    def family(**help: str) -> Callable[[Callable[..., None]], ProductTask]:
        def decorate(body: Callable[..., None]) -> ProductTask:
            own = list(inspect.signature(body).parameters.values())  # c, opts, then the verb's own options

            @functools.wraps(body)
            def verb(c: Any, **values: Any) -> None:
                common = {name: values.pop(name) for name in list(values) if name in shared_names}
                body(c, options(**common), **values)

            verb.__signature__ = inspect.Signature([own[0], *shared, *own[2:]])  # type: ignore[attr-defined]
            return task(help={**shared_help, **help})(handle_errors(verb))

        return decorate

    return family


def progress(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def release_context(config: str, records_dir: str = "", *, env: str | None = None) -> Context:
    """The engine's context for a task. With `env` given (even empty) the environment must be named."""
    from envpromote.release import Context, Identity

    cfg = load_config(config or None)
    if env is not None and not env:
        raise BadInput("No --env given.", fix=f"Pass --env with one of: {', '.join(cfg.chain)}.")
    return Context(
        config=cfg,
        identity=Identity.from_environment(),
        out=progress,
        records_dir=Path(records_dir) if records_dir else None,
    )


def digest_option(value: str | None) -> str | None:
    return value or os.environ.get("ENVPROMOTE_DIGEST") or None


def print_calls(calls: dict[str, int]) -> None:
    total = sum(calls.values())
    ecs = sum(n for k, n in calls.items() if k.startswith("ecs:"))
    progress(
        f"AWS API calls: {total} (ECS {ecs}): " + ", ".join(f"{k} {n}" for k, n in sorted(calls.items()))
    )
