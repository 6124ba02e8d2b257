"""The product's imports point one way: no cycle between modules, and never into the sandbox or tools/.

The sandbox is the product's test double: it imports the product; its tasks reach the command line through the
`envpromote.tasks` entry point group. ARCHITECTURE.md draws the layers this protects.
"""

from __future__ import annotations

from tools.import_graph import boundary_violations, cycles, graph, module_graph


def test_no_module_imports_itself_through_a_cycle() -> None:
    assert cycles(module_graph()) == []


def test_the_product_never_imports_the_sandbox_or_the_repository_tooling() -> None:
    assert boundary_violations(graph()) == []


def test_the_graph_sees_real_edges() -> None:
    edges = graph()
    assert "rollout" in edges["release"]
    assert "config" in edges["sandbox"]  # the sandbox depends on the product, as drawn


def test_a_planted_cycle_and_a_planted_sandbox_import_are_reported() -> None:
    assert cycles({"a": {"b"}, "b": {"a"}, "c": {"a"}}) == ["a", "b"]
    assert boundary_violations({"release": {"sandbox"}, "sandbox": {"release"}}) == ["release -> sandbox"]
