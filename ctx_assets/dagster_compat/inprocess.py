"""`execute_in_process` that hands a run's bulk events to the caller instead of keeping them.

Dagster's `execute_in_process` keeps every event of the run in its result: at 10,000 targets that
is 140,000 materializations and check evaluations (with their metadata) held until the run ends,
a third of the build's peak memory. This is the same sequence of Dagster calls
(`JobDefinition.execute_in_process` → `core_execute_in_process`, Dagster pinned exactly), except
that materializations and check evaluations go to `on_event` as they happen and only the other
events (run and step events, failures) stay in the result. tests/test_one_run_build.py and every
build test run through it. Replaced, with CTX_DAGSTER_PUBLIC_API=1, by `JobDefinition.execute_in_process`
(the events handed over when the run ends; +~30% peak memory at 10,000 targets, capture on).

Nor is the process's output captured: Dagster would point its stdout and stderr at per-run files for
the UI and start `tail -F` and a watcher interpreter per stream to copy them back to the terminal, for
every run. `ctx build`'s output already is the terminal's; the copy lost or delayed the progress
lines printed while a run was on. A run's record in the UI (its events, logs, gates) is unchanged.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from dagster import AssetKey, DagsterEventType, DagsterInstance, JobDefinition
from dagster._core.definitions.job_base import InMemoryJob
from dagster._core.definitions.partitions.context import partition_loading_context
from dagster._core.events import DagsterEvent
from dagster._core.execution.api import ExecuteRunWithPlanIterable, create_execution_plan, job_execution_iterator
from dagster._core.execution.context_creation_job import (
    PlanOrchestrationContextManager,
    orchestration_context_event_generator,
)
from dagster._core.execution.execute_in_process import merge_run_tags
from dagster._core.execution.execute_in_process_result import ExecuteInProcessResult
from dagster._core.storage.noop_compute_log_manager import NoOpComputeLogManager

from . import public_api_only

STREAMED = frozenset({DagsterEventType.ASSET_MATERIALIZATION.value, DagsterEventType.ASSET_CHECK_EVALUATION.value})


def execute_streaming(job_def: JobDefinition, instance: DagsterInstance, on_event: Callable[[DagsterEvent], None],
                      run_config: Mapping[str, Any] | None = None, tags: Mapping[str, str] | None = None,
                      partition_key: str | None = None,
                      asset_selection: Sequence[AssetKey] | None = None) -> ExecuteInProcessResult:
    if public_api_only():  # Dagster's own execute_in_process: every event kept until the run ends, output captured
        result = job_def.execute_in_process(instance=instance, run_config=dict(run_config or {}), tags=tags,
                                            partition_key=partition_key, asset_selection=list(asset_selection or []),
                                            raise_on_error=False)
        for event in result.all_events:
            if event.event_type_value in STREAMED:
                on_event(event)
        return result
    run_config = dict(run_config or {})
    selection = list(asset_selection or [])
    job = job_def.as_ephemeral_job(resource_defs={}, input_values={}, asset_selection=selection)
    if partition_key and job.partitions_def:
        with partition_loading_context(dynamic_partitions_store=instance) as ctx:
            job.validate_partition_key(partition_key=partition_key, selected_asset_keys=set(selection), context=ctx)
    if not run_config and job.partitioned_config and partition_key:
        run_config = dict(job.partitioned_config.get_run_config_for_partition_key(partition_key))
    run_tags = merge_run_tags(job_def=job_def, partition_key=partition_key, tags=tags,
                              asset_selection=selection, instance=instance, run_config=run_config)
    wrapped = InMemoryJob(job_def=job)
    plan = create_execution_plan(wrapped, run_config=run_config,
                                 instance_ref=instance.get_ref() if instance.is_persistent else None)
    run = instance.create_run_for_job(job_def=job, run_config=run_config, tags={**job.run_tags, **run_tags},
                                      asset_selection=frozenset(selection),
                                      execution_plan=plan)
    kept: list[DagsterEvent] = []
    events = ExecuteRunWithPlanIterable(
        execution_plan=plan, iterator=job_execution_iterator,
        execution_context_manager=PlanOrchestrationContextManager(
            context_event_generator=orchestration_context_event_generator, job=wrapped, execution_plan=plan,
            dagster_run=run, instance=instance, run_config=run_config, executor_defs=None, output_capture=None,
            raise_on_error=False))
    with uncaptured(instance):
        for event in events:
            if event.event_type_value in STREAMED:
                on_event(event)
            else:
                kept.append(event)
    return ExecuteInProcessResult(job_def=job, event_list=kept, dagster_run=instance.get_run_by_id(run.run_id),
                                  output_capture={})


@contextmanager
def uncaptured(instance: DagsterInstance) -> Iterator[None]:
    """The instance's compute log manager is a no-op for the runs started inside (module docstring)."""
    kept = instance.compute_log_manager
    instance._compute_log_manager = NoOpComputeLogManager()  # private: Dagster is pinned exactly
    try:
        yield
    finally:
        instance._compute_log_manager = kept
