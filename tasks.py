"""EnvPromote tasks. ``invoke --list`` shows them; each docstring is its ``--help``.

Thin by design: every task parses its options, calls one function in ``envpromote/`` and maps
errors to the documented exit codes. The task modules live in ``envpromote/tasks/``; each exports
``ROOT_TASKS`` (top-level tasks such as ``promote``) and ``COLLECTIONS`` (named ones such as ``sandbox.up``).
"""

from __future__ import annotations

from invoke.collection import Collection

from envpromote.tasks import app, bench, build, ci, engine, infra, sandbox, scan

ns = Collection()
for _module in (app, build, engine, scan, sandbox, infra, ci, bench):
    for _task in _module.ROOT_TASKS:
        ns.add_task(_task)
    for _name, _collection in _module.COLLECTIONS.items():
        ns.add_collection(_collection, name=_name)
