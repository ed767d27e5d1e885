"""The orchestration floor: the same graph shape (assets, the artifacts multi-asset, check specs, jobs,
range runs, one materialization and one `artifact_gates` evaluation per artifact) with no-op bodies.

For information only: what Dagster's events cost at a size, so the benchmark can say
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

from ctx_assets.contracts.gates import GateName
from ctx_assets.core.artifact_types import TYPE_ORDER
from ctx_assets.dagster_compat.events import check_target
from ctx_assets.defs.artifacts import artifact_checks, artifact_specs
from ctx_assets.defs.gates import ARTIFACT_GATES_CHECK, EXPORT_GATES, MANIFEST_GATES, SEED_GATES, specs
from ctx_assets.defs.project import project_of
from ctx_assets.translator import ContextCoreTranslator


def _noop(gates: list[GateName]) -> MaterializeResult:
    return MaterializeResult(check_results=[AssetCheckResult(check_name=g.value, passed=True) for g in gates])


def floor_definitions(targets: list[str], manifest_path: str) -> Any:
    def factory() -> Definitions:
        p = project_of(manifest_path)

        @asset(key=p.key("manifest"), check_specs=specs(p.key("manifest"), MANIFEST_GATES))
        def manifest_asset():
            return _noop(MANIFEST_GATES)

        @asset(key=p.key("export"), deps=[p.key("manifest")], check_specs=specs(p.key("export"), EXPORT_GATES))
        def export_asset():
            return _noop(EXPORT_GATES)

        @asset(key=p.key("context_seed"), deps=[p.key("export")], check_specs=specs(p.key("context_seed"), SEED_GATES))
        def seed_asset(context):
            known = set(context.instance.get_dynamic_partitions(p.targets.name))
            context.instance.add_dynamic_partitions(p.targets.name, [t for t in targets if t not in known])
            return _noop(SEED_GATES)

        @multi_asset(name="artifacts", specs=artifact_specs(p, ContextCoreTranslator()), check_specs=artifact_checks(p),
                     can_subset=True, backfill_policy=BackfillPolicy.single_run())
        def artifacts(context):
            keys = [k for k in (p.key(t.value) for t in TYPE_ORDER) if k in context.selected_asset_keys]
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
                        target_materialization_data=check_target(ids[pk], context.run.run_id, 0.0))

        @asset(key=p.key("provenance"), deps=[p.key("context_seed"), *[p.key(t.value) for t in TYPE_ORDER]])
        def provenance_asset():
            return MaterializeResult()

        return Definitions(assets=[manifest_asset, export_asset, seed_asset, artifacts, provenance_asset],
                           executor=in_process_executor)

    return factory
