"""The release engine's tasks, assembled: `tasks.py` reads ROOT_TASKS and COLLECTIONS from here.

One module per verb family: release (deploy, promote, rollback, demo), queries (render, verify, diff, drift,
history), status (the whole chain in one view) and ledger (ledger.*). Each imports only invoke and light modules at import time.
"""

from __future__ import annotations

from typing import Any

from envpromote.tasks import ledger, queries, release, status, strategy

ROOT_TASKS: list[Any] = [
    *release.ROOT_TASKS,
    *queries.ROOT_TASKS,
    *status.ROOT_TASKS,
    *ledger.ROOT_TASKS,
    *strategy.ROOT_TASKS,
]
COLLECTIONS: dict[str, Any] = {**ledger.COLLECTIONS}
