"""`invoke board`: read the ledger and ECS, build the model, render the site (the only I/O of the board).

Reads are bounded apart from the ledger history itself: one DescribeServices + DescribeTaskDefinition and one
lock GetItem per environment, task definitions of the newest few releases per environment (for their diffs),
and build records of the digests the front page shows.
"""

from __future__ import annotations

import datetime as dt
import importlib
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import botocore.exceptions

from envpromote.aws import ClientFactory
from envpromote.board.model import Board, Observation, build_board
from envpromote.board.observe import observe
from envpromote.board.site import RECENT_PATHS, SiteReport, render_site
from envpromote.config import Config, LedgerSettings
from envpromote.ledger import Ledger

DIFFED_RELEASES_PER_ENV = 5
Factory = Callable[[str, str | None], ClientFactory]


def _default_factory() -> Factory:
    made: dict[tuple[str, str | None], ClientFactory] = {}

    def factory(region: str, role_arn: str | None) -> ClientFactory:
        if (region, role_arn) not in made:
            made[(region, role_arn)] = ClientFactory(
                region, role_arn=role_arn, session_name="envpromote-board"
            )
        return made[(region, role_arn)]

    return factory


def ledger_key_function(settings: LedgerSettings) -> Callable[[str, int], str]:
    """The S3 key of a record: the ledger's own layout module when it has one, else the schema-1 layout."""
    try:
        layout: Any = importlib.import_module("envpromote.ledger.layout")
    except ImportError:
        layout = None
    if layout is not None and hasattr(layout, "record_key"):
        return lambda env, seq: str(layout.record_key(settings.prefix, env, seq))
    return lambda env, seq: f"{settings.prefix}/envs/{env}/{seq:010d}.json"


@dataclass(frozen=True)
class Generated:
    board: Board
    site: SiteReport


def generate(
    config: Config,
    out_dir: str | os.PathLike[str],
    *,
    factory: Factory | None = None,
    now: dt.datetime | None = None,
) -> Generated:
    """Read the ledger and ECS for every environment of the chain and write the site to `out_dir`."""
    factory = factory or _default_factory()
    ledger = Ledger(factory(config.ledger.region, None).client("s3"), config.ledger)
    # One environment per thread: reading the ledger is one GET per record, so it is I/O-bound.
    with ThreadPoolExecutor(max_workers=len(config.environments) or 1, thread_name_prefix="board") as pool:
        histories = pool.map(ledger.history, [env.name for env in config.environments])
        records = dict(zip([env.name for env in config.environments], histories, strict=True))
    dynamodb = factory(config.lock.region, None).client("dynamodb")
    observations: dict[str, Observation] = {}
    taskdefs: dict[str, dict[str, Any]] = {}
    for env in config.environments:
        ecs = factory(env.region, env.role_arn).client("ecs")
        observation, document = observe(ecs, dynamodb, env, config.lock.table)
        observations[env.name] = observation
        if document is not None and observation.task_definition_arn:
            taskdefs[observation.task_definition_arn] = document
        for record in records[env.name][-DIFFED_RELEASES_PER_ENV:]:
            for key in ("task_definition_arn", "previous_task_definition_arn"):
                arn = record.get(key)
                if arn and arn not in taskdefs:
                    try:
                        taskdefs[arn] = ecs.describe_task_definition(taskDefinition=arn)["taskDefinition"]
                    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError):
                        continue  # deregistered or unreadable: the page says no diff is available
    builds = {}
    for digest in _front_page_digests(records, observations):
        build = ledger.latest_build(digest)
        if build is not None:
            builds[digest] = build
    board = build_board(
        project=config.project_name,
        chain=config.chain,
        upstreams={env.name: env.upstream for env in config.environments},
        records_by_env=records,
        observations=observations,
        generated_at=(now or dt.datetime.now(dt.UTC)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        builds=builds,
        taskdefs=taskdefs,
        ledger_key=ledger_key_function(config.ledger),
    )
    site = render_site(board, out_dir, bucket=config.ledger.bucket)
    return Generated(board=board, site=site)


def _front_page_digests(
    records: dict[str, list[dict[str, Any]]], observations: dict[str, Observation]
) -> list[str]:
    latest: dict[str, str] = {}
    for history in records.values():
        for record in history:
            digest = record.get("digest")
            if digest:
                latest[digest] = max(latest.get(digest, ""), str(record.get("finished_at", "")))
    ordered = sorted(latest, key=lambda d: latest[d], reverse=True)[:RECENT_PATHS]
    running = [o.running_digest for o in observations.values() if o.running_digest]
    return list(dict.fromkeys([*running, *ordered]))
