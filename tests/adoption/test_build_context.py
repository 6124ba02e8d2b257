"""The build context as Docker sees it: .dockerignore applies, and the tools' state never enters an image.

Matters for a team whose app is the repository root (``[build] app_dir = "."``, ``COPY . /srv``): without
these rules the OCI build would pack .git, the previous build's OCI layout under .envpromote/, and whatever
.dockerignore leaves out.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from envpromote.build import ImageConfig, app_files, parse_dockerfile
from envpromote.build.dockerfile import dockerignore, is_ignored

CHECKOUT_APP = Path(__file__).resolve().parents[2] / "app"


@pytest.mark.parametrize(
    ("rules", "path", "ignored"),
    [
        ("*\n!src/\n", "src/shop/main.py", False),
        ("*\n!src/\n", "tests/test_x.py", True),
        ("*\n!src/\n**/__pycache__\n", "src/a/__pycache__/x.cpython-311.pyc", True),
        ("*.md\n!README.md\n", "README.md", False),
        ("*.md\n!README.md\n", "docs/guide.md", False),  # `*` stays within one segment, as in Docker
        ("**/*.md\n", "docs/guide.md", True),
        ("docs\n", "docs/a/b.txt", True),  # a directory's pattern covers what it holds
        ("# comment\n\n/secret.txt\n", "secret.txt", True),
        ("s?cret.txt\n", "secret.txt", True),
        ("", ".envpromote/oci/abc/index.json", True),  # the tools' state, always
        ("", ".git/HEAD", True),
        ("", "service/app.py", False),
    ],
)
def test_dockerignore_rules_match_dockers(tmp_path: Path, rules: str, path: str, ignored: bool) -> None:
    (tmp_path / ".dockerignore").write_text(rules)
    assert is_ignored(path, dockerignore(tmp_path)) is ignored


def test_the_checkout_apps_allow_list_keeps_exactly_the_app() -> None:
    config = parse_dockerfile((CHECKOUT_APP / "Dockerfile").read_text())
    targets = [target for target, _, _ in app_files(CHECKOUT_APP, config)]
    assert targets
    assert all(t.startswith("app/envpromote_app/") or t.endswith("requirements.txt") for t in targets), (
        targets
    )


def test_an_app_at_the_repository_root_packs_neither_state_nor_ignored_files(tmp_path: Path) -> None:
    (tmp_path / "shop").mkdir()
    (tmp_path / "shop" / "main.py").write_text("print('shop')\n")
    (tmp_path / "notes.md").write_text("internal\n")
    (tmp_path / ".dockerignore").write_text("*.md\n.venv\n")
    (tmp_path / ".venv" / "bin").mkdir(parents=True)
    (tmp_path / ".venv" / "bin" / "python").write_text("")
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (tmp_path / ".envpromote" / "oci" / "000").mkdir(parents=True)
    (tmp_path / ".envpromote" / "oci" / "000" / "index.json").write_text("{}")
    config = ImageConfig(workdir="/srv", copies=((((".",), "/srv/")),))
    targets = sorted(target for target, _, _ in app_files(tmp_path, config))
    assert targets == ["srv/.dockerignore", "srv/shop/main.py"]
