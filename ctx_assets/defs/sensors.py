"""The manifest sensor: reacts to edits, requests only the affected artifacts.

Three phases keep runs in order: when the manifest changed, first the shared
stages (manifest → export → context_seed, which also adds and removes target
partitions); once the seed on disk matches the manifest, one run per affected
target range with only the artifact types whose input fingerprints differ from the
recorded materializations (one run when one set of types changed for every affected
target, e.g. a question about dashboards); once none of this project's artifact runs is in
flight, provenance when it is stale. Edits are debounced; a broken or blocked manifest is
reported on the tick (its skip reason names the manifest, and the gate for a blocked one) and
waits for the next edit. The cursor is small (the manifest checksum and two flags; fingerprints
are compared with what the instance recorded), lives in Dagster and survives restarts.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from dagster import (
    AssetSelection,
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

from ctx_assets.core import staging
from ctx_assets.core.checksums import sha256_hex
from ctx_assets.core.fingerprints import seed_fingerprints
from ctx_assets.core.pipeline import PROVENANCE_PATH, blocked_by, export_and_plan
from ctx_assets.core.plan import SEED_PATH
from ctx_assets.core.slices import slices_dir
from ctx_assets.core.status import FRESH, provenance_status
from ctx_assets.core.text import plural
from ctx_assets.resources.output_store import OutputStore
from ctx_assets.settings import settings

from .owners import owner_tags
from .partitions import artifact_runs, range_tags
from .project import PROJECT_TAG, STAGES, Project
from .state import latest_artifact_metadata, latest_metadata

IN_FLIGHT = [DagsterRunStatus.QUEUED, DagsterRunStatus.NOT_STARTED, DagsterRunStatus.STARTING,
             DagsterRunStatus.STARTED]


def plan_requests(old: dict[str, str], new: dict[str, str],
                  types_of: dict[str, tuple[str, str]]) -> dict[str, list[str]]:
    """{target: [artifact types]} whose fingerprint changed or that are new."""
    out: dict[str, list[str]] = {}
    for aid, fp in new.items():
        if old.get(aid) != fp:
            artifact_type, target = types_of[aid]
            out.setdefault(target, []).append(artifact_type)
    return out


def manifest_sensor(projects: list[Project], name: str, stores: dict[str, OutputStore]) -> SensorDefinition:
    """One sensor for every project of a `contextcore_definitions` call (`stores`: each project's output
    store by prefix): a tick reads each manifest's checksum (an idle tick over 200 projects is 200 small
    reads) and does work only for edited ones, within a time budget; projects not reached wait for the
    next tick, in turn."""
    keys = [k for p in projects for stage in STAGES for k in p.stage_keys(stage)]

    @sensor(name=name, minimum_interval_seconds=SENSOR_INTERVAL_SECONDS, asset_selection=AssetSelection.assets(*keys),
            default_status=DefaultSensorStatus.RUNNING,
            description="Rebuilds only the artifacts whose manifest slice changed, then provenance; adds and "
                        f"removes targets. Watches {plural(len(projects), 'manifest')}.")
    def _sensor(context: SensorEvaluationContext) -> Any:
        return tick(context, projects, stores)

    return _sensor


def tick(context: SensorEvaluationContext, projects: list[Project], stores: dict[str, OutputStore]) -> Any:
    state: dict[str, Any] = json.loads(context.cursor) if context.cursor else {}
    cursors: dict[str, dict[str, Any]] = state.get("projects", {})
    start = int(state.get("next", 0)) % max(len(projects), 1)
    deadline = time.monotonic() + TICK_BUDGET_SECONDS
    requests: list[RunRequest] = []
    reasons: list[str] = []
    reached = 0
    for i in range(len(projects)):
        p = projects[(start + i) % len(projects)]
        if time.monotonic() > deadline:
            break
        reached += 1
        cursor, wanted, reason = evaluate(context.instance, stores[p.prefix], p, cursors.get(p.prefix, {}))
        cursors[p.prefix] = cursor
        requests += wanted
        if reason and (len(projects) == 1 or reason not in QUIET_REASONS):
            reasons.append(f"{stores[p.prefix].manifest_path}: {reason}")  # the UI's tick history names it
    context.update_cursor(json.dumps({"projects": cursors, "next": (start + reached) % max(len(projects), 1)}))
    if reached < len(projects):
        reasons.append(f"{len(projects) - reached} of {plural(len(projects), 'manifest')} not read this tick "
                       "(time budget); next tick goes on from there")
    if requests:
        return SensorResult(run_requests=requests, skip_reason=None)
    return SkipReason("; ".join(reasons[:20]) or f"{plural(len(projects), 'manifest')} unchanged")


# As often as the daemon looks: a stock daemon's sensor loop every 5 s, `ctx ui`'s every second
# (dagster_compat/daemon.py). An idle tick reads each manifest's checksum: a few ms.
SENSOR_INTERVAL_SECONDS = 1
QUIET_REASONS = {"manifest unchanged", "manifest unchanged; provenance is fresh"}
# A tick reads every manifest's checksum; the costlier work (export and plan of an edited manifest,
# ~20 ms at 11 targets, ~1 s at 1,000) stops starting new projects after this long.
TICK_BUDGET_SECONDS = 1.5


def evaluate(instance: Any, store: OutputStore, p: Project,
             cursor: dict[str, Any]) -> tuple[dict[str, Any], list[RunRequest], str | None]:
    """One project's step: (its new cursor, the runs to request, why nothing was requested)."""
    path = Path(store.manifest_path)
    try:
        raw, mtime = path.read_bytes(), path.stat().st_mtime
    except OSError as e:
        return cursor, [], f"cannot read the manifest: {e.strerror}"
    sha = sha256_hex(raw)
    if sha == cursor.get("sha") and not cursor.get("pending"):
        if cursor.get("provenance") or staging.pending(store.root):  # staged files wait for the output stage
            return _provenance(instance, store, p, cursor)
        return cursor, [], "manifest unchanged"
    debounce = settings().sensor_debounce_seconds
    if time.time() - mtime < debounce:
        return cursor, [], (f"manifest edited {time.time() - mtime:.1f}s ago; waiting {debounce:g}s "
                            "for edits to settle")
    busy = _in_flight(instance, p)
    if busy:  # one build of a project at a time: the next one plans against what this one recorded
        return cursor, [], f"manifest edited; waiting for {plural(busy, 'run')} of this project to finish"
    run = export_and_plan(path, None, write=False, slices=slices_dir(settings().home, store.root))
    if run.problems:
        first = "; ".join(str(pr) for pr in run.problems[:3])
        return ({**cursor, "sha": sha, "pending": False}, [],
                f"manifest invalid ({len(run.problems)} problems), not building: {first}")
    if run.blocked:  # the wording of the UI's failed checks and `ctx status`: "blocked by secret_scan on export: …"
        why = f"not building: blocked by {blocked_by(run.gates)[1]}"
        return {**cursor, "sha": sha, "pending": False}, [], why[:500]

    # Compared with what was materialized, not with a copy in the cursor (7,000 fingerprints at 1,000
    # targets would fill the sensor's page); a failed run's artifacts are simply asked for again.
    fps = seed_fingerprints(run.seed)
    types_of = {t["artifact_id"]: (t["artifact_type"], t["target"]) for t in run.seed["tasks"]}
    order = list(instance.get_dynamic_partitions(p.targets.name))
    shared_done = latest_metadata(instance, p.key("context_seed")).get("source_checksum") == sha
    same_targets = set(order) == {target for _, target in types_of.values()}
    if not shared_done and not same_targets:  # the seed asset adds and removes partitions first
        return ({**cursor, "pending": True, "pending_sha": sha}, [_shared_run(p, sha)], None)
    recorded = latest_artifact_metadata(instance, p)
    old = {aid: recorded.get(types_of[aid], {}).get("fingerprint") for aid in types_of}
    runs = artifact_runs(plan_requests(old, fps, types_of), order)
    if not shared_done and len(runs) > 1:  # several artifact runs must all see the new seed: shared stages first
        return ({**cursor, "pending": True, "pending_sha": sha}, [_shared_run(p, sha)], None)
    shared = [] if shared_done else p.stage_keys("shared")
    requests = [RunRequest(run_key=f"{p.prefix}-{targets[0]}-{len(targets)}-{sha[:16]}",
                           partition_key=targets[0] if len(targets) == 1 else None,
                           tags={**_tags(p, "edit" if shared else "artifacts"), **range_tags(targets)},
                           asset_selection=[*shared, *[p.key(t) for t in types]])
                for types, targets in runs]
    if not requests and shared:  # the manifest changed, no artifact's inputs did: the shared stages alone
        requests = [_shared_run(p, sha)]
    cursor = {"sha": sha, "pending": False, "provenance": True}
    if not requests:
        return _provenance(instance, store, p, cursor, "manifest changed, but no artifact's inputs did")
    if serialized(instance):  # the queue runs this project's runs one after another: provenance can queue now
        requests.append(RunRequest(run_key=f"{p.prefix}-provenance-{sha[:16]}", asset_selection=p.stage_keys("output"),
                                   tags=_tags(p, "output")))
        cursor["provenance"] = False
    return cursor, requests, None


def serialized(instance: Any) -> bool:
    """Whether the instance's run queue runs at most one run per `ctx/project` value at a time, first come
    first served (the home `ctx` writes says so: build/home.py). Then the sensor requests an edit's runs and
    its provenance run in one tick; otherwise provenance waits for a later tick with no run in flight."""
    try:
        limits = instance.get_concurrency_config().run_queue_config.tag_concurrency_limits or []
    except Exception:  # another run coordinator, or no queue: nothing serializes the runs
        return False
    return any(lim.get("key") == PROJECT_TAG and lim.get("limit") == 1
               and isinstance(lim.get("value"), dict) and lim["value"].get("applyLimitPerUniqueValue")
               for lim in limits)


def _in_flight(instance: Any, p: Project) -> int:
    return instance.get_runs_count(RunsFilter(tags={PROJECT_TAG: p.prefix}, statuses=IN_FLIGHT))


def _shared_run(p: Project, sha: str) -> RunRequest:
    return RunRequest(run_key=f"{p.prefix}-shared-{sha[:16]}", asset_selection=p.stage_keys("shared"),
                      tags=_tags(p, "shared"))


def _tags(p: Project, stage: str) -> dict[str, str]:
    """The sensor's runs name their project and stage (`edit`: the shared stages and the affected artifacts
    in one run) and, under `ctx ui`, their owner (owners.py)."""
    return {**p.run_tags(stage), **owner_tags()}


def _provenance(instance: Any, store: OutputStore, p: Project, cursor: dict[str, Any],
                fresh: str = "manifest unchanged") -> tuple[dict[str, Any], list[RunRequest], str | None]:
    """Phase 3: once none of this project's artifact runs is in flight, provenance.json when an artifact was
    rebuilt after it or the manifest changed since (the `ctx status` rule)."""
    busy = _in_flight(instance, p)
    if busy:
        return cursor, [], f"waiting for {plural(busy, 'run')} of this project to finish before provenance"
    cursor = {**cursor, "provenance": False}
    try:
        seed = store.read_json(SEED_PATH)
    except OSError:
        return cursor, [], f"{fresh}; no seed in {store.out_dir} yet"
    status = provenance_status(seed, latest_artifact_metadata(instance, p), store.root, PROVENANCE_PATH)
    # The output stage also commits what earlier runs staged (a run clicked in the UI, say): until then the
    # bundle is the previous one.
    if status.status == FRESH and not staging.pending(store.root):
        return cursor, [], f"{fresh}; provenance is fresh"
    return cursor, [RunRequest(asset_selection=p.stage_keys("output"), tags=_tags(p, "output"))], None
