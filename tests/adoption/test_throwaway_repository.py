"""A team adopts EnvPromote in its own repository: the installed wheel, not this checkout, runs the whole story.

The wheel is built from this checkout and installed with the `sandbox` extra (plus trivy's wheel, as a team
that scans would) into a fresh venv. A separate git repository is created in tmp with its own names
everywhere: the app lives in ``service/`` (``[build] app_dir``), the template in ``deploy/``, the chain is
``qa -> preprod -> live``, and the repository, clusters, services and families are the team's own. From that
repository, with no PYTHONPATH and no AWS or ENVPROMOTE variables inherited, the venv's ``envpromote`` command
starts the sandbox for that config, builds, deploys, promotes to the end of the chain, rolls back, and reads
the history, each step with its documented exit code. Nothing of this checkout (its envpromote.toml, app/,
templates/) may be read: the test fails if the repository's files show up in a build or a record.
"""

from __future__ import annotations

import json
import os
import subprocess
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.packaging.wheel_support import ROOT as CHECKOUT
from tests.packaging.wheel_support import build_wheel, clean_env, install_into_fresh_venv, run

pytestmark = [pytest.mark.slow, pytest.mark.sandbox]

EXIT_OK = 0
EXIT_GATE_REFUSED = 3
STEP_TIMEOUT_S = 300.0
REGION = "eu-west-1"
ACCOUNT = "123456789012"  # moto's default account
TRANSCRIPT = os.environ.get(
    "ENVPROMOTE_ADOPTION_TRANSCRIPT"
)  # append every command's output here (debugging)

ENVPROMOTE_TOML = f"""\
# A team's own configuration: nothing here is named like EnvPromote's demo.
[project]
name = "acme-shop"
template = "deploy/ecs-task.json.j2"

[build]
app_dir = "service"

[registry]
repository = "acme/shop"
region = "{REGION}"

[ledger]
bucket = "acme-shop-releases-{ACCOUNT}"
prefix = "shop"
region = "{REGION}"
local_dir = ".releases"

[lock]
table = "acme-shop-locks"
region = "{REGION}"

[chain]
order = ["qa", "preprod", "live"]
"""

ENVIRONMENT_TOML = """
[environments.{name}]
region = "{region}"
cluster = "shop-{name}"
service = "shop-{name}-api"
family = "shop-{name}-api"
container = "api"
desired_count = 1
approval = {approval}
execution_role_arn = "arn:aws:iam::{account}:role/shop-{name}-exec"
task_role_arn = "arn:aws:iam::{account}:role/shop-{name}-task"

[environments.{name}.scan]
accept_partial = true
max_critical = 0

[environments.{name}.taskdef]
cpu = "512"
memory = "1024"
port = 9000
log_group = "/acme/shop/{name}"
"""

TEMPLATE = """\
{
  "family": {{ family | tojson }},
  "networkMode": "awsvpc",
  "requiresCompatibilities": ["FARGATE"],
  "cpu": {{ cpu | string | tojson }},
  "memory": {{ memory | string | tojson }},
  "executionRoleArn": {{ execution_role_arn | tojson }},
  "taskRoleArn": {{ task_role_arn | tojson }},
  "containerDefinitions": [
    {
      "name": {{ container | tojson }},
      "image": {{ image_uri | tojson }},
      "essential": true,
      "portMappings": [{"containerPort": {{ port | int }}, "protocol": "tcp"}],
      "environment": [
        {"name": "SHOP_STAGE", "value": {{ environment | tojson }}},
        {"name": "SHOP_PORT", "value": {{ port | string | tojson }}}
      ],
      "logConfiguration": {
        "logDriver": "awslogs",
        "options": {
          "awslogs-group": {{ log_group | tojson }},
          "awslogs-region": {{ region | tojson }},
          "awslogs-stream-prefix": "shop"
        }
      }
    }
  ]
}
"""

DOCKERFILE = """\
FROM python:3.12-slim
WORKDIR /srv
COPY shop /srv/shop
USER 10001:10001
EXPOSE 9000
HEALTHCHECK --interval=10s CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:9000/')"]
CMD ["python", "-m", "shop"]
"""

APP = """\
import http.server
import os

VERSION = {version!r}


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = f"shop {{VERSION}} in {{os.environ.get('SHOP_STAGE')}}".encode()
        self.send_response(200)
        self.end_headers()
        self.wfile.write(body)


http.server.ThreadingHTTPServer(("", int(os.environ.get("SHOP_PORT", "9000"))), Handler).serve_forever()
"""


@dataclass
class Team:
    """The throwaway repository and the command of the venv the team installed."""

    repo: Path
    command: Path
    env: dict[str, str]

    def run(
        self, *args: str, expected: int = EXIT_OK, cwd: Path | None = None
    ) -> subprocess.CompletedProcess[str]:
        completed = run(self.command, *args, cwd=cwd or self.repo, env=self.env, timeout=STEP_TIMEOUT_S)
        shown = (
            f"envpromote {' '.join(args)} -> {completed.returncode}\n{completed.stdout}\n{completed.stderr}"
        )
        assert completed.returncode == expected, shown
        assert str(CHECKOUT) not in completed.stdout + completed.stderr, f"a path into the checkout: {shown}"
        if TRANSCRIPT:
            with Path(TRANSCRIPT).open("a") as out:
                out.write(f"\n$ {shown}")
        return completed

    def json(self, *args: str, expected: int = EXIT_OK, cwd: Path | None = None) -> Any:
        completed = self.run(*args, expected=expected, cwd=cwd)
        return json.loads(completed.stdout)

    def commit(self, message: str) -> None:
        for git in (["git", "add", "-A"], ["git", "commit", "--quiet", "-m", message]):
            done = run(*git, cwd=self.repo, env=self.env)
            assert done.returncode == 0, done.stderr


def _write_repository(repo: Path) -> None:
    environments = "".join(
        ENVIRONMENT_TOML.format(
            name=name, region=REGION, account=ACCOUNT, approval=str(name == "live").lower()
        )
        for name in ("qa", "preprod", "live")
    )
    files = {
        "envpromote.toml": ENVPROMOTE_TOML + environments,
        "deploy/ecs-task.json.j2": TEMPLATE,
        "service/Dockerfile": DOCKERFILE,
        "service/shop/__init__.py": "",
        "service/shop/__main__.py": APP.format(version="1"),
        ".gitignore": ".envpromote/\n.releases/\n__pycache__/\n",
        # The README's one-liner: `invoke` in this repository runs the product's tasks.
        "tasks.py": "from envpromote.tasks import namespace  # noqa: F401\n",
    }
    for relative, text in files.items():
        path = repo / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))


@pytest.fixture(scope="module")
def team(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Team]:
    wheel = build_wheel(tmp_path_factory.mktemp("wheel"))
    venv = install_into_fresh_venv(
        tmp_path_factory.mktemp("venv") / "team", [f"envpromote[sandbox,scan] @ {wheel.as_uri()}"]
    )
    repo = tmp_path_factory.mktemp("acme") / "shop"
    repo.mkdir()
    env = clean_env(
        GIT_AUTHOR_NAME="Acme CI",
        GIT_AUTHOR_EMAIL="ci@acme.invalid",
        GIT_COMMITTER_NAME="Acme CI",
        GIT_COMMITTER_EMAIL="ci@acme.invalid",
        GIT_CONFIG_GLOBAL="/dev/null",
        GIT_CONFIG_NOSYSTEM="1",
        # The team's sandbox runs its clock 4x: each simulated rollout takes ~1.2 s instead of 5 s of real time
        # (what runs, and every exit code, is the same; the CLI's watchers act on the events as they come).
        ENVPROMOTE_SANDBOX_TIME_SCALE="4",
    )
    # The venv's bin/ on PATH, as an activated venv (or pipx) has it; nothing of this checkout's venv.
    env["PATH"] = f"{venv / 'bin'}:/usr/local/bin:/usr/bin:/bin"
    assert run("git", "init", "--quiet", "--initial-branch", "main", cwd=repo, env=env).returncode == 0
    _write_repository(repo)
    team = Team(repo=repo, command=venv / "bin" / "envpromote", env=env)
    team.commit("shop v1")
    started = team.json("sandbox.up", "--json")
    try:
        assert started["endpoint"].startswith("http://127.0.0.1:")
        exported = team.json("sandbox.env", "--json")
        assert exported["AWS_ENDPOINT_URL"] == started["endpoint"]
        team.env.update(exported)
        yield team
    finally:
        team.env = {k: v for k, v in team.env.items() if not k.startswith("AWS_")}
        team.run("sandbox.down")


def _build_and_record(team: Team) -> dict[str, Any]:
    """build --json, scan the OCI layout offline, record the build with its scan (what the gate reads)."""
    built = team.json("build", "--json")
    assert built["digest"].startswith("sha256:")
    assert (team.repo / built["oci_layout"]).is_dir(), "the OCI layout belongs in the team's repository"
    report = team.repo / ".envpromote" / f"scan-{built['digest'][7:19]}.json"
    scanned = team.run("scan", "--image", built["oci_layout"], "--offline", "--json")
    report.write_text(scanned.stdout)
    team.run("ledger.record-build", "--digest", built["digest"], "--scan-json", str(report))
    return dict(built)


def test_a_team_repository_builds_promotes_and_rolls_back_with_the_installed_command(team: Team) -> None:
    # One test (the wheel build and the sandbox are per module: under xdist a second test could pay them again).
    # The README's tasks.py one-liner: `invoke` in the team's repository has the product's tasks.
    listed = run(team.command.parent / "invoke", "--list", cwd=team.repo, env=team.env)
    assert listed.returncode == 0, listed.stderr
    names = {line.split()[0] for line in listed.stdout.splitlines() if line.startswith("  ") and line.strip()}
    assert {"build", "deploy", "promote", "rollback", "history", "sandbox.up"} <= names

    first = _build_and_record(team)
    assert first["image_uri"].endswith(f"/acme/shop@{first['digest']}")
    assert first["tag"].startswith("git-")
    assert not first["tag"].endswith("-dirty")
    assert not (team.repo / "app").exists(), "the build must not need an app/ directory"

    team.run("deploy", "--env", "qa", "--digest", first["digest"])
    team.run("promote", "--env", "preprod")
    # live requires approval: without it a promotion is refused (exit 3), with it it goes through.
    team.run("promote", "--env", "live", expected=EXIT_GATE_REFUSED)
    team.run("promote", "--env", "live", "--yes", "--approver", "acme-release-manager")

    (team.repo / "service" / "shop" / "__main__.py").write_text(APP.format(version="2"))
    team.commit("shop v2")
    second = _build_and_record(team)
    assert second["digest"] != first["digest"]
    team.run("deploy", "--env", "qa", "--digest", second["digest"])
    team.run("promote", "--env", "preprod")
    team.run("promote", "--env", "live", "--yes", "--approver", "acme-release-manager")

    team.run("rollback", "--env", "live", "--yes", "--approver", "acme-on-call")

    team.run("ledger.verify")
    team.run("drift", "--env", "live")
    records = team.json("history", "--env", "live", "--json")  # newest first
    assert [(r["kind"], r["status"], r["digest"]) for r in records] == [
        ("rollback", "success", first["digest"]),
        ("promote", "success", second["digest"]),
        ("promote", "success", first["digest"]),
    ], records
    assert {r["environment"] for r in records} == {"live"}
    assert [r["approver"] for r in records] == [
        "acme-on-call",
        "acme-release-manager",
        "acme-release-manager",
    ]
    assert records[1]["source_environment"] == "preprod"
    # From another directory, --config is the one rule: the same sandbox, the same ledger, the same paths.
    elsewhere = team.repo.parent / "elsewhere"
    elsewhere.mkdir()
    config = str(team.repo / "envpromote.toml")
    assert team.json("sandbox.env", "--json", "--config", config, cwd=elsewhere) == {
        key: value for key, value in team.env.items() if key.startswith("AWS_")
    }
    assert team.json("history", "--env", "live", "--json", "--config", config, cwd=elsewhere) == records
    assert not list(elsewhere.iterdir()), "nothing is written into the current directory"
    # The local copies live where the team's config says ([ledger] local_dir), in the team's repository.
    assert any((team.repo / ".releases").rglob("*.json"))
