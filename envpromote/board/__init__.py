"""The release board: a static site of what runs where and how it got there, from the ledger and ECS.

``model`` (pure: records + observations -> Board), ``graph`` (pure: the Mermaid promotion graph), ``site``
(Jinja rendering, relative links only), ``observe`` (ECS and the lock table), ``generate`` (all of it for
``invoke board``), ``serve`` (a local HTTP server on 127.0.0.1).
"""

from __future__ import annotations

from envpromote.board.graph import mermaid_escape, promotion_graph_mermaid
from envpromote.board.model import Board, Observation, build_board
from envpromote.board.site import SiteReport, render_site

__all__ = [
    "Board",
    "Observation",
    "SiteReport",
    "build_board",
    "mermaid_escape",
    "promotion_graph_mermaid",
    "render_site",
]
