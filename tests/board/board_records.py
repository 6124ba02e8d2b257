"""Hand-made release records for the board tests: a digest that reached production, one rolled back by ECS
in staging, and a production release undone by a manual rollback."""

from __future__ import annotations

import datetime as dt
from typing import Any

from envpromote.ledger import new_record

T0 = dt.datetime(2026, 11, 20, 9, 0, tzinfo=dt.UTC)
A = "sha256:" + "a" * 64
B = "sha256:" + "b" * 64
C = "sha256:" + "c" * 64
REPO = "123456789012.dkr.ecr.us-east-1.amazonaws.com/envpromote-app"
CHAIN = ("dev", "staging", "production")


def record(env: str, minute: int, digest: str, status: str, **kw: Any) -> dict[str, Any]:
    start = T0 + dt.timedelta(minutes=minute)
    return new_record(
        environment=env,
        kind=kw.pop("kind", "deploy" if env == "dev" else "promote"),
        status=status,
        digest=digest,
        image_uri=f"{REPO}@{digest}",
        started_at=start,
        finished_at=start + dt.timedelta(seconds=95),
        source_environment=kw.pop("source", None),
        actor=kw.pop("actor", "ci-bot"),
        source_commit=kw.pop("commit", digest[7:17] + "0" * 30),
        **kw,
    )


def sequenced(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    for index, rec in enumerate(records, start=1):
        rec["sequence"] = index
    return records


def story() -> dict[str, list[dict[str, Any]]]:
    """A and then B go through the chain; C fails in staging (ECS rolled it back); B is rolled back in production."""
    dev = sequenced(
        [record("dev", 0, A, "success"), record("dev", 10, B, "success"), record("dev", 20, C, "success")]
    )
    staging = sequenced(
        [
            record("staging", 2, A, "success", source="dev"),
            record("staging", 12, B, "success", source="dev"),
            record(
                "staging",
                22,
                C,
                "rolled_back",
                source="dev",
                previous_digest=B,
                reasons=[
                    "ECS deployment circuit breaker: tasks failed to start.",
                    "Essential container in task exited",
                ],
            ),
        ]
    )
    production = sequenced(
        [
            record("production", 4, A, "success", source="staging", approver="alice <Lead>"),
            record("production", 14, B, "success", source="staging", approver="bob", previous_digest=A),
            record(
                "production",
                30,
                A,
                "success",
                kind="rollback",
                previous_digest=B,
                actor="carol",
                reasons=["manual rollback: error rate up after B"],
            ),
        ]
    )
    return {"dev": dev, "staging": staging, "production": production}
