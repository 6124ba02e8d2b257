"""One path rule for a team's repository: everything resolves against the config file's folder.

The app directory (``[build] app_dir``), the Terraform tree (``[infra] dir``, or ``$ENVPROMOTE_INFRA_DIR``), the
scan's SBOM root and the build's ``-dirty`` check follow the config, never the installed package or this
checkout. Run through the ``envpromote`` program in-process where a task is involved (fast; the installed
wheel is exercised end to end by test_throwaway_repository.py).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from envpromote.build import build
from envpromote.cli import main
from envpromote.config import load_config
from envpromote.errors import EXIT_BAD_INPUT, BadInput
from envpromote.scan.trivy import ScanRequest
from envpromote.tasks._common import set_program_name
from envpromote.tasks.infra import INFRA_DIR_ENV, _infra
from envpromote.tasks.scan import _sbom_request
from envpromote.vcs import source_state

SHIPPED = Path(__file__).resolve().parents[2] / "envpromote.toml"


def _team_repository(
    root: Path, *, app_dir: str = "service", infra_dir: str | None = "ops/terraform"
) -> Path:
    """A minimal team repository: the shipped config plus [build]/[infra] tables, its app and Terraform tree."""
    root.mkdir(parents=True, exist_ok=True)
    tables = f'\n[build]\napp_dir = "{app_dir}"\n'
    if infra_dir is not None:
        tables += f'\n[infra]\ndir = "{infra_dir}"\n'
    (root / "envpromote.toml").write_text(SHIPPED.read_text() + tables)
    (root / app_dir / "src").mkdir(parents=True)
    (root / app_dir / "src" / "main.py").write_text("print('hi')\n")
    for env in ("qa", "live"):
        env_root = root / (infra_dir or "infra") / "envs" / env
        env_root.mkdir(parents=True)
        (env_root / "versions.tf").write_text("terraform {}\n")
    return root / "envpromote.toml"


def _run(*argv: str) -> int:
    """The `envpromote` program in-process; its exit code (invoke returns normally on success)."""
    try:
        main(["envpromote", *argv])
    except SystemExit as done:
        return int(done.code or 0)
    finally:
        set_program_name(
            "invoke"
        )  # main() names the program for hints; later tests in this worker run invoke's
    return 0


def test_infra_dir_comes_from_the_config_folder_not_the_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = _team_repository(tmp_path / "team")
    monkeypatch.delenv(INFRA_DIR_ENV, raising=False)
    monkeypatch.delenv("ENVPROMOTE_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)  # not the team's folder: --config decides
    assert _infra(str(config)) == tmp_path / "team" / "ops" / "terraform"
    monkeypatch.chdir(tmp_path / "team")  # ./envpromote.toml
    assert _infra("").resolve() == (tmp_path / "team" / "ops" / "terraform").resolve()
    monkeypatch.setenv(INFRA_DIR_ENV, str(tmp_path / "override"))  # still wins (tests, forks)
    assert _infra(str(config)) == tmp_path / "override"


def test_without_a_config_the_infra_dir_is_the_current_directorys(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(INFRA_DIR_ENV, raising=False)
    monkeypatch.delenv("ENVPROMOTE_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)
    assert _infra("") == tmp_path / "infra"


def test_infra_task_lists_the_teams_roots(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _team_repository(tmp_path / "team")
    monkeypatch.delenv(INFRA_DIR_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    assert _run("infra.plan", "--env", "staging", "--config", str(config)) == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert "Unknown infrastructure environment 'staging'" in err
    assert "Use one of: live, qa" in err


def test_build_refuses_a_missing_app_dir_with_its_key(tmp_path: Path) -> None:
    config = _team_repository(tmp_path / "team")
    cfg = load_config(config)
    with pytest.raises(BadInput, match=r"build\.app_dir: .*nope is not a directory"):
        build(
            repo_root=tmp_path / "team",
            app_dir=tmp_path / "team" / "nope",
            repository="r",
            region="us-east-1",
        )
    assert cfg.app_dir.is_dir()


def test_build_task_packs_the_configured_app_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _team_repository(tmp_path / "team")
    monkeypatch.chdir(tmp_path)
    # An endpoint (none listens there; --no-push makes no call) selects the OCI path, not a Docker engine.
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    assert _run("build", "--no-push", "--json", "--config", str(config)) == 0
    out = capsys.readouterr().out
    assert '"method": "oci-layout"' in out
    layouts = list((tmp_path / "team" / ".envpromote" / "oci").iterdir())
    assert len(layouts) == 1, "the OCI layout goes next to the config, not into the current directory"
    assert not (tmp_path / ".envpromote").exists()


def test_dirty_means_uncommitted_changes_in_the_app_dir_only(tmp_path: Path) -> None:
    config = _team_repository(tmp_path / "team")
    repo = config.parent
    env = {
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.invalid",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.invalid",
        "GIT_CONFIG_GLOBAL": "/dev/null",
        "GIT_CONFIG_NOSYSTEM": "1",
        "PATH": "/usr/bin:/bin",
    }
    for command in (["git", "init", "-q"], ["git", "add", "-A"], ["git", "commit", "-qm", "init"]):
        subprocess.run(command, cwd=repo, env=env, check=True)
    (repo / "README.md").write_text("changed outside the app\n")
    commit, dirty = source_state(repo, "service")
    assert commit
    assert not dirty
    (repo / "service" / "src" / "main.py").write_text("print('changed')\n")
    assert source_state(repo, "service") == (commit, True)


def test_scan_sbom_is_of_the_configured_app_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _team_repository(tmp_path / "team")
    monkeypatch.chdir(tmp_path / "team")
    monkeypatch.delenv("ENVPROMOTE_CONFIG", raising=False)
    request = ScanRequest(root=Path.cwd(), fs=True)
    assert _sbom_request(request).root.resolve() == (tmp_path / "team" / "service").resolve()
    image = ScanRequest(root=Path.cwd(), image="some/layout")
    assert _sbom_request(image) is image  # an image's SBOM is of the image


def test_sandbox_up_prints_the_env_command_of_the_same_program_and_config(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from envpromote.sandbox.cli import _env_command

    monkeypatch.setattr("sys.argv", ["/venv/bin/envpromote", "sandbox.up"])
    assert _env_command("") == "envpromote sandbox.env"
    assert (
        _env_command("my repo/envpromote.toml") == "envpromote sandbox.env --config 'my repo/envpromote.toml'"
    )
    monkeypatch.setattr("sys.argv", ["/venv/bin/invoke", "sandbox.up"])
    assert _env_command("") == "invoke sandbox.env"


def test_readme_states_the_path_rule_and_what_a_repository_needs() -> None:
    readme = (SHIPPED.parent / "README.md").read_text()
    section = readme.split("## Using it in your repository", 1)[1].split("\n## ", 1)[0]
    for needed in ("envpromote.toml", "app_dir", "template", "from envpromote.tasks import", "[infra]"):
        assert needed in section, needed
    assert "test_throwaway_repository.py" in section
