"""`ctx status`: every artifact and provenance.json, fresh / stale / missing against what was recorded."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dagster import DagsterInstance

from ctx_assets.contracts.artifacts import artifact_id
from ctx_assets.core.artifact_types import TYPE_ORDER, output_path
from ctx_assets.core.fingerprints import code_versions
from ctx_assets.core.pipeline import PROVENANCE_PATH, export_and_plan
from ctx_assets.core.slices import slices_dir
from ctx_assets.core.status import (
    MISSING,
    PROVENANCE_ID,
    STALE,
    ArtifactStatus,
    artifact_status,
    provenance_status,
)
from ctx_assets.defs.project import project_of
from ctx_assets.defs.state import latest_artifact_metadata
from ctx_assets.settings import settings

from .home import get_instance


def compute_status(manifest: str | Path, out: Path, instance: DagsterInstance | None = None,
                   pre: Any = None) -> list[ArtifactStatus]:
    """`ctx status`: every artifact, then provenance.json."""
    pre = pre or export_and_plan(manifest, None, write=False, slices=slices_dir(settings().home, out))
    if pre.problems:
        raise ValueError("manifest invalid")
    recorded = latest_artifact_metadata(instance or get_instance(), project_of(manifest))
    return [*statuses(pre.seed["tasks"], out, recorded), provenance_status(pre.seed, recorded, out, PROVENANCE_PATH)]


def statuses(tasks: list[dict[str, Any]], out: Path,
             recorded: dict[tuple[str, str], dict[str, Any]]) -> list[ArtifactStatus]:
    """Each seed task's artifact: fresh, stale (why) or missing, against what the instance recorded."""
    versions = code_versions()
    return [artifact_status(t, versions[t["artifact_type"]], recorded.get((t["artifact_type"], t["target"])), out)
            for t in tasks]


def blocked_statuses(targets: list[str], out: Path, recorded: dict[tuple[str, str], dict[str, Any]],
                     by: str) -> list[ArtifactStatus]:
    """Every artifact of `targets`, then provenance.json, when a gate of the shared stages blocks the manifest
    (`by`: "secret_scan on export"): nothing can be built, so there is no seed to compare with. An artifact
    never built is missing; one on disk is stale, made from an earlier version of the manifest (the blocked
    one was never built). Each names the gate, as the UI's failed partitions do."""
    rows = []
    for target in targets:
        for t in TYPE_ORDER:
            path = output_path(t, target)
            built = (recorded.get((t.value, target)) or {}).get("checksum") and (out / path).is_file()
            rows.append(ArtifactStatus(artifact_id(target, t), t.value, target, path, STALE if built else MISSING,
                                       f"blocked by {by}" + ("; built from an earlier manifest" if built else "")))
    on_disk = (out / PROVENANCE_PATH).is_file()
    rows.append(ArtifactStatus(PROVENANCE_ID, PROVENANCE_ID, "", PROVENANCE_PATH, STALE if on_disk else MISSING,
                               f"blocked by {by}" + ("; written for an earlier manifest" if on_disk else "")))
    return rows
