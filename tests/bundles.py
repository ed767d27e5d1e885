"""Build bundles once per test session (pure, no Dagster) for the artifact tests."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import yaml

from ctx_assets.core.pipeline import StageRun, build_without_orchestrator

from .conftest import EXAMPLE, manifest_with_targets


@cache
def bundle(name: str) -> StageRun:
    """'example' (11 targets), 'seventeen' (17 targets, 30 risks, medium criticality), 'low'."""
    if name == "example":
        path = EXAMPLE
    else:
        data = manifest_with_targets(17)
        if name == "seventeen":
            data["spec"]["business"]["criticality"] = "medium"
            data["spec"]["risks"] = [{"type": "availability", "description": f"risk {i}", "priority": "P2",
                                      "mitigation": f"mitigate {i}"} for i in range(30)]
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
