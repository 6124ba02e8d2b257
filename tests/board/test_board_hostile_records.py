"""Review: what the board writes stays inside --out, never deletes what it did not write, and survives odd records."""

from __future__ import annotations

import copy
import shutil
from pathlib import Path

import pytest
from board_records import CHAIN, story

from envpromote.board import build_board, render_site
from envpromote.board.model import Board
from envpromote.errors import BadInput, LedgerError

UPSTREAMS = {"dev": None, "staging": "dev", "production": "staging"}


def _board(records: dict[str, list[dict[str, object]]]) -> Board:
    return build_board(
        project="demo",
        chain=CHAIN,
        upstreams=UPSTREAMS,
        records_by_env=records,  # type: ignore[arg-type]
        observations={},
        generated_at="2026-11-29T18:00:00Z",
    )


def test_an_occupied_directory_that_is_no_board_is_refused_and_left_alone(tmp_path: Path) -> None:
    venv = tmp_path / "env" / "bin"
    venv.mkdir(parents=True)
    (venv / "python").write_text("keep me", "utf-8")
    with pytest.raises(BadInput, match="holds no earlier board"):
        render_site(_board(story()), tmp_path, bucket="b")
    assert (venv / "python").read_text("utf-8") == "keep me"


def test_an_earlier_board_is_replaced_and_a_symlinked_subdirectory_is_not_followed(tmp_path: Path) -> None:
    out = tmp_path / "site"
    render_site(_board(story()), out, bucket="b")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "precious.txt").write_text("keep me", "utf-8")
    shutil.rmtree(out / "digest")
    (out / "digest").symlink_to(elsewhere, target_is_directory=True)
    render_site(_board(story()), out, bucket="b")
    assert (elsewhere / "precious.txt").read_text("utf-8") == "keep me"
    assert list(elsewhere.iterdir()) == [elsewhere / "precious.txt"]
    assert not (out / "digest").is_symlink()
    assert any((out / "digest").glob("*.html"))


def test_a_record_claiming_another_environment_cannot_replace_its_page(tmp_path: Path) -> None:
    records = story()
    honest = tmp_path / "a"
    render_site(_board(copy.deepcopy(records)), honest, bucket="b")
    forged = records["dev"][0]
    forged["environment"] = "production"  # filed under dev, claims production's sequence 1
    forged["approver"] = "mallory"
    render_site(_board(records), tmp_path / "b", bucket="b")
    assert (tmp_path / "b" / "release" / "production-1.html").read_text("utf-8") == (
        honest / "release" / "production-1.html"
    ).read_text("utf-8")
    assert "mallory" in (tmp_path / "b" / "release" / "dev-1.html").read_text("utf-8")


def test_a_lone_surrogate_in_a_record_does_not_take_the_board_down(tmp_path: Path) -> None:
    records = story()
    records["staging"][1]["approver"] = "eve\ud800"  # what json.loads makes of "eve\\ud800"
    records["staging"][1]["reasons"] = ["bad byte \udcff here"]
    render_site(_board(records), tmp_path, bucket="b")
    page = (tmp_path / "release" / "staging-2.html").read_text("utf-8")
    assert "eve?" in page
    assert "bad byte ? here" in page


def test_a_digest_that_climbs_out_of_the_board_is_refused(tmp_path: Path) -> None:
    records = story()
    records["dev"][0]["digest"] = "sha256:../../../outside"  # the ledger's schema refuses it; the board too
    with pytest.raises(LedgerError, match="outside the board directory"):
        render_site(_board(records), tmp_path / "site", bucket="b")
    assert not (tmp_path / "outside.html").exists()
