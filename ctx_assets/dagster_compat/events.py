"""Private names the artifact events use, with their public fallback (see __init__)."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from typing import Any

from . import public_api_only

# Dagster's own switch for writing a batch of events together (DagsterInstance.handle_new_event): events
# that carry batch metadata are held until the batch ends, then go to the storage's store_event_batch.
EVENT_BATCH_SIZE_ENV = "DAGSTER_EVENT_BATCH_SIZE"
# ctx's runs set it unless the environment does: larger than a chunk's materializations of one asset
# (CTX_CHUNK_TARGETS, 250), so each asset's chunk is one batch.
EVENT_BATCH_SIZE = 1000

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


# Dagster's own switch for one planned event per asset of a run over a partition range (stock storages
# write one per partition: 7,000 single writes at 1,000 targets). Dagster's caveat, that a failed run's
# partitions then show as missing, is met by record_failed_partitions below.
PLANNED_SUBSET_ENV = "DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS"


def batch_events_by_default() -> None:
    """Turn Dagster's event batching and range-planned events on for this process and the processes it
    starts, unless the environment already says (a user's `DAGSTER_EVENT_BATCH_SIZE=0` stays off)."""
    os.environ.setdefault(EVENT_BATCH_SIZE_ENV, str(EVENT_BATCH_SIZE))
    os.environ.setdefault(PLANNED_SUBSET_ENV, "1")


def materialization_events(context: Any, materializations: Sequence[Any]) -> Iterator[Any]:
    """What the artifact body yields for a chunk's materializations: the same events, each asset's
    written as one Dagster event batch.

    Dagster attaches batch metadata only to the partitions of one returned output; materializations a
    body yields get none, so each is written alone: on dagster-postgres's stock storage three new
    connections each (insert, tags table check, asset row). With the metadata, and
    DAGSTER_EVENT_BATCH_SIZE set, Dagster hands the whole group to store_event_batch, which
    dagster-postgres writes in one insert and one asset-row transaction. One asset per batch because
    that path updates the asset's row from the batch's last event only. Stock SQLite's
    store_event_batch writes event by event (nothing gained, nothing lost); ctx's kept storages batch
    either way. Public-API mode: the plain events."""
    if public_api_only():
        yield from materializations
        return
    from dagster._core.events import DagsterEvent, DagsterEventBatchMetadata, generate_event_batch_id

    step = context.get_step_execution_context()
    groups: dict[Any, list[Any]] = {}
    for m in materializations:
        groups.setdefault(m.asset_key, []).append(m)
    for group in groups.values():
        batch_id = generate_event_batch_id()
        for i, m in enumerate(group):
            # logged (and, at the batch's end, stored) here; yielded on so the run's event stream has it
            yield DagsterEvent.asset_materialization(step, m, DagsterEventBatchMetadata(batch_id, i == len(group) - 1))


def record_failed_partitions(context: Any, pairs: list[tuple[Any, str]]) -> None:
    """Mark each (asset key, partition) as attempted by this run, so that once the run ends FAILURE the UI
    and GraphQL call the partition failed instead of missing: Dagster derives "failed" from a partition
    whose newest event is a planned materialization in a failed run. A range run records ONE planned event
    per asset (event_writes.py), which names no partition; this adds one per partition that failed or was
    blocked, and nothing for those that were built. Public-API mode: nothing (they show as missing).

    A storage without partition subsets in planned events (Dagster's stock SQLite and PostgreSQL unless
    PLANNED_SUBSET_ENV is set in the process that created the run, as ctx sets it in its own) has already
    written one planned event per partition when the run started: nothing to add there."""
    if not pairs or public_api_only():
        return
    if not context.instance.event_log_storage.supports_partition_subset_in_asset_materialization_planned_events:
        return
    import logging

    from dagster._core.events import AssetMaterializationPlannedData, DagsterEvent

    step_key = context.get_step_execution_context().step.key
    run_id, job_name = context.run.run_id, context.run.job_name
    for key, partition in pairs:
        event = DagsterEvent.build_asset_materialization_planned_event(
            job_name, step_key, AssetMaterializationPlannedData(key, partition=partition, partitions_subset=None))
        context.instance.report_dagster_event(event, run_id, logging.DEBUG)
