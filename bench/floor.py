"""The orchestration floor: the same graph shape (assets, the artifacts multi-asset, check specs, jobs,
range runs, one materialization and one `artifact_gates` evaluation per artifact) with no-op bodies.

For information only (SPEC §9): what Dagster's events cost at a size, so the benchmark can say
how much of a full build is orchestration and how much is our own work.
"""

from __future__ import annotations

from typing import Any

from dagster import (
    AssetCheckEvaluation,
    AssetCheckResult,
    AssetMaterialization,
    BackfillPolicy,
    DagsterEventType,
    Definitions,
    MaterializeResult,
    asset,
    in_process_executor,
    multi_asset,
)
from dagster._core.definitions.asset_checks.asset_check_evaluation import (
    AssetCheckEvaluationTargetMaterializationData,
)

from contracts.gates import GateName
from ctx_assets.core.artifact_types import TYPE_ORDER
from ctx_assets.defs.artifacts import _gates, _spec, artifact_key
from ctx_assets.defs.gates import (
    ARTIFACT_GATES_CHECK,
    EXPORT_GATES,
    MANIFEST_GATES,
    SEED_GATES,
    artifact_gates_spec,
    specs,
)
from ctx_assets.defs.jobs import JOBS
from ctx_assets.defs.partitions import TARGETS


def _noop(gates: list[GateName]) -> MaterializeResult:
    return MaterializeResult(check_results=[AssetCheckResult(check_name=g.value, passed=True) for g in gates])


def floor_definitions(targets: list[str]) -> Any:
    def factory(manifest_path: str, out_dir: str, tracing: bool = True) -> Definitions:
        @asset(key="manifest", check_specs=specs("manifest", MANIFEST_GATES))
        def manifest_asset():
            return _noop(MANIFEST_GATES)

        @asset(key="export", deps=["manifest"], check_specs=specs("export", EXPORT_GATES))
        def export_asset():
            return _noop(EXPORT_GATES)

        @asset(key="context_seed", deps=["export"], check_specs=specs("context_seed", SEED_GATES))
        def seed_asset(context):
            known = set(context.instance.get_dynamic_partitions(TARGETS.name))
            context.instance.add_dynamic_partitions(TARGETS.name, [t for t in targets if t not in known])
            return _noop(SEED_GATES)

        @multi_asset(name="artifacts", specs=[_spec(t) for t in TYPE_ORDER],
                     check_specs=[artifact_gates_spec(artifact_key(t.value), _gates(t.value), TARGETS)
                                  for t in TYPE_ORDER],
                     can_subset=True, backfill_policy=BackfillPolicy.single_run())
        def artifacts(context):
            keys = [k for k in (artifact_key(t.value) for t in TYPE_ORDER) if k in context.selected_asset_keys]
            for key in keys:
                for pk in context.partition_keys:
                    yield AssetMaterialization(asset_key=key, partition=pk, metadata={
                        "artifact_id": f"{pk}-{key.path[-1]}", "path": "x", "checksum": "x"})
                ids = context.instance.get_latest_storage_id_by_partition(
                    key, DagsterEventType.ASSET_MATERIALIZATION, partitions=set(context.partition_keys))
                for pk in context.partition_keys:
                    yield AssetCheckEvaluation(
                        asset_key=key, check_name=ARTIFACT_GATES_CHECK, passed=True, partition=pk, blocking=True,
                        metadata={"gate.result": "passed"},
                        target_materialization_data=AssetCheckEvaluationTargetMaterializationData(
                            storage_id=ids[pk], run_id=context.run.run_id, timestamp=0.0))

        @asset(key="provenance", deps=["context_seed", *[artifact_key(t.value) for t in TYPE_ORDER]])
        def provenance_asset():
            return MaterializeResult()

        return Definitions(assets=[manifest_asset, export_asset, seed_asset, artifacts, provenance_asset], jobs=JOBS,
                           executor=in_process_executor)

    return factory
