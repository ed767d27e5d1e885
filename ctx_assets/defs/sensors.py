"""The manifest sensor: reacts to edits, requests only the affected artifacts.

Two phases keep runs in order: when the manifest changed, first the shared
stages (manifest → export → context_seed, which also adds and removes target
partitions); once the seed on disk matches the manifest, one run per affected
target range with only the artifact types whose input fingerprints changed (one run when
one set of types changed for every affected target, e.g. a question about dashboards). Edits are
debounced; a broken manifest is reported on the tick and waits for the next edit.
The cursor (manifest checksum + fingerprints) lives in Dagster, so it survives restarts.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from dagster import (
    DefaultSensorStatus,
    RunRequest,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    sensor,
)

from ctx_assets.core.artifact_types import TYPE_ORDER
from ctx_assets.core.checksums import sha256_hex
from ctx_assets.core.fingerprints import seed_fingerprints
from ctx_assets.core.pipeline import export_and_plan
from resources.output_store import OutputStore

from .artifacts import artifact_key
from .jobs import shared_job, target_job
from .partitions import TARGETS, artifact_runs, range_tags
from .state import latest_artifact_metadata, latest_metadata

DEBOUNCE_SECONDS = float(os.environ.get("CTX_SENSOR_DEBOUNCE_SECONDS", "5"))


def plan_requests(old: dict[str, str], new: dict[str, str],
                  types_of: dict[str, tuple[str, str]]) -> dict[str, list[str]]:
    """{target: [artifact types]} whose fingerprint changed or that are new."""
    out: dict[str, list[str]] = {}
    for aid, fp in new.items():
        if old.get(aid) != fp:
            artifact_type, target = types_of[aid]
            out.setdefault(target, []).append(artifact_type)
    order = [t.value for t in TYPE_ORDER]
    return {target: sorted(types, key=order.index) for target, types in out.items()}


@sensor(name="manifest_sensor", minimum_interval_seconds=10, jobs=[shared_job, target_job],
        default_status=DefaultSensorStatus.RUNNING,
        description="Rebuilds only the artifacts whose manifest slice changed; adds and removes targets.")
def manifest_sensor(context: SensorEvaluationContext, store: OutputStore) -> Any:
    cursor: dict[str, Any] = json.loads(context.cursor) if context.cursor else {}
    path = Path(store.manifest_path)
    try:
        raw, mtime = path.read_bytes(), path.stat().st_mtime
    except OSError as e:
        return SkipReason(f"cannot read {path}: {e.strerror}")
    sha = sha256_hex(raw)
    if sha == cursor.get("sha") and not cursor.get("pending"):
        return SkipReason("manifest unchanged")
    if time.time() - mtime < DEBOUNCE_SECONDS:
        return SkipReason(f"manifest edited {time.time() - mtime:.1f}s ago; waiting {DEBOUNCE_SECONDS:.0f}s "
                          "for edits to settle")
    run = export_and_plan(path, None, write=False)
    if run.problems:
        context.update_cursor(json.dumps({**cursor, "sha": sha, "pending": False}))
        first = "; ".join(str(p) for p in run.problems[:3])
        return SkipReason(f"manifest invalid ({len(run.problems)} problems), not building: {first}")
    if run.blocked:
        context.update_cursor(json.dumps({**cursor, "sha": sha, "pending": False}))
        failed = [f"{g.gate.value}: {g.violations[0].message}" for g in run.gates if g.blocks]
        return SkipReason(f"export gates failed, not building: {'; '.join(failed)[:500]}")

    if latest_metadata(context.instance, "context_seed").get("source_checksum") != sha:
        context.update_cursor(json.dumps({**cursor, "pending": True, "pending_sha": sha}))
        return SensorResult(run_requests=[RunRequest(run_key=f"shared-{sha[:16]}", job_name=shared_job.name)])

    fps = {k: v[:16] for k, v in seed_fingerprints(run.seed).items()}
    types_of = {t["artifact_id"]: (t["artifact_type"], t["target"]) for t in run.seed["tasks"]}
    old = cursor.get("fps")
    if old is None:  # first tick (or a fresh instance): compare with what was materialized
        recorded = latest_artifact_metadata(context.instance)
        old = {aid: str(recorded.get(types_of[aid], {}).get("fingerprint", ""))[:16] for aid in types_of}
    wanted = plan_requests(old, fps, types_of)
    order = list(context.instance.get_dynamic_partitions(TARGETS.name))
    requests = [RunRequest(run_key=f"{targets[0]}-{len(targets)}-{sha[:16]}", job_name=target_job.name,
                           partition_key=targets[0] if len(targets) == 1 else None, tags=range_tags(targets),
                           asset_selection=[artifact_key(t) for t in types])
                for types, targets in artifact_runs(wanted, order)]
    context.update_cursor(json.dumps({"sha": sha, "pending": False, "fps": fps}))
    if not requests:
        return SkipReason("manifest changed, but no artifact's inputs did")
    return SensorResult(run_requests=requests)
