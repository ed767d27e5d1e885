"""Build bundles once per test session (pure, no Dagster) for the artifact tests."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import yaml

from ctx_assets.core.pipeline import StageRun, build_without_orchestrator

from .conftest import EXAMPLE, SELF_EXAMPLE, manifest_with_targets

# Key results whose dataSource names the SLI (core/sli.py): a ratio split into good / total, the
# ContextCore example's latency histogram (seconds for a target in ms), and a key result of its own.
SOURCE_KEY_RESULTS = [
    {"id": "OBJ-RELIABILITY", "description": "Orders go through", "keyResults": [
        {"metricKey": "checkout_availability", "unit": "%", "target": 99.5, "targetOperator": "gte", "window": "30d",
         "dataSource": 'promql:sum(rate(orders_total{service="$target",outcome="ok"}[5m])) / '
                       'sum(rate(orders_total{service="$target"}[5m]))'}]},
    {"id": "OBJ-LATENCY", "description": "Reduce P99 latency to under 150ms", "keyResults": [
        {"metricKey": "latency.p99", "unit": "ms", "target": 150, "targetOperator": "lte", "window": "7d",
         "dataSource": "promql:histogram_quantile(0.99, rate(checkout_duration_seconds_bucket[5m]))"},
        {"metricKey": "queue_depth", "unit": "count", "target": 100, "targetOperator": "lte",
         "dataSource": "promql:max(queue_depth{namespace='$namespace'})"}]},
]


@cache
def bundle(name: str) -> StageRun:
    """'example' (11 targets), 'seventeen' (17 targets, 30 risks, medium criticality), 'low', 'sources'
    (3 targets, key results with promql: sources), 'self' (examples/ctx-assets.contextcore.yaml)."""
    if name == "example":
        path = EXAMPLE
    elif name == "self":
        path = SELF_EXAMPLE
    else:
        data = manifest_with_targets(17)
        if name == "seventeen":
            data["spec"]["business"]["criticality"] = "medium"
            data["spec"]["risks"] = [{"type": "availability", "description": f"risk {i}", "priority": "P2",
                                      "mitigation": f"mitigate {i}"} for i in range(30)]
        elif name == "sources":
            data["spec"]["targets"] = data["spec"]["targets"][:3]
            data["strategy"]["objectives"] = SOURCE_KEY_RESULTS
            data["strategy"]["tactics"] = []
        elif name == "low":
            data["spec"]["business"]["criticality"] = "low"
            data["spec"]["observability"]["alertChannels"] = ["#only-slack"]
        import tempfile

        path = Path(tempfile.mkdtemp()) / f"{name}.contextcore.yaml"
        path.write_text(yaml.safe_dump(data, sort_keys=False))
    run = build_without_orchestrator(path, None, write=False)
    assert not run.problems and not run.blocked, [g for g in run.all_gates() if g.blocks]
    return run


def artifacts(name: str, artifact_type: str):
    return [a for a in bundle(name).artifacts if a.artifact_type == artifact_type]
