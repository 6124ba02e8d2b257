"""This repository's tasks: the product's (``envpromote.tasks``) plus its own development tasks (``tools.tasks``).

``invoke --list`` shows them; each docstring is its ``--help``. The product's tasks are what the installed
``envpromote`` command runs; ``dev``, ``test``, ``bench.*`` and ``ci.*`` exist only in this checkout.
"""

from __future__ import annotations

from envpromote.tasks import build_namespace
from tools.tasks import app, bench, ci

ns = build_namespace(app, bench, ci)
