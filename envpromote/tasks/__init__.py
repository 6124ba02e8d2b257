"""The product's invoke tasks, as one collection: ``from envpromote.tasks import namespace``.

Each task module here stays thin (parse options, call one library function, print, map errors to exit
codes through :func:`envpromote.tasks._common.handle_errors`) and exports ``ROOT_TASKS`` (top-level tasks
such as ``promote``) and ``COLLECTIONS`` (named ones such as ``sandbox.up``). The ``envpromote`` command
(:mod:`envpromote.cli`) runs :data:`namespace`; a repository's own ``tasks.py`` can use it as is, or call
:func:`build_namespace` with its own task modules added (this repository's ``tasks.py`` adds ``tools.tasks``).

Start-up matters (``envpromote --list`` runs on every shell completion): importing this package imports
nothing, :data:`namespace` is built on first access, and task modules import their heavy dependencies
(boto3, the engine) inside the tasks.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from invoke.collection import Collection

# The product's task modules (envpromote.tasks.<name>), in --list order of their first task.
PRODUCT_TASK_MODULES: tuple[str, ...] = ("build", "engine", "lock", "scan", "sandbox", "infra", "board")

__all__ = ["PRODUCT_TASK_MODULES", "build_namespace", "namespace"]


def build_namespace(*extra_modules: ModuleType) -> Collection:
    """A fresh collection of the product's tasks plus those of ``extra_modules`` (same ROOT_TASKS/COLLECTIONS shape)."""
    from invoke.collection import Collection

    modules = [importlib.import_module(f"envpromote.tasks.{name}") for name in PRODUCT_TASK_MODULES]
    collection = Collection()
    for module in [*modules, *extra_modules]:
        for task in module.ROOT_TASKS:
            collection.add_task(task)
        for name, sub in module.COLLECTIONS.items():
            collection.add_collection(sub, name=name)
    return collection


def __getattr__(name: str) -> Any:
    """``namespace`` is built on first access (PEP 562), so importing ``envpromote.tasks._common`` stays cheap."""
    if name == "namespace":
        built = build_namespace()
        globals()["namespace"] = built
        return built
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
