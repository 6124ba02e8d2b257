"""Policy over app/Dockerfile, .dockerignore and requirements.txt, parsed (no Docker engine needed).

hadolint and trivy config run in the scan session; these tests pin down the properties the delivery relies on.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

APP = Path(__file__).resolve().parents[1]
DIGEST_PINNED = re.compile(r".+@sha256:[0-9a-f]{64}")


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs with line continuations joined and comments dropped."""
    joined = re.sub(
        r"\\\n", " ", "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    )
    pairs = []
    for line in joined.splitlines():
        if line.strip():
            keyword, _, rest = line.strip().partition(" ")
            pairs.append((keyword.upper(), rest.strip()))
    return pairs


@pytest.fixture(scope="module")
def dockerfile() -> list[tuple[str, str]]:
    return instructions((APP / "Dockerfile").read_text())


def final_stage(parsed: list[tuple[str, str]]) -> list[tuple[str, str]]:
    last_from = max(index for index, (keyword, _) in enumerate(parsed) if keyword == "FROM")
    return parsed[last_from:]


def test_multi_stage_and_every_base_pinned_by_digest(dockerfile: list[tuple[str, str]]) -> None:
    args = dict(arg.split("=", 1) for keyword, arg in dockerfile if keyword == "ARG" and "=" in arg)
    bases = [rest.split()[0] for keyword, rest in dockerfile if keyword == "FROM"]
    assert len(bases) >= 2
    for base in bases:
        resolved = re.sub(r"\$\{(\w+)\}", lambda match: args[match.group(1)], base)
        if resolved in {
            rest.split()[-1] for keyword, rest in dockerfile if keyword == "FROM" and " AS " in rest
        }:
            continue  # FROM an earlier stage
        assert DIGEST_PINNED.fullmatch(resolved), resolved


def test_final_stage_runs_as_a_non_root_user(dockerfile: list[tuple[str, str]]) -> None:
    users = [rest for keyword, rest in final_stage(dockerfile) if keyword == "USER"]
    assert users, "the final stage sets no USER"
    assert users[-1].split(":")[0] not in {"root", "0"}


def test_final_stage_has_no_build_tools(dockerfile: list[tuple[str, str]]) -> None:
    runs = " ".join(rest for keyword, rest in final_stage(dockerfile) if keyword == "RUN")
    for tool in ("apt-get install", "gcc", "build-essential", "pip install", "curl", "wget"):
        assert tool not in runs


def test_cmd_is_exec_form_and_starts_the_app(dockerfile: list[tuple[str, str]]) -> None:
    cmds = [rest for keyword, rest in final_stage(dockerfile) if keyword == "CMD"]
    assert json.loads(cmds[-1]) == ["python", "-m", "envpromote_app"]


def test_healthcheck_uses_python_not_curl(dockerfile: list[tuple[str, str]]) -> None:
    checks = [rest for keyword, rest in final_stage(dockerfile) if keyword == "HEALTHCHECK"]
    assert checks
    command = json.loads(checks[-1].split("CMD", 1)[1])
    assert command[0] == "python"
    assert "/health" in command[-1]
    assert not {"curl", "wget"} & set(" ".join(command).split())


def test_port_workdir_and_exposure_match_the_app_defaults(dockerfile: list[tuple[str, str]]) -> None:
    stage = final_stage(dockerfile)
    assert ("EXPOSE", "8080") in stage
    assert any(keyword == "WORKDIR" for keyword, _ in stage)


def test_dockerignore_is_an_allow_list() -> None:
    lines = [
        line.strip()
        for line in (APP / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert lines[0] == "*"
    assert "!src/" in lines
    assert "!requirements.txt" in lines


def test_requirements_are_exact_pins() -> None:
    pins = [
        line.strip()
        for line in (APP / "requirements.txt").read_text().splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    assert pins
    assert all(re.fullmatch(r"[A-Za-z0-9_.-]+==[0-9][0-9A-Za-z.+-]*", pin) for pin in pins), pins
    assert {pin.split("==")[0] for pin in pins} >= {"uvicorn", "httptools", "uvloop"}
