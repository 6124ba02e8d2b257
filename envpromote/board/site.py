"""Render a Board into a static site: relative links only, so it works from file://, S3 or GitHub Pages.

Layout of the output directory::

  index.html                 the chain as columns, recent digests' paths, rolled-back releases
  digests.html               every digest's path through the chain
  env/<env>.html             an environment's history (filters: JS on the page, per-outcome pages without it)
  env/<env>-<status>.html    the same history, one outcome only
  release/<env>-<seq>.html   one release: full record, verification evidence, task-definition diff, ledger key
  digest/<hex>.html          one digest: its path and every release of it
  static/board.css, static/board.js
"""

from __future__ import annotations

import functools
import os
import shutil
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2

from envpromote.board.delivery import delivery_lines
from envpromote.board.model import Board, display_time, history_page
from envpromote.board.outcomes import outcome
from envpromote.errors import BadInput, LedgerError

RECENT_PATHS = 15
STATIC_FILES = ("board.css", "board.js")
MARKER = (
    ".envpromote-board"  # written into every board directory: only such a directory has its pages replaced
)


@dataclass(frozen=True)
class SiteReport:
    """What :func:`render_site` wrote: the board's directory and how many pages it holds."""

    out_dir: Path
    pages: int

    @property
    def index(self) -> Path:
        return self.out_dir / "index.html"


@functools.lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("envpromote.board", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["when"] = display_time
    env.globals["delivery_lines"] = delivery_lines  # the release page's "Notifications" section
    return env


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # errors="replace": a record string holding a lone surrogate (a JSON "\\ud800") cannot take the board down
    path.write_text(text, encoding="utf-8", errors="replace")


def _is_board(out: Path) -> bool:
    return (out / MARKER).is_file() or (
        (out / "index.html").is_file() and (out / "static" / "board.css").is_file()
    )


def _prepare(out: Path) -> None:
    """Refuse an output directory that holds something other than an earlier board: its env/, release/ and
    digest/ subdirectories are deleted and rewritten (``--out .`` must not delete a virtualenv called env/)."""
    if out.exists() and not out.is_dir():
        raise BadInput(f"board: {out} exists and is not a directory.", fix="Choose another --out.")
    if out.is_dir() and any(out.iterdir()) and not _is_board(out):
        raise BadInput(
            f"board: {out} is not empty and holds no earlier board; its env/, release/ and digest/ would be replaced.",
            fix="Choose an empty or new directory for --out (default: .envpromote/board).",
        )
    out.mkdir(parents=True, exist_ok=True)
    for sub in ("env", "release", "digest"):
        path = out / sub
        if path.is_symlink():
            path.unlink()  # never follow a link out of the board directory
        elif path.is_dir():
            shutil.rmtree(path)  # a release or digest that left the ledger must not linger
    (out / MARKER).write_text("written by envpromote board; its pages are replaced on every run\n", "utf-8")


def render_site(
    board: Board, out_dir: str | os.PathLike[str], *, bucket: str, recent: int = RECENT_PATHS
) -> SiteReport:
    """Write every page of `board` under `out_dir` (created; pages of an earlier run are replaced)."""
    out = Path(out_dir)
    jinja = environment()
    pages = 0

    def page(template: str, target: str, *, active: str = "", **context: Any) -> None:
        nonlocal pages
        path = (out / target).resolve()
        if not path.is_relative_to(base) or path == base:
            raise LedgerError(
                f"board: the ledger names a page outside the board directory ({target[:80]!r})."
            )
        root = "../" * target.count("/")
        text = jinja.get_template(template).render(board=board, root=root, active=active, **context)
        _write(path, text)
        pages += 1

    _prepare(out)
    base = out.resolve()
    rollbacks = sorted(
        (r for r in board.releases if r.rolled_back), key=lambda r: r.finished_at, reverse=True
    )
    page("index.html.j2", "index.html", active="index", recent=recent, rollbacks=rollbacks)
    page("digests.html.j2", "digests.html", active="digests")
    for env, rows in board.histories.items():
        outcomes = board.outcomes_in(env)
        common = {
            "env": env,
            "outcomes": outcomes,
            "approvers": board.approvers.get(env, []),
            "total": len(rows),
        }
        page("history.html.j2", history_page(env), active=f"env:{env}", rows=rows, only=None, **common)
        for shown in outcomes:
            only = [r for r in rows if r.outcome.status == shown.status]
            page(
                "history.html.j2",
                history_page(env, shown.status),
                active=f"env:{env}",
                rows=only,
                only=outcome(shown.status),
                **common,
            )
    for release in board.releases:
        page("release.html.j2", release.page, r=release, bucket=bucket)
    for path in board.paths:
        page("digest.html.j2", path.page, path=path)
    static = resources.files("envpromote.board").joinpath("static")
    for name in STATIC_FILES:
        _write(out / "static" / name, static.joinpath(name).read_text("utf-8"))
    return SiteReport(out_dir=out, pages=pages)
