"""What `ctx status` and a no-op `ctx build` can know without planning or opening the instance (issue 23).

When the plan memo of the output folder still holds (core/plan_memo.py: same manifest bytes, same code, same
export and seed on disk) and the home is ctx's embedded SQLite (dagster_compat/recorded.py), each artifact's
status comes from the memo's fingerprint, the newest recorded materialization and the file's checksum (the
persisted checksum index: a stat per file). Anything that is not plainly fresh is explained by the same
`artifact_status` as the slow path, from the seed on disk. None means: take the slow path.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ctx_assets.core.artifact_types import TYPE_ORDER
from ctx_assets.core.checksums import file_checksum, load_index, save_index
from ctx_assets.core.export_paths import PROVENANCE_PATH, SEED_PATH
from ctx_assets.core.plan_memo import PlanMemo, read_memo
from ctx_assets.core.project_names import key_prefix
from ctx_assets.core.seed_reader import load_seed
from ctx_assets.core.status import FRESH, ArtifactStatus, artifact_status, provenance_status
from ctx_assets.dagster_compat.recorded import asset_key_string, read_embedded
from ctx_assets.settings import settings


def checksum_index() -> Path:
    return settings().home / "cache" / "checksums.json"


class Checksums:
    """The persisted checksum index around a command: loaded on entry, saved on exit."""

    def __enter__(self) -> Checksums:
        load_index(checksum_index())
        return self

    def __exit__(self, *exc: object) -> None:
        save_index(checksum_index())


def recorded_for(project_id: str) -> dict[tuple[str, str], dict[str, Any]] | None:
    """{(artifact type, target): newest materialization metadata}, read without Dagster, or None."""
    prefix = key_prefix(project_id)
    keys = {asset_key_string([prefix, t.value]): t.value for t in TYPE_ORDER}
    raw = read_embedded(settings().dagster_home, list(keys))
    return None if raw is None else {(keys[k], part): meta for (k, part), meta in raw.items()}


def memo_statuses(manifest_bytes: bytes, project_id: str, out: Path) -> tuple[PlanMemo, list[ArtifactStatus]] | None:
    """Every artifact, then provenance.json, as `build.status.compute_status` gives them; None on a miss."""
    memo = read_memo(settings().home, out, manifest_bytes)
    if memo is None:
        return None
    recorded = recorded_for(project_id)
    if recorded is None:
        return None
    seed: dict[str, Any] | None = None
    rows = []
    for t in memo.tasks:
        rec = recorded.get((t.artifact_type, t.target))
        if rec and rec.get("code_version") == t.code_version and rec.get("fingerprint") == t.fingerprint \
                and rec.get("checksum") and file_checksum(f"{out}/{t.output_path}") == rec["checksum"]:
            rows.append(ArtifactStatus(t.artifact_id, t.artifact_type, t.target, t.output_path, FRESH))
            continue
        if seed is None:  # the cause needs the whole task: the seed on disk is the memo's (checksum checked)
            seed = {task["artifact_id"]: task for task in load_seed(out / SEED_PATH)["tasks"]}
        rows.append(artifact_status(seed[t.artifact_id], t.code_version, rec, out))
    light = {"tasks": [{"artifact_id": t.artifact_id, "artifact_type": t.artifact_type, "target": t.target}
                       for t in memo.tasks], "provenance": {"chain": memo.chain}}
    rows.append(provenance_status(light, recorded, out, PROVENANCE_PATH))
    return memo, rows


def noop_build(loaded: Any, project_id: str, out: Path, progress: Any) -> Any:
    """A `ctx build` with nothing stale (memo hit, every artifact and provenance.json fresh): no Dagster run,
    the shared stages' remembered gate results, and a trace of the build that did nothing. None otherwise."""
    from ctx_assets.telemetry.build_trace import BuildTrace

    from .summary import BuildSummary

    hit = memo_statuses(loaded.raw, project_id, out)
    if hit is None or any(r.status != FRESH for r in hit[1]):
        return None
    memo, rows = hit
    summary = BuildSummary(gates=list(memo.gates))
    with BuildTrace(planned_artifacts=0) as bt:
        summary.trace_id = bt.trace_id
        bt.set_manifest(loaded.checksum, project_id)
        bt.span.add_event("nothing stale", {"ctx.artifacts.fresh": len(rows) - 1})
    progress("every artifact is fresh; nothing to rebuild (--all rebuilds anyway)")
    return summary
