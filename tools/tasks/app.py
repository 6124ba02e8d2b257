"""Developer loop: ``dev`` runs the app with auto-reload, ``test`` runs the suite (also on every change)."""

from __future__ import annotations

import importlib.util
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from invoke.collection import Collection
from invoke.exceptions import Exit
from invoke.tasks import Task, task

from envpromote.errors import BadInput, PreflightFailed
from envpromote.tasks._common import handle_errors

ROOT = Path(__file__).resolve().parents[2]
APP_SRC = ROOT / "app" / "src"
APP_REQUIREMENTS = ROOT / "app" / "requirements.txt"
# Short in dev so a reload does not wait out the production drain period (20 s).
DEV_SHUTDOWN_GRACE_SECONDS = 2
ENVIRONMENT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,62}")
APP_MODULES = ("uvicorn", "httptools", "uvloop")
# What `invoke test --watch` watches; generated files (coverage.xml, .nox/, caches) are deliberately outside.
WATCHED_PATHS = (
    "envpromote",
    "app/src",
    "app/tests",
    "tests",
    "templates",
    "schemas",
    "infra",
    ".github",
    "tasks.py",
    "noxfile.py",
    "pyproject.toml",
    "envpromote.toml",
)
WATCHED_SUFFIXES = (".py", ".toml", ".j2", ".json", ".tf", ".tfvars", ".hcl", ".yml", ".yaml", ".txt")


def dev_environment(port: int, environment: str, base: dict[str, str]) -> dict[str, str]:
    """The app's environment for local development: loopback only, the given port, short drain."""
    if not 1 <= port <= 65535:
        raise BadInput(
            f"--port {port} is not a TCP port.", fix="Pass --port between 1 and 65535 (default 8080)."
        )
    if not ENVIRONMENT_NAME.fullmatch(environment):
        raise BadInput(
            f"--environment {environment!r} is not a valid environment name.",
            fix="Use letters, digits, '.', '_' or '-', e.g. --environment local.",
        )
    pythonpath = os.pathsep.join(filter(None, [str(APP_SRC), base.get("PYTHONPATH", "")]))
    return {
        **base,
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "APP_ENVIRONMENT": environment,
        "LOG_LEVEL": base.get("LOG_LEVEL", "DEBUG"),
        "SHUTDOWN_GRACE_SECONDS": str(DEV_SHUTDOWN_GRACE_SECONDS),
        "PYTHONPATH": pythonpath,
    }


def _require_app_dependencies() -> None:
    missing = [name for name in (*APP_MODULES, "watchfiles") if importlib.util.find_spec(name) is None]
    if missing:
        raise PreflightFailed(
            f"{', '.join(missing)} not installed in {sys.executable}.",
            fix=f"uv pip install --python {sys.executable} -r {APP_REQUIREMENTS} watchfiles",
        )


def _nox_command() -> list[str]:
    if importlib.util.find_spec("nox") is not None:
        return [sys.executable, "-m", "nox"]
    if nox := shutil.which("nox"):
        return [nox]
    raise PreflightFailed("nox is not installed.", fix="uv pip install nox (or: pipx install nox).")


def _source_filter() -> Any:
    from watchfiles import DefaultFilter

    class SourceFilter(DefaultFilter):
        """DefaultFilter (no .git, caches, .venv) restricted to source-like files."""

        def __call__(self, change: Any, path: str) -> bool:
            return path.endswith(WATCHED_SUFFIXES) and bool(super().__call__(change, path))

    return SourceFilter()


@task(
    help={
        "port": "TCP port on 127.0.0.1 (default 8080).",
        "environment": "APP_ENVIRONMENT the app reports (default local).",
    }
)
@handle_errors
def dev(c: Any, port: int = 8080, environment: str = "local") -> None:
    """Run the app on 127.0.0.1 with auto-reload: saving a file under app/src restarts it (Ctrl+C stops)."""
    env = dev_environment(port, environment, dict(os.environ))
    _require_app_dependencies()
    from watchfiles import PythonFilter, run_process

    os.environ.update(env)  # run_process starts the command with this process's environment
    print(
        f"envpromote: app on http://127.0.0.1:{port}/ (reloads on changes in app/src; Ctrl+C stops)",
        flush=True,
    )
    run_process(
        APP_SRC,
        target=shlex.join([sys.executable, "-m", "envpromote_app"]),
        target_type="command",
        watch_filter=PythonFilter(),
        sigint_timeout=DEV_SHUTDOWN_GRACE_SECONDS + 3,
    )


@task(
    name="test",
    help={
        "watch": "Re-run the tests whenever a source, test, template or config file changes (Ctrl+C stops).",
        "pytest_args": 'Extra pytest arguments, e.g. --pytest-args "-k ledger -x".',
    },
)
@handle_errors
def run_tests(c: Any, watch: bool = False, pytest_args: str = "") -> None:
    """Run the test suite with coverage (nox -s test); --watch re-runs it on every change."""
    command = [*_nox_command(), "-s", "test"]
    extra = shlex.split(pytest_args)
    if not watch:
        code = subprocess.run(
            [*command, *(["--", *extra] if extra else [])], cwd=ROOT, check=False
        ).returncode
        if code != 0:
            raise Exit(f"envpromote: tests failed (nox exit code {code})", code=code)
        return
    if importlib.util.find_spec("watchfiles") is None:
        raise PreflightFailed(
            "watchfiles is not installed.", fix=f"uv pip install --python {sys.executable} watchfiles"
        )
    from watchfiles import run_process

    # -R: reuse the session's virtualenv and skip installs after the first run, so a re-run is just pytest.
    target = shlex.join([*command, "-R", *(["--", *extra] if extra else [])])
    paths = [ROOT / name for name in WATCHED_PATHS if (ROOT / name).exists()]
    os.chdir(ROOT)
    print(f"envpromote: watching {len(paths)} paths; tests re-run on change (Ctrl+C stops)", flush=True)
    run_process(*paths, target=target, target_type="command", watch_filter=_source_filter())


ROOT_TASKS: list[Task[Any]] = [dev, run_tests]
COLLECTIONS: dict[str, Collection] = {}
