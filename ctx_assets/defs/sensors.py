"""The manifest sensor: reacts to edits, requests only the affected artifacts.

Three phases keep runs in order: when the manifest changed, first the shared
stages (manifest → export → context_seed, which also adds and removes target
partitions); once the seed on disk matches the manifest, one run per affected
target range with only the artifact types whose input fingerprints differ from the
recorded materializations (one run when one set of types changed for every affected
target, e.g. a question about dashboards); once none of this project's artifact runs is in
flight, provenance when it is stale. Edits are debounced; a broken manifest is reported on
the tick and waits for the next edit. The cursor is small (the manifest checksum and two
flags; fingerprints are compared with what the instance recorded), lives in Dagster and
survives restarts.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from dagster import (
    DagsterRunStatus,
    DefaultSensorStatus,
    RunRequest,
    RunsFilter,
    SensorDefinition,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    sensor,
)

from ctx_assets.core.checksums import sha256_hex
from ctx_assets.core.fingerprints import seed_fingerprints
from ctx_assets.core.pipeline import PROVENANCE_PATH, export_and_plan
from ctx_assets.core.plan import SEED_PATH
from ctx_assets.core.status import FRESH, provenance_status
from ctx_assets.core.text import plural
from ctx_assets.resources.output_store import OutputStore

from .jobs import OUTPUT_JOB, SHARED_JOB, TARGET_JOB
from .owners import owner_tags
from .partitions import artifact_runs, range_tags
from .project import Project
from .state import latest_artifact_metadata, latest_metadata

DEBOUNCE_SECONDS = float(os.environ.get("CTX_SENSOR_DEBOUNCE_SECONDS", "5"))
IN_FLIGHT = [DagsterRunStatus.QUEUED, DagsterRunStatus.NOT_STARTED, DagsterRunStatus.STARTING,
             DagsterRunStatus.STARTED]
PROJECT_TAG = "ctx/project"  # on the sensor's runs: every project's artifact job has the same name


def plan_requests(old: dict[str, str], new: dict[str, str],
                  types_of: dict[str, tuple[str, str]]) -> dict[str, list[str]]:
    """{target: [artifact types]} whose fingerprint changed or that are new."""
    out: dict[str, list[str]] = {}
    for aid, fp in new.items():
        if old.get(aid) != fp:
            artifact_type, target = types_of[aid]
            out.setdefault(target, []).append(artifact_type)
    return out


def manifest_sensor(p: Project, jobs: list[Any]) -> SensorDefinition:
    @sensor(name="manifest_sensor", minimum_interval_seconds=10,
            jobs=[j for j in jobs if j.name in (SHARED_JOB, TARGET_JOB, OUTPUT_JOB)],
            default_status=DefaultSensorStatus.RUNNING,
            description="Rebuilds only the artifacts whose manifest slice changed, then provenance; adds and "
                        "removes targets.")
    def _sensor(context: SensorEvaluationContext, store: OutputStore) -> Any:
        return evaluate(context, store, p)

    return _sensor


def evaluate(context: SensorEvaluationContext, store: OutputStore, p: Project) -> Any:
    cursor: dict[str, Any] = json.loads(context.cursor) if context.cursor else {}
    path = Path(store.manifest_path)
    try:
        raw, mtime = path.read_bytes(), path.stat().st_mtime
    except OSError as e:
        return SkipReason(f"cannot read {path}: {e.strerror}")
    sha = sha256_hex(raw)
    if sha == cursor.get("sha") and not cursor.get("pending"):
        return _provenance(context, store, p, cursor) if cursor.get("provenance") else SkipReason("manifest unchanged")
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

    if latest_metadata(context.instance, p.key("context_seed")).get("source_checksum") != sha:
        context.update_cursor(json.dumps({**cursor, "pending": True, "pending_sha": sha}))
        return SensorResult(run_requests=[RunRequest(run_key=f"shared-{sha[:16]}", job_name=SHARED_JOB,
                                                     tags=_tags(p))])

    # Compared with what was materialized, not with a copy in the cursor (7,000 fingerprints at 1,000
    # targets would fill the sensor's page); a failed run's artifacts are simply asked for again.
    fps = seed_fingerprints(run.seed)
    types_of = {t["artifact_id"]: (t["artifact_type"], t["target"]) for t in run.seed["tasks"]}
    recorded = latest_artifact_metadata(context.instance, p)
    old = {aid: recorded.get(types_of[aid], {}).get("fingerprint") for aid in types_of}
    wanted = plan_requests(old, fps, types_of)
    order = list(context.instance.get_dynamic_partitions(p.targets.name))
    requests = [RunRequest(run_key=f"{targets[0]}-{len(targets)}-{sha[:16]}", job_name=TARGET_JOB,
                           partition_key=targets[0] if len(targets) == 1 else None,
                           tags={**_tags(p), **range_tags(targets)}, asset_selection=[p.key(t) for t in types])
                for types, targets in artifact_runs(wanted, order)]
    cursor = {"sha": sha, "pending": False, "provenance": True}
    context.update_cursor(json.dumps(cursor))
    if not requests:
        return _provenance(context, store, p, cursor, "manifest changed, but no artifact's inputs did")
    return SensorResult(run_requests=requests)


def _tags(p: Project) -> dict[str, str]:
    """The sensor's runs name their project and, under `ctx ui`, their owner (owners.py)."""
    return {PROJECT_TAG: p.prefix, **owner_tags()}


def _provenance(context: SensorEvaluationContext, store: OutputStore, p: Project, cursor: dict[str, Any],
                fresh: str = "manifest unchanged") -> Any:
    """Phase 3: once none of this project's artifact runs is in flight, provenance.json when an artifact was
    rebuilt after it or the manifest changed since (the `ctx status` rule)."""
    busy = context.instance.get_runs_count(RunsFilter(job_name=TARGET_JOB, statuses=IN_FLIGHT,
                                                      tags={PROJECT_TAG: p.prefix}))
    if busy:
        return SkipReason(f"waiting for {plural(busy, 'artifact run')} to finish before provenance")
    context.update_cursor(json.dumps({**cursor, "provenance": False}))
    try:
        seed = store.read_json(SEED_PATH)
    except OSError:
        return SkipReason(f"{fresh}; no seed in {store.out_dir} yet")
    status = provenance_status(seed, latest_artifact_metadata(context.instance, p), store.root, PROVENANCE_PATH)
    if status.status == FRESH:
        return SkipReason(f"{fresh}; provenance is fresh")
    return SensorResult(run_requests=[RunRequest(job_name=OUTPUT_JOB, tags=_tags(p))])
