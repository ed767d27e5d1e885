"""The seven artifact types as one multi-asset over the `targets` partitions, built in one run.

One run covers a whole range of targets (`BackfillPolicy.single_run()`): the body walks the
selected types in dependency order for a chunk of targets at a time (the pure core's
`build_bundle`), writes what passed its gates, and records per target and type a
materialization and one `artifact_gates` check evaluation. Per-target blocking comes from the
body, not from Dagster's step-level blocking (which would stop every target of the range): a
target whose gate failed gets no materialization for it or its dependents, every other target
completes, and the step then fails naming the gate, so the UI shows those partitions as failed.
"""


from collections.abc import Iterator
from pathlib import Path
from typing import Any

from dagster import (
    AssetCheckEvaluation,
    AssetExecutionContext,
    AssetKey,
    AssetMaterialization,
    AssetSpec,
    BackfillPolicy,
    DagsterEventType,
    Failure,
    multi_asset,
)

from ctx_assets.contracts.gates import GateName
from ctx_assets.core import plan as plan_stage
from ctx_assets.core.artifact_types import TYPE_ORDER, TYPES
from ctx_assets.core.artisan import BLOCKED, BUILT, FAILED, ArtifactResult, build_bundle
from ctx_assets.core.checksums import sha256_hex
from ctx_assets.core.fingerprints import task_fingerprint
from ctx_assets.core.generators import registry
from ctx_assets.core.secrets import redact_text, scrub
from ctx_assets.core.status import inputs_text
from ctx_assets.core.text import plural
from ctx_assets.dagster_compat.event_writes import batched_writes
from ctx_assets.dagster_compat.events import (
    CODE_VERSION_TAG,
    DATA_VERSION_TAG,
    check_target,
    materialization_events,
    record_failed_partitions,
)
from ctx_assets.resources.output_store import OutputStore
from ctx_assets.resources.tracing import PipelineTracer
from ctx_assets.resources.validators import ExternalValidators
from ctx_assets.settings import settings
from ctx_assets.translator import ContextCoreTranslator, asset_attributes

from .gates import ARTIFACT_GATES, ARTIFACT_GATES_CHECK, EXTERNAL_TYPES, artifact_gates_metadata, artifact_gates_spec
from .progress import report
from .project import Project
from .resource_keys import TRACER_KEY, VALIDATORS_KEY, store_and_tracer


def _gates(name: str) -> list[GateName]:
    return ARTIFACT_GATES + ([GateName.external_validators] if name in EXTERNAL_TYPES else [])


def artifact_specs(p: Project, tr: ContextCoreTranslator) -> list[AssetSpec]:
    return [_spec(p, tr, t) for t in TYPE_ORDER]


def artifact_checks(p: Project) -> list[Any]:
    return [artifact_gates_spec(p.key(t.value), _gates(t.value), p.targets) for t in TYPE_ORDER]


def _spec(p: Project, tr: ContextCoreTranslator, t: Any) -> AssetSpec:
    info = TYPES[t]
    return AssetSpec(key=p.key(t.value), deps=[p.key("context_seed"), *[p.key(d.value) for d in info.depends_on]],
                     partitions_def=p.targets, skippable=True, code_version=registry()[t.value].code_version,
                     **asset_attributes(tr, p, t.value, f"{info.format} per target at {info.path}."))


def _seed_tasks(store: OutputStore) -> tuple[dict[tuple[str, str], dict[str, Any]], str]:
    seed = store.read_json(plan_stage.SEED_PATH)
    index = seed.get("_index")
    if index is None:  # built once per parsed seed (the parse itself is cached by file version)
        index = seed["_index"] = {(t["target"], t["artifact_type"]): t for t in seed["tasks"]}
    return index, seed["provenance"]["chain"][0]["checksum"]


def _materialization(key: AssetKey, r: ArtifactResult, task: dict[str, Any], source_checksum: str,
                     span_ids: dict[str, str]) -> AssetMaterialization:
    code_version = registry()[r.artifact_type].code_version
    return AssetMaterialization(
        asset_key=key, partition=r.target,
        tags={DATA_VERSION_TAG: r.checksum or "", CODE_VERSION_TAG: code_version},
        # Few, flat entries: each one is serialized several times per event by Dagster's storage.
        metadata={"artifact_id": r.artifact_id, "path": r.output_path, "checksum": r.checksum or "",
                  "lines": r.lines, "tokens": r.tokens, "fingerprint": task_fingerprint(task, code_version),
                  "inputs": inputs_text(task), "source_checksum": source_checksum, "code_version": code_version,
                  **span_ids})


def _evaluations(context: AssetExecutionContext, p: Project,
                 results: list[ArtifactResult]) -> Iterator[AssetCheckEvaluation]:
    """One `artifact_gates` evaluation per artifact that ran its gates, pointing at its materialization
    (without that pointer the UI shows no check status)."""
    by_type: dict[str, list[ArtifactResult]] = {}
    for r in results:
        if r.status in (BUILT, FAILED):
            by_type.setdefault(r.artifact_type, []).append(r)
        elif r.status == BLOCKED:  # its gates never ran: the evaluation names the gate upstream that stopped it
            yield AssetCheckEvaluation(asset_key=p.key(r.artifact_type), check_name=ARTIFACT_GATES_CHECK, passed=False,
                                       partition=r.target, blocking=True, description=f"blocked by {r.blocked_by}",
                                       metadata={"artifact_id": r.artifact_id, "gate.result": "blocked",
                                                 "blocked_by": r.blocked_by or ""})
    run_id = context.run.run_id
    for name, checked in by_type.items():
        key = p.key(name)
        ids = context.instance.get_latest_storage_id_by_partition(
            key, DagsterEventType.ASSET_MATERIALIZATION, partitions={r.target for r in checked})
        for r in checked:
            passed, meta = artifact_gates_metadata(r.gates)
            target = check_target(ids.get(r.target), run_id, r.started_ns / 1e9)
            yield AssetCheckEvaluation(asset_key=key, check_name=ARTIFACT_GATES_CHECK, passed=passed,
                                       partition=r.target, blocking=True, target_materialization_data=target,
                                       metadata={"artifact_id": r.artifact_id, **meta})


def shared_stages_block(store: OutputStore) -> tuple[str, dict[str, object]] | None:
    """Why no artifact can be built from the manifest as it is now: (one line naming the gates, check
    metadata with the violations), or None. Only when the seed on disk was not made from this manifest
    (export blocked, or never run): the seed's checksum is compared with the file's, then the pure
    stages say why."""
    from ctx_assets.core.pipeline import blocked_by, export_and_plan

    path = Path(store.manifest_path)
    try:
        seed_sum = store.read_json(plan_stage.SEED_PATH)["provenance"]["chain"][0]["checksum"]
    except (OSError, ValueError, KeyError, IndexError, TypeError):
        seed_sum = None
    try:
        if seed_sum == sha256_hex(path.read_bytes()):
            return None
    except OSError as e:
        return f"cannot read the manifest {path}: {e.strerror}", {"gate.result": "blocked"}
    run = export_and_plan(path, None, write=False)
    if run.problems:
        first = run.problems[0]
        return (f"the manifest is invalid ({len(run.problems)} problems; `ctx validate` lists them): {first}",
                {"gate.result": "blocked", "gate.failed": GateName.manifest_schema.value, "gate.violations": 1,
                 "gate.violation.0.field": first.path or "(file)", "gate.violation.0.message": first.message})
    failed = [g for g in run.gates if g.blocks]
    if not failed:
        return None  # the seed is just older than the manifest: build from it, as before
    _, meta = artifact_gates_metadata(failed)
    short, why = blocked_by(failed)
    return f"blocked by {why}", {**meta, "gate.result": "blocked", "blocked_by": short}


def artifacts_asset(p: Project, tr: ContextCoreTranslator) -> Any:
    @multi_asset(name=f"{p.prefix}__artifacts", specs=artifact_specs(p, tr), check_specs=artifact_checks(p),
                 can_subset=True, backfill_policy=BackfillPolicy.single_run(),
                 required_resource_keys={p.store_key, TRACER_KEY, VALIDATORS_KEY})
    def _artifacts(context: AssetExecutionContext) -> Iterator[Any]:
        store, tracer = store_and_tracer(context, p)
        with store.writing():  # a fault here (disk full, permission) keeps the staging from being committed
            yield from _build(context, p, store, getattr(context.resources, VALIDATORS_KEY), tracer)

    return _artifacts


def _build(context: AssetExecutionContext, p: Project, store: OutputStore, validators: ExternalValidators,
           tracer: PipelineTracer) -> Iterator[Any]:
    selected = set(context.selected_asset_keys)
    types = [t.value for t in TYPE_ORDER if p.key(t.value) in selected]
    targets = list(context.partition_keys)
    tracer.plan_artifacts(len(targets) * len(types))
    blocked = shared_stages_block(store)
    if blocked is not None:  # every selected partition failed, each naming the gate (docs/architecture.md)
        why, meta = redact_text(blocked[0]), scrub(blocked[1])
        record_failed_partitions(context, [(p.key(t), target) for target in targets for t in types])
        tracer.blocked_artifacts(context, [(target, t) for target in targets for t in types],
                                 str(meta.get("blocked_by") or why))
        for target in targets:
            for t in types:
                yield AssetCheckEvaluation(asset_key=p.key(t), check_name=ARTIFACT_GATES_CHECK, passed=False,
                                           partition=target, blocking=True, description=why,
                                           metadata={"artifact_id": f"{target}-{t.replace('_', '-')}", **meta})
        raise Failure(f"{plural(len(targets) * len(types), 'artifact')} not built: {why}", allow_retries=False)
    index, source_checksum = _seed_tasks(store)
    unknown = [t for t in targets if (t, types[0]) not in index] if types else []
    if unknown:
        raise Failure(f"target(s) not in the current seed: {', '.join(unknown[:5])}; "
                      "re-materialize context_seed", allow_retries=False)
    failures: list[str] = []
    chunk = settings().chunk_targets  # targets generated, written and recorded per batch: bounds memory
    for start in range(0, len(targets), chunk):
        tasks = [index[(target, t)] for target in targets[start:start + chunk] for t in types]
        results = build_bundle(tasks, source_checksum, validate_batch=validators.validate)
        for r in results:  # written before anything is recorded: a recorded artifact is on disk
            if r.status == BUILT:
                store.write(r.output_path, r.content or b"", r.checksum)
        span_ids = tracer.artifacts(context, results, source_checksum, key_of=p.key, tasks=index)
        # a chunk's events are written together; the evaluations point at materializations already written
        mats = [_materialization(p.key(r.artifact_type), r, index[(r.target, r.artifact_type)], source_checksum,
                                 span_ids.get(r.artifact_id, {})) for r in results if r.status == BUILT]
        failures += [f"{r.failed_gate.gate.value if r.failed_gate else 'error'} failed on {r.artifact_id}"
                     for r in results if r.status == FAILED]
        with batched_writes(context.instance):
            yield from materialization_events(context, mats)
        # failed and blocked artifacts are failed partitions, not missing ones, once the run fails
        record_failed_partitions(context, [(p.key(r.artifact_type), r.target) for r in results
                                           if r.status in (FAILED, BLOCKED)])
        with batched_writes(context.instance):
            yield from _evaluations(context, p, results)
        done = f"{min(start + chunk, len(targets))}/{len(targets)} targets"
        context.log.info(f"artifacts: {done}")
        if len(targets) > chunk:
            report(f"stage artisan: {done}")
    if failures:  # after every event is stored: the other targets are complete, these show failed
        raise Failure(f"{len(failures)} artifact(s) failed a blocking gate: {'; '.join(failures[:10])}",
                      allow_retries=False)
