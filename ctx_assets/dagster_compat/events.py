"""Private names the artifact events use, with their public fallback (see __init__)."""

from __future__ import annotations

from typing import Any

from . import public_api_only

try:  # the tag names Dagster reads for data versions, code versions and partition ranges
    from dagster._core.definitions.data_version import CODE_VERSION_TAG, DATA_VERSION_TAG
    from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG
except ImportError:  # their values in every Dagster 1.x
    CODE_VERSION_TAG, DATA_VERSION_TAG = "dagster/code_version", "dagster/data_version"
    ASSET_PARTITION_RANGE_START_TAG = "dagster/asset_partition_range_start"
    ASSET_PARTITION_RANGE_END_TAG = "dagster/asset_partition_range_end"


def check_target(storage_id: int | None, run_id: str, timestamp: float) -> Any:
    """What an AssetCheckEvaluation points at: the materialization it checked (without it the UI shows
    no check status beside that partition). None in public-API mode or without a materialization."""
    if storage_id is None or public_api_only():
        return None
    from dagster._core.definitions.asset_checks.asset_check_evaluation import (
        AssetCheckEvaluationTargetMaterializationData,
    )

    return AssetCheckEvaluationTargetMaterializationData(storage_id=storage_id, run_id=run_id, timestamp=timestamp)


def record_failed_partitions(context: Any, pairs: list[tuple[Any, str]]) -> None:
    """Mark each (asset key, partition) as attempted by this run, so that once the run ends FAILURE the UI
    and GraphQL call the partition failed instead of missing: Dagster derives "failed" from a partition
    whose newest event is a planned materialization in a failed run. A range run records ONE planned event
    per asset (event_writes.py), which names no partition; this adds one per partition that failed or was
    blocked, and nothing for those that were built. Public-API mode: nothing (they show as missing)."""
    if not pairs or public_api_only():
        return
    import logging

    from dagster._core.events import AssetMaterializationPlannedData, DagsterEvent

    step_key = context.get_step_execution_context().step.key
    run_id, job_name = context.run.run_id, context.run.job_name
    for key, partition in pairs:
        event = DagsterEvent.build_asset_materialization_planned_event(
            job_name, step_key, AssetMaterializationPlannedData(key, partition=partition, partitions_subset=None))
        context.instance.report_dagster_event(event, run_id, logging.DEBUG)
