"""Each export/plan gate fails on a crafted input and says why."""

from __future__ import annotations

import pytest

from ctx_assets.contracts.export import EXPORT_MODEL_PAIRS, KeyResultExport
from ctx_assets.contracts.manifest import KeyResult
from ctx_assets.core.derivation import DERIVATION_RULES
from ctx_assets.core.gates.export import check_derivation_coverage, check_field_preservation
from ctx_assets.core.gates.graph import check_acyclic, find_cycle, topological_order
from ctx_assets.core.gates.seed import check_seed_completeness


def test_real_export_models_preserve_every_source_field():
    """Guards §1.2: adding a field to a manifest model without carrying it into its export model
    makes this test fail."""
    gate = check_field_preservation(EXPORT_MODEL_PAIRS)
    assert gate.result == "passed", gate.violations
    assert gate.details["fields_before"] == gate.details["fields_after"] > 20


def test_field_added_to_source_model_but_not_export_fails():
    class KeyResultWithConfidence(KeyResult):
        confidence: float | None = None

    gate = check_field_preservation([(KeyResultWithConfidence, KeyResultExport)])
    assert gate.blocks
    assert gate.violations[0].field == "KeyResultWithConfidence.confidence"
    assert gate.details["fields_before"] == gate.details["fields_after"] + 1


def test_value_lost_in_conversion_fails():
    src = KeyResult(metricKey="availability", unit="%", target=99.9, window="30d")
    dst = KeyResultExport(metric_key="availability", unit="%", target=99.9)  # window dropped
    gate = check_field_preservation([], conversions=[(src, dst)])
    assert gate.blocks and gate.violations[0].field == "KeyResult.window"
    assert (gate.details["values_before"], gate.details["values_after"]) == (4, 3)


def test_derivation_coverage_fails_for_missing_type():
    rules = {t.value: r for t, r in DERIVATION_RULES.items() if t.value != "loki_rule"}
    gate = check_derivation_coverage(rules)
    assert gate.blocks and gate.violations[0].field == "derivation_rules.loki_rule"


def test_cycle_reported_with_path_and_never_loops():
    graph = {"a": ["b"], "b": ["c"], "c": ["a"], "d": []}
    assert find_cycle(graph) == ["a", "b", "c", "a"]
    gate = check_acyclic(graph)
    assert gate.blocks and "a -> b -> c -> a" in gate.violations[0].message
    with pytest.raises(ValueError, match="cycle"):
        topological_order(graph)
    self_loop = {"x": ["x"]}
    assert find_cycle(self_loop) == ["x", "x"]


def test_long_chain_has_no_recursion_limit():
    graph = {f"n{i}": [f"n{i + 1}"] for i in range(20000)} | {"n20000": []}
    assert find_cycle(graph) is None
    assert topological_order(graph)[0] == "n20000"


def _md(ids, targets=1, types=2):
    return {"artifact_dependency_graph": {i: [] for i in ids}, "targets": [{}] * targets,
            "artifact_types": {f"t{i}": {} for i in range(types)}}


def test_seed_completeness_missing_duplicate_extra_and_mismatch():
    task = lambda a, deps=(): {"task_id": f"task:{a}", "artifact_id": a, "depends_on": list(deps)}  # noqa: E731
    ok = check_seed_completeness(_md(["a", "b"]), {"tasks": [task("a"), task("b", ["task:a"])]})
    assert ok.result == "passed"
    dup = check_seed_completeness(_md(["a", "b"]), {"tasks": [task("a"), task("a")]})
    msgs = " ".join(v.message for v in dup.violations)
    assert "2 tasks" in msgs and "0 tasks" in msgs
    extra = check_seed_completeness(_md(["a"], types=1), {"tasks": [task("a"), task("zzz")]})
    assert any("not in the plan" in v.message for v in extra.violations)
    order = check_seed_completeness(_md(["a", "b"]), {"tasks": [task("b", ["task:a"]), task("a")]})
    assert any("ordered after" in v.message for v in order.violations)
    mismatch = check_seed_completeness(_md(["a", "b"], targets=3, types=2), {"tasks": [task("a"), task("b")]})
    assert "plan has 2 artifacts" in mismatch.violations[0].message and "needs 6" in mismatch.violations[0].message
