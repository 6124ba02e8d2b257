"""The package boundary: the product's task collection, what importing it costs, what it never imports.

Import checks run in a fresh interpreter (``sys.modules`` of this test process is shared by every test).
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest
from invoke.exceptions import Exit

from envpromote.errors import EXIT_BAD_INPUT, EXIT_PREFLIGHT_FAILED, EXIT_UNEXPECTED, BadInput
from envpromote.tasks import PRODUCT_TASK_MODULES, build_namespace
from envpromote.tasks._common import handle_errors

ROOT = Path(__file__).resolve().parents[2]


def _loaded_after(statement: str, *modules: str) -> dict[str, bool]:
    """Which of ``modules`` a fresh interpreter has loaded after running ``statement``."""
    probe = f"import sys\n{statement}\nprint(' '.join(str(m in sys.modules) for m in {list(modules)!r}))"
    completed = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True
    )
    return dict(zip(modules, (word == "True" for word in completed.stdout.split()), strict=True))


def test_namespace_is_the_product_tasks_without_the_repository_tools() -> None:
    from envpromote.tasks import namespace

    names = set(namespace.task_names)
    assert {"build", "promote", "rollback", "scan", "sandbox.up", "infra.plan", "ledger.verify"} <= names
    assert not {"dev", "test", "ci.plan", "bench.rollout"} & names


def test_build_namespace_adds_task_modules_to_a_fresh_collection() -> None:
    from envpromote.tasks import namespace
    from tools.tasks import app, ci

    extended = build_namespace(app, ci)
    assert {"dev", "test", "ci.plan", "promote"} <= set(extended.task_names)
    assert "ci.plan" not in namespace.task_names, "the shared namespace must not be modified"


def test_repository_tasks_py_is_the_product_plus_tools() -> None:
    listed = subprocess.run(
        [sys.executable, "-m", "invoke", "--list"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    assert {"promote", "scan", "sandbox.up", "ci.plan", "bench.rollout", "dev", "test"} <= set(listed)


def test_importing_the_task_plumbing_and_the_gate_model_stays_light() -> None:
    loaded = _loaded_after(
        "import envpromote.tasks, envpromote.tasks._common, envpromote.scan.model, envpromote.cli",
        "botocore",
        "boto3",
        "jsonschema",
        "rich",
        "envpromote.scan.trivy",
        "envpromote.tasks.engine",
    )
    assert loaded == dict.fromkeys(loaded, False)


def test_the_scan_task_module_does_not_load_rich_or_aws() -> None:
    loaded = _loaded_after("import envpromote.tasks.scan", "rich", "boto3", "botocore", "jsonschema")
    assert loaded == dict.fromkeys(loaded, False)


def test_the_product_never_imports_repository_tools() -> None:
    offenders = []
    for path in sorted((ROOT / "envpromote").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = (
                [alias.name for alias in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            offenders += [
                f"{path.relative_to(ROOT)}: {name}" for name in names if name.split(".")[0] == "tools"
            ]
    assert offenders == []


def test_product_task_modules_export_the_collection_shape() -> None:
    import importlib

    for name in PRODUCT_TASK_MODULES:
        module = importlib.import_module(f"envpromote.tasks.{name}")
        assert isinstance(module.ROOT_TASKS, list)
        assert isinstance(module.COLLECTIONS, dict)


# handle_errors: the one place errors become exit codes (botocore is classified without importing it eagerly).


def test_envpromote_errors_become_their_exit_code() -> None:
    @handle_errors
    def refuse() -> None:
        raise BadInput("no such environment 'qq'.", fix="pass --env dev")

    with pytest.raises(Exit) as raised:
        refuse()
    assert raised.value.code == EXIT_BAD_INPUT
    assert "no such environment 'qq'" in str(raised.value.message)


def test_botocore_transport_errors_map_to_preflight_failed() -> None:
    import botocore.exceptions

    @handle_errors
    def unreachable() -> None:
        raise botocore.exceptions.EndpointConnectionError(endpoint_url="http://127.0.0.1:1")

    with pytest.raises(Exit) as raised:
        unreachable()
    assert raised.value.code == EXIT_PREFLIGHT_FAILED
    assert "Cannot reach the AWS endpoint" in str(raised.value.message)


def test_anything_else_is_an_unexpected_error_on_one_line() -> None:
    @handle_errors
    def broken() -> None:
        raise ValueError("boom")

    with pytest.raises(Exit) as raised:
        broken()
    assert raised.value.code == EXIT_UNEXPECTED
    assert "unexpected error: ValueError: boom" in str(raised.value.message)
