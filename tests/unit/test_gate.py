"""Gate rules over ledger histories (pure)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from envpromote.config import load_config
from envpromote.errors import BadInput, GateRefused
from envpromote.gate import scan_gate, upstream_success
from envpromote.ledger import new_record, seal

ROOT = Path(__file__).resolve().parents[2]
CFG = load_config(ROOT / "envpromote.toml")
NOW = dt.datetime(2026, 11, 26, 12, 0, tzinfo=dt.UTC)
D1, D2 = "sha256:" + "1" * 64, "sha256:" + "2" * 64


def rec(
    env: str, digest: str, status: str = "success", kind: str = "deploy", minutes_ago: int = 60, **kw: object
) -> dict:
    finished = NOW - dt.timedelta(minutes=minutes_ago)
    draft = new_record(
        environment=env,
        kind=kind,
        status=status,
        digest=digest,
        image_uri=f"r/app@{digest}",
        started_at=finished,
        finished_at=finished,
        **kw,
    )
    return seal(draft, sequence=1, previous=None)


def test_success_upstream_passes_with_evidence() -> None:
    evidence = upstream_success(CFG, CFG.env("staging"), D1, {"dev": [rec("dev", D1)]}, NOW)
    assert evidence.upstream_record["digest"] == D1
    assert "dev: success" in evidence.lines[0]


def test_no_upstream_success_is_refused() -> None:
    with pytest.raises(GateRefused, match="no successful release in dev"):
        upstream_success(CFG, CFG.env("staging"), D1, {"dev": [rec("dev", D1, status="rolled_back")]}, NOW)


def test_skipping_an_environment_names_the_next_step() -> None:
    with pytest.raises(GateRefused, match="would skip staging") as info:
        upstream_success(CFG, CFG.env("production"), D1, {"dev": [rec("dev", D1)], "staging": []}, NOW)
    assert "--env staging" in (info.value.fix or "")


def test_soak_time_is_enforced() -> None:
    cfg_env = CFG.env("staging")
    soaking = type(cfg_env)(**{**cfg_env.__dict__, "soak_seconds": 7200})
    with pytest.raises(GateRefused, match="soaked 3600s in dev; staging needs 7200s"):
        upstream_success(CFG, soaking, D1, {"dev": [rec("dev", D1)]}, NOW)


def test_rolled_back_upstream_since_success_is_refused() -> None:
    history = [
        rec("dev", D1, minutes_ago=60),
        rec("dev", D2, kind="rollback", minutes_ago=30, previous_digest=D1),
    ]
    with pytest.raises(GateRefused, match="was rolled back in dev"):
        upstream_success(CFG, CFG.env("staging"), D1, {"dev": history}, NOW)


def test_entry_environment_has_no_upstream() -> None:
    with pytest.raises(BadInput, match="entry environment"):
        upstream_success(CFG, CFG.env("dev"), D1, {}, NOW)


def test_scan_gate() -> None:
    production = CFG.env("production")
    meta = {"trivy_version": "0.76.0", "db_date": "2026-11-01", "modes": ["image"]}
    clean = {"counts": {"CRITICAL": 0, "HIGH": 0}, "partial": False, **meta}
    dirty = {"counts": {"CRITICAL": 1, "HIGH": 3}, "partial": False, **meta}
    assert scan_gate(production, D1, {"scan": clean}, allow_unscanned=False)[1] is False
    with pytest.raises(GateRefused, match="1 CRITICAL finding"):
        scan_gate(production, D1, {"scan": dirty}, allow_unscanned=False)
    with pytest.raises(GateRefused, match="no scan record"):
        scan_gate(production, D1, None, allow_unscanned=False)
    with pytest.raises(BadInput, match="not available for production"):
        scan_gate(production, D1, None, allow_unscanned=True)
    _, used, lines = scan_gate(CFG.env("staging"), D1, None, allow_unscanned=True)
    assert used
    assert "unscanned allowed" in lines[0]


def test_partial_scan_never_passes_a_vulnerability_threshold_unless_accepted() -> None:
    partial = {"counts": {}, "partial": True, "trivy_version": "0.76.0", "db_date": None, "modes": ["image"]}
    strict = CFG.env("production")
    strict = type(strict)(
        **{**strict.__dict__, "scan": type(strict.scan)({"HIGH": 0}, False, accept_partial=False)}
    )
    with pytest.raises(GateRefused, match="PARTIAL"):
        scan_gate(strict, D1, {"scan": partial}, allow_unscanned=False)
    _, _, lines = scan_gate(CFG.env("production"), D1, {"scan": partial}, allow_unscanned=False)
    assert "partial" in lines[0]


def test_malformed_scan_record_is_refused() -> None:
    with pytest.raises(GateRefused, match="unreadable scan record"):
        scan_gate(CFG.env("production"), D1, {"scan": {"counts": "lots"}}, allow_unscanned=False)
