"""Tasks: the release board (``board``) and notifications (``notify.test``).

Importing this module stays light (``envpromote --list`` imports every task module): boto3, Jinja, the ledger
and the board are imported inside the tasks.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from invoke.collection import Collection
from invoke.context import Context
from invoke.tasks import task

from envpromote.errors import BadInput, EnvPromoteError, PreflightFailed
from envpromote.tasks._common import handle_errors, print_json

if TYPE_CHECKING:
    from envpromote.config import Environment
    from envpromote.ledger import Ledger
    from envpromote.notify import Target

CONFIG_HELP = "Path to envpromote.toml (default: $ENVPROMOTE_CONFIG or ./envpromote.toml)."
DEFAULT_OUT = ".envpromote/board"
ZERO_DIGEST = "sha256:" + "0" * 64


@task(
    help={
        "out": f"Directory to write the site to (default: {DEFAULT_OUT}).",
        "serve": "Serve the site on 127.0.0.1 after generating it (Ctrl-C stops).",
        "port": "Port for --serve (default: a free one).",
        "config": CONFIG_HELP,
        "json": "Print what was generated as JSON.",
    }
)
@handle_errors
def board(
    c: Context, out: str = "", serve: bool = False, port: int = 0, config: str = "", json: bool = False
) -> None:
    """Render the release board (what runs where, each digest's path, histories, releases) as a static site."""
    from envpromote.board.generate import generate
    from envpromote.board.serve import make_server
    from envpromote.config import load_config

    cfg = load_config(config or None)
    generated = generate(cfg, Path(out or DEFAULT_OUT))
    site = generated.site
    if json:
        print_json(
            {
                "out": str(site.out_dir),
                "index": str(site.index),
                "pages": site.pages,
                "running": {c.environment: c.running_digest for c in generated.board.columns},
            }
        )
    else:
        print(f"board: {site.pages} pages in {site.out_dir}/ (open {site.index})")
    if serve:
        server = make_server(site.out_dir, port)
        bound = server.server_address[1]
        print(f"serving http://127.0.0.1:{bound}/index.html (Ctrl-C stops)", flush=True)
        try:
            server.serve_forever()
        finally:
            server.server_close()


def _configured_targets(env: Environment) -> tuple[Target, ...]:
    """The environment's ``notify`` targets once config.py carries them (an attribute of Environment)."""
    value: Any = getattr(env, "notify", ())
    return tuple(value)


def _test_record(cfg_env: Environment, ledger: Ledger | None) -> dict[str, Any]:
    from envpromote.ledger import new_record

    last: dict[str, Any] | None = None
    if ledger is not None:
        try:
            history = ledger.history(cfg_env.name)
            last = history[-1] if history else None
        except EnvPromoteError:
            last = None
    digest = str(last["digest"]) if last and last.get("digest") else ZERO_DIGEST
    now = dt.datetime.now(dt.UTC)
    record = new_record(
        environment=cfg_env.name,
        kind="deploy",
        status="success",
        digest=digest,
        image_uri=f"envpromote-test@{digest}",
        started_at=now,
        finished_at=now,
        actor=os.environ.get("GITHUB_ACTOR") or os.environ.get("USER") or "envpromote",
        reasons=["This is a test message from 'invoke notify.test'; nothing was deployed."],
        source_commit=last.get("source_commit") if last else None,
    )
    return dict(record)


@task(
    name="test",
    help={
        "env": "Environment whose notify targets get the test message.",
        "target": "A target to use instead of the configured ones (repeatable): slack:env:VAR, "
        "slack:secretsmanager:ARN or sns:ARN.",
        "config": CONFIG_HELP,
        "json": "Print the results as JSON.",
    },
    iterable=["target"],
)
@handle_errors
def notify_test(
    c: Context, env: str = "", target: list[str] | None = None, config: str = "", json: bool = False
) -> None:
    """Send a test notification to ENV's targets (exit 4 if any target failed after its retries)."""
    from envpromote.aws import ClientFactory
    from envpromote.config import load_config
    from envpromote.ledger import Ledger
    from envpromote.notify import links_for, notify, parse_targets
    from envpromote.notify.send import BOARD_URL_VAR

    cfg = load_config(config or None)
    environment = cfg.env(env)
    targets = parse_targets(list(target), "--target") if target else _configured_targets(environment)
    if not targets:
        raise BadInput(
            f"{environment.name} has no notify targets.",
            fix=f"Add notify = [...] to [environments.{environment.name}] or pass --target.",
        )
    clients = ClientFactory(
        environment.region, role_arn=environment.role_arn, session_name="envpromote-notify"
    )
    ledger = Ledger(ClientFactory(cfg.ledger.region).client("s3"), cfg.ledger)
    record = _test_record(environment, ledger)
    links = links_for(record, board_url=os.environ.get(BOARD_URL_VAR), environ=os.environ)
    results = notify(targets, record, links, clients=clients, test=True)
    if json:
        print_json([r.to_dict() for r in results])
    else:
        for result in results:
            state = "sent" if result.ok else f"FAILED ({result.error})"
            print(f"{result.target}: {state} after {result.attempts} attempt(s)")
    failed = [r for r in results if not r.ok]
    if failed:
        raise PreflightFailed(
            f"{len(failed)} of {len(results)} notify target(s) failed for {environment.name}.",
            fix="Check the webhook variable or secret and the topic ARN; the lines above name each failure.",
        )


notify_collection = Collection("notify")
notify_collection.add_task(notify_test)

ROOT_TASKS: list[Any] = [board]
COLLECTIONS: dict[str, Collection] = {"notify": notify_collection}
