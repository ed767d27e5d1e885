"""`ctx status`: every artifact and provenance.json, fresh / stale / missing against what was recorded."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dagster import DagsterInstance

from ctx_assets.core.generators import registry
from ctx_assets.core.pipeline import PROVENANCE_PATH, export_and_plan
from ctx_assets.core.status import ArtifactStatus, artifact_status, provenance_status
from ctx_assets.defs.project import project_of
from ctx_assets.defs.state import latest_artifact_metadata

from .home import get_instance


def compute_status(manifest: str | Path, out: Path, instance: DagsterInstance | None = None,
                   pre: Any = None) -> list[ArtifactStatus]:
    """`ctx status`: every artifact, then provenance.json."""
    pre = pre or export_and_plan(manifest, None, write=False)
    if pre.problems:
        raise ValueError("manifest invalid")
    recorded = latest_artifact_metadata(instance or get_instance(), project_of(manifest))
    return [*statuses(pre.seed["tasks"], out, recorded), provenance_status(pre.seed, recorded, out, PROVENANCE_PATH)]


def statuses(tasks: list[dict[str, Any]], out: Path,
             recorded: dict[tuple[str, str], dict[str, Any]]) -> list[ArtifactStatus]:
    """Each seed task's artifact: fresh, stale (why) or missing, against what the instance recorded."""
    reg = registry()
    return [artifact_status(t, reg[t["artifact_type"]].code_version, recorded.get((t["artifact_type"], t["target"])),
                            out) for t in tasks]
