"""The product's import graph by package: who imports whom, and whether any import cycle exists.

``python -m tools.import_graph`` prints one line per package and exits 1 on a cycle or on an import of the
sandbox or of this repository's tools from the product. Imports inside functions count too: a lazy import is
still a dependency.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterable
from pathlib import Path

PRODUCT = Path(__file__).resolve().parents[1] / "envpromote"
# The sandbox is the product's test double: it may import the product, never the reverse.
NOT_FROM_PRODUCT = frozenset({"sandbox"})


def unit_of(module: str) -> str:
    """`envpromote.release.plan` -> `release`; `envpromote.gate` -> `gate`."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "envpromote"


def _type_checking_only(tree: ast.Module) -> set[int]:
    """ids of the import nodes under `if TYPE_CHECKING:` (annotations only: no dependency at run time)."""
    hidden: set[int] = set()
    for node in ast.walk(tree):
        test = node.test if isinstance(node, ast.If) else None
        if (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
            isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
        ):
            hidden.update(id(child) for stmt in node.body for child in ast.walk(stmt))
    return hidden


def imports_of(path: Path) -> Iterable[str]:
    tree = ast.parse(path.read_bytes())
    hidden = _type_checking_only(tree)
    for node in ast.walk(tree):
        if id(node) in hidden:
            continue
        if isinstance(node, ast.ImportFrom) and node.module:
            if node.module == "envpromote":
                yield from (f"envpromote.{alias.name}" for alias in node.names)
            elif node.module.startswith(("envpromote.", "tools")):
                yield node.module
        elif isinstance(node, ast.Import):
            yield from (a.name for a in node.names if a.name.startswith(("envpromote.", "tools")))


def module_graph(root: Path = PRODUCT) -> dict[str, set[str]]:
    """Module -> the product modules it imports (a package import counts as its __init__)."""
    modules = {
        ".".join(path.relative_to(root.parent).with_suffix("").parts).removesuffix(".__init__"): path
        for path in sorted(root.rglob("*.py"))
    }
    edges: dict[str, set[str]] = {}
    for module, path in modules.items():
        targets = edges.setdefault(module, set())
        for imported in imports_of(path):
            if imported.startswith("tools"):
                targets.add("tools")
            elif imported in modules and imported != module:
                targets.add(imported)
            elif imported.rsplit(".", 1)[0] in modules:  # `from pkg import name` where name is not a module
                targets.add(imported.rsplit(".", 1)[0])
    return edges


def graph(root: Path = PRODUCT) -> dict[str, set[str]]:
    """Package (or top-level module) -> the packages it imports: the picture in ARCHITECTURE.md."""
    edges: dict[str, set[str]] = {}
    for module, imported in module_graph(root).items():
        source = unit_of(module)
        targets = edges.setdefault(source, set())
        targets.update(t if t == "tools" else unit_of(t) for t in imported if unit_of(t) != source)
    return edges


def cycles(edges: dict[str, set[str]]) -> list[str]:
    def reachable(start: str) -> set[str]:
        seen: set[str] = set()
        stack = [start]
        while stack:
            for nxt in edges.get(stack.pop(), ()):
                if nxt not in seen:
                    seen.add(nxt)
                    stack.append(nxt)
        return seen

    return sorted(unit for unit in edges if unit in reachable(unit))


def boundary_violations(edges: dict[str, set[str]]) -> list[str]:
    return sorted(
        f"{source} -> {target}"
        for source, targets in edges.items()
        if source not in NOT_FROM_PRODUCT
        for target in targets
        if target in NOT_FROM_PRODUCT or target == "tools"
    )


def main() -> int:
    edges = graph()
    for source in sorted(edges):
        print(f"{source:<10} -> {', '.join(sorted(edges[source])) or '-'}")
    # Cycles are judged between modules: a package may hold a leaf that a lower layer imports (config imports
    # notify.targets to validate `notify = [...]`, while notify's sender sits above config).
    problems = [f"import cycle through {module}" for module in cycles(module_graph())]
    problems += [f"the product imports {v.split(' -> ')[1]}: {v}" for v in boundary_violations(edges)]
    for problem in problems:
        print(f"import_graph: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
