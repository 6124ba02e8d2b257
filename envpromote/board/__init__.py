"""The release board: a static site of what runs where and how it got there, from the ledger and ECS.

``model`` (pure: records + observations -> Board), ``graph`` (pure: the Mermaid promotion graph), ``site``
(Jinja rendering, relative links only), ``observe`` (ECS and the lock table), ``generate`` (all of it for
``invoke board``), ``serve`` (a local HTTP server on 127.0.0.1). Importing the package loads nothing; each
name loads its module on first use (the step summary needs only the graph, not Jinja).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from envpromote.lazy import lazy_exports

if TYPE_CHECKING:
    from envpromote.board.graph import mermaid_escape, promotion_graph_markdown, promotion_graph_mermaid
    from envpromote.board.model import Board, Observation, build_board
    from envpromote.board.site import SiteReport, render_site

_LAZY = {
    "mermaid_escape": "graph",
    "promotion_graph_mermaid": "graph",
    "promotion_graph_markdown": "graph",
    "Board": "model",
    "Observation": "model",
    "build_board": "model",
    "SiteReport": "site",
    "render_site": "site",
}

__all__ = [
    "Board",
    "Observation",
    "SiteReport",
    "build_board",
    "mermaid_escape",
    "promotion_graph_markdown",
    "promotion_graph_mermaid",
    "render_site",
]


__getattr__ = lazy_exports(__name__, _LAZY)
