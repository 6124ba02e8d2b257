"""Pure parts of envpromote.scan: .trivyignore rules, thresholds, the ledger summary round trip."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from envpromote.errors import BadInput, PreflightFailed
from envpromote.scan import ignore, model, report, trivy

TODAY = date(2026, 11, 26)


def parse(text: str) -> tuple[list[ignore.IgnoreEntry], list[str]]:
    return ignore.parse_trivyignore(text, today=TODAY)


def test_entry_with_reason_and_expiry_is_accepted() -> None:
    entries, problems = parse(
        "# ECS ignores Dockerfile HEALTHCHECK; the task definition has its own\n"
        "# (second reason line)\n"
        "DS-0026 exp:2027-05-01\n"
    )
    assert problems == []
    assert entries == [
        ignore.IgnoreEntry(
            rule_id="DS-0026",
            expires=date(2027, 5, 1),
            reason="ECS ignores Dockerfile HEALTHCHECK; the task definition has its own (second reason line)",
            line=3,
        )
    ]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("DS-0026 exp:2027-05-01\n", "line 1: DS-0026 has no reason"),
        ("# reason\nDS-0026\n", "line 2: DS-0026 has no expiry"),
        ("# reason\n\nDS-0026 exp:2027-05-01\n", "line 3: DS-0026 has no reason"),
        ("# reason\nDS-0026 exp:2027-02-30\n", "is not a real date"),
        ("# reason\nDS-0026 exp:27-05-01\n", "unexpected field 'exp:27-05-01'"),
        ("# reason\nDS-0026 exp:2030-01-01\n", "expires 2030-01-01, more than 366 days ahead"),
        ("#\nDS-0026 exp:2027-05-01\n", "line 2: DS-0026 has no reason"),
    ],
)
def test_entry_problems_are_named_with_their_line(text: str, problem: str) -> None:
    entries, problems = parse(text)
    assert entries == []
    assert len(problems) == 1
    assert problem in problems[0]


def test_reason_belongs_to_the_next_entry_only() -> None:
    entries, problems = parse("# reason for the first\nDS-0026 exp:2027-01-01\nDS-0002 exp:2027-01-01\n")
    assert [entry.rule_id for entry in entries] == ["DS-0026"]
    assert problems == ["line 3: DS-0002 has no reason (put a # comment line right above it)"]


def test_expired_entries_are_kept_so_they_can_be_reported() -> None:
    entries, problems = parse("# accepted until the fix\nCVE-2024-0001 exp:2025-01-01\n")
    assert problems == []
    assert entries[0].expires < TODAY


def test_load_trivyignore_raises_one_bad_input_naming_every_problem(tmp_path: Path) -> None:
    path = tmp_path / ".trivyignore"
    path.write_text("DS-0026\n# ok\nDS-0002 exp:2026-12-01\nAWS-0132 exp:2026-12-01\n")
    with pytest.raises(BadInput) as caught:
        ignore.load_trivyignore(path, today=TODAY)
    line = caught.value.one_line()
    assert "\n" not in line
    assert "line 1: DS-0026 has no expiry" in line
    assert "line 4: AWS-0132 has no reason" in line
    assert "Fix:" in line
    assert ignore.load_trivyignore(tmp_path / "absent", today=TODAY) == []


def test_repository_trivyignore_is_valid() -> None:
    path = Path(__file__).parents[2] / ".trivyignore"
    assert path.is_file()
    entries = ignore.load_trivyignore(path)  # raises BadInput on an entry without reason or expiry
    assert all(entry.reason and entry.expires for entry in entries)


@pytest.mark.parametrize(
    ("fail_on", "expected"),
    [
        ("critical", {"CRITICAL": 0}),
        ("HIGH", {"HIGH": 0, "CRITICAL": 0}),
        ("UNKNOWN", dict.fromkeys(model.SEVERITIES, 0)),
    ],
)
def test_thresholds_for(fail_on: str, expected: dict[str, int]) -> None:
    assert model.thresholds_for(fail_on) == expected


def test_thresholds_for_unknown_severity_is_bad_input() -> None:
    with pytest.raises(BadInput, match="--fail-on 'SEVERE' is not a severity"):
        model.thresholds_for("SEVERE")


def summary(partial: bool = False, **counts: int) -> model.ScanSummary:
    return model.ScanSummary(
        counts={severity: counts.get(severity, 0) for severity in model.SEVERITIES},
        trivy_version="0.76.0",
        db_date=None if partial else "2026-11-26T06:00:00Z",
        partial=partial,
        modes=("image",),
    )


def test_exceeds_lists_each_severity_over_its_limit() -> None:
    violations = model.exceeds(
        summary(CRITICAL=1, HIGH=3, MEDIUM=9), {"CRITICAL": 0, "HIGH": 2, "MEDIUM": 10}
    )
    assert violations == ["1 CRITICAL finding (at most 0 allowed)", "3 HIGH findings (at most 2 allowed)"]


def test_exceeds_is_empty_within_limits() -> None:
    assert model.exceeds(summary(HIGH=2), {"CRITICAL": 0, "HIGH": 2}) == []
    assert model.exceeds(summary(CRITICAL=5), {}) == []


def test_partial_summary_never_satisfies_a_threshold_unless_allowed() -> None:
    partial = summary(partial=True)
    (violation,) = model.exceeds(partial, {"CRITICAL": 0})
    assert "PARTIAL" in violation
    assert model.exceeds(partial, {"CRITICAL": 0}, allow_partial=True) == []
    assert model.exceeds(partial, {}) == []


def test_exceeds_names_unknown_severities_in_thresholds() -> None:
    assert model.exceeds(summary(), {"SEVERE": 0}) == ["threshold names unknown severities: SEVERE"]


# No deadline: the first example imports jsonschema (hundreds of ms on a busy machine), the rest take microseconds.
@settings(deadline=None)
@given(
    counts=st.fixed_dictionaries({severity: st.integers(0, 10_000) for severity in model.SEVERITIES}),
    db_date=st.none() | st.just("2026-11-26T06:00:00Z"),
    partial=st.booleans(),
    modes=st.lists(st.sampled_from(model.MODES), unique=True).map(tuple),
)
def test_summary_round_trips_through_dict(
    counts: dict[str, int], db_date: str | None, partial: bool, modes: tuple[str, ...]
) -> None:
    original = model.ScanSummary(counts, "0.76.0", db_date, partial, modes)
    assert model.ScanSummary.from_dict(original.to_dict()) == original


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"counts": {"HIGH": -1}}, "counts.HIGH: -1 is less than the minimum of 0"),
        ({"counts": {"HIGH": True}}, "counts.HIGH: True is not of type 'integer'"),
        ({"counts": {"SEVERE": 1}}, "counts: 'SEVERE' is not one of"),
        ({"counts": None}, "counts: None is not of type 'object'"),
        ({"partial": "no"}, "partial: 'no' is not of type 'boolean'"),
        ({"trivy_version": ""}, "trivy_version: '' should be non-empty"),
        ({"modes": ["docker"]}, "modes.0: 'docker' is not one of"),
        ({"db_date": 5}, "db_date: 5 is not of type"),
    ],
)
def test_summary_from_dict_refuses_malformed_records(change: dict[str, object], problem: str) -> None:
    data = {**summary().to_dict(), **change}
    with pytest.raises(BadInput, match=re.escape(f"invalid scan summary: {problem}")):
        model.ScanSummary.from_dict(data)


def test_parse_refuses_an_unexpected_report_schema() -> None:
    with pytest.raises(PreflightFailed, match="schema version 1"):
        model.parse_trivy_report({"SchemaVersion": 1}, mode="fs")


def test_offline_flags_never_reach_trivy_config() -> None:
    request = trivy.ScanRequest(
        root=Path("."), fs=True, config=True, image="x@sha256:" + "0" * 64, offline=True
    )
    commands = dict(trivy.trivy_commands(request))
    assert "--skip-db-update" not in commands["config"]
    assert "--skip-db-update" in commands["fs"]
    assert "--skip-db-update" in commands["image"]
    assert commands["fs"][commands["fs"].index("--scanners") + 1] == "secret,misconfig"
    for argv in commands.values():
        assert "--disable-telemetry" in argv
        assert "--skip-check-update" in argv


def test_table_lists_every_finding_and_wraps_long_titles_instead_of_cutting_them() -> None:
    long_title = "S3 buckets should each define an aws_s3_bucket_public_access_block " * 2
    findings = (
        model.Finding("misconfiguration", "AWS-0094", "LOW", long_title.strip(), "main.tf", "config", 2),
        model.Finding(
            "vulnerability", "CVE-2026-0001", "CRITICAL", "bad", "app/requirements.txt", "fs",
            package="jinja2", installed_version="3.1.0", fixed_version="3.1.6",
        ),
    )  # fmt: skip
    result = model.ScanReport(summary=summary(CRITICAL=1, LOW=1), findings=findings, notes=("a note",))
    text = report.render_table(result, width=120)
    lines = text.splitlines()
    assert lines[0] == "trivy 0.76.0 | modes: image | vulnerability DB: 2026-11-26T06:00:00Z"
    assert "CRITICAL 1  HIGH 0  MEDIUM 0  LOW 1  UNKNOWN 0" in lines
    assert "jinja2 3.1.0 -> 3.1.6" in text
    assert "(app/requirements.txt)" in text
    assert "AWS-0094" in text
    assert "aws_s3_bucket_public_access_block" in " ".join(text.split())  # wrapped, not truncated
    assert max(len(line) for line in lines) <= 120
    assert len(lines) > 4 + 2 + 1 + 2, "the long title wraps onto a second line"
    assert lines[-1] == "note: a note"
    assert "\x1b[" not in text  # plain text: it also goes to logs and the GitHub step summary
