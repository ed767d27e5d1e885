"""`ctx build`: the shared stages, the artifact runs, provenance, in process and under one trace.

A build is three kinds of run whatever the number of targets: the shared stages, the artifacts of
every selected target in as few range runs as cover them (per-target gate results and blocking
come from the asset body), and the output stage.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from dagster import DagsterInstance

from ctx_assets.contracts.gates import GateName
from ctx_assets.core import staging
from ctx_assets.core.afterwards import later
from ctx_assets.core.artifact_types import TYPE_ORDER
from ctx_assets.core.faults import (
    EnvironmentFault,
    OutDirError,
    describe_os_error,
    fault_in_error,
    instance_unusable,
    interrupted_in_error,
    storage_error,
)
from ctx_assets.core.fsio import OwnedByAnotherProject, UnsafePathError
from ctx_assets.core.plan import SEED_PATH
from ctx_assets.core.status import FRESH
from ctx_assets.core.validate import validate_file
from ctx_assets.dagster_compat.inprocess import execute_streaming
from ctx_assets.defs.owners import owner_tags
from ctx_assets.defs.partitions import artifact_runs, range_tags
from ctx_assets.defs.progress import reporting
from ctx_assets.defs.project import Project
from ctx_assets.defs.state import latest_artifact_metadata
from ctx_assets.resources.output_store import OutputStore
from ctx_assets.telemetry.build_trace import BuildTrace
from ctx_assets.telemetry.providers import configure_logging

from . import summary as collected
from .home import get_instance
from .status import statuses
from .summary import BuildSummary

# Dagster's console logger prints a failed step as an ERROR block with a stack trace; ctx reports every
# failure itself in one line, so the console stays silent unless `ctx --debug`.
QUIET = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}
VERBOSE = {"loggers": {"console": {"config": {"log_level": "ERROR"}}}}


def _execute(job: Any, instance: DagsterInstance, debug: bool, summary: BuildSummary,
             tags: dict[str, str] | None = None, **kwargs: Any) -> Any:
    """One in-process run, owned by this process (owners.py), its materializations and check results
    collected into `summary` as they happen (not kept: inprocess.py). A run that an environment fault
    stopped (disk full, permission, read-only, storage) ends the build: EnvironmentFault, exit 3."""
    try:
        result = execute_streaming(job, instance, partial(collected.collect_event, summary=summary),
                                   run_config=VERBOSE if debug else QUIET,
                                   tags={**owner_tags(os.getpid()), **(tags or {})}, **kwargs)
    except Exception as e:  # Dagster writing its own records: a storage or OS error is the environment's
        reason = describe_os_error(e) if isinstance(e, OSError) else storage_error(e)
        if reason is None:
            raise
        raise instance_unusable(os.environ.get("DAGSTER_HOME"), reason) from e
    summary.run_ids.append(result.run_id)
    if not result.success:
        failures = [(ev, ev.event_specific_data.error) for ev in result.all_events
                    if ev.event_type_value in ("STEP_FAILURE", "RUN_FAILURE") and ev.event_specific_data is not None]
        if any(interrupted_in_error(info) for _, info in failures):
            raise KeyboardInterrupt  # the build stops here, as a Ctrl-C between runs stops it (exit 130)
        for ev, info in failures:
            fault = fault_in_error(info)
            if fault:
                raise EnvironmentFault(f"{_stage_of(ev.step_key) or job.name}: {fault}")
    return result


def run_build(manifest: str | Path, out: Path, targets: list[str] | None = None, stale_only: bool = False,
              progress: Callable[[str], None] = lambda s: None, debug: bool = False) -> BuildSummary:
    """`ctx build`: the manifest's own definitions (its bundle in `out`), run by `build_with`."""
    from ctx_assets.definitions import definitions_for, projects_for

    project = projects_for([Path(manifest)], bundle_dirs=[out])[0]
    return build_with(lambda: definitions_for([project]), project, manifest, out, targets, stale_only, progress,
                      debug)


def build_with(definitions: Callable[[], Any], project: Project, manifest: str | Path, out: Path,
               targets: list[str] | None = None, stale_only: bool = False,
               progress: Callable[[str], None] = lambda s: None, debug: bool = False,
               instance: DagsterInstance | None = None) -> BuildSummary:
    """A build of `project` through `definitions()` (made once the manifest validated): the shared stages,
    the artifact runs, provenance. `debug` lets Dagster print its own step failures. Raises
    EnvironmentFault (exit 3).

    Every run writes into the output folder's staging; the provenance run commits it into the bundle, and
    so does the end of a build that stopped early without a fault (a gate blocked the shared stages).
    A build that faults discards it: the output folder is exactly the previous bundle (core/staging.py)."""
    configure_logging()
    summary = BuildSummary()
    instance = instance or get_instance()  # a FOLDER build opens it once for every project
    try:
        staging.recover(out)  # a commit a killed build began is finished; what a killed build staged goes
    except OSError as e:
        raise EnvironmentFault(f"output: {describe_os_error(e)}") from e
    try:
        _build(definitions, project, manifest, out, targets, stale_only, progress, debug, instance, summary)
    except BaseException:
        staging.discard(out)
        raise
    if summary.errors:  # a run failed for a reason that is not a gate: keep the previous bundle
        staging.discard(out)
        return summary
    try:
        staging.commit(out, project.id)
    except OSError as e:
        raise EnvironmentFault(f"output: {describe_os_error(e)}") from e
    except (UnsafePathError, OwnedByAnotherProject) as e:  # an unusable --out, as check_out_dir says: exit 2
        raise OutDirError(str(e)) from e
    return summary


def _build(definitions: Callable[[], Any], project: Project, manifest: str | Path, out: Path,
           targets: list[str] | None, stale_only: bool, progress: Callable[[str], None], debug: bool,
           instance: DagsterInstance, summary: BuildSummary) -> BuildSummary:
    # Validation only: export and plan run once, in the shared Dagster run below.
    loaded, model, problems = validate_file(manifest)
    all_targets = list(dict.fromkeys(t.name for t in model.spec.targets)) if model else []
    with BuildTrace(planned_artifacts=len(TYPE_ORDER) * len(targets or all_targets)) as bt:
        summary.trace_id = bt.trace_id
        if loaded is not None:  # baggage for every stage of every run of this build
            bt.set_manifest(loaded.checksum, model.project_id if model else None)
        if problems:
            summary.problems = problems
            _trace_invalid_manifest(bt, problems)
            return summary
        unknown = sorted(set(targets or []) - set(all_targets))
        if unknown:  # before any run: a typo must not write anything
            summary.errors.append(f"unknown target(s): {', '.join(unknown)}")
            bt.failures.append(summary.errors[-1])
            return summary
        chosen = all_targets if not targets else [t for t in all_targets if t in set(targets)]
        job = definitions().resolve_implicit_global_asset_job_def()  # runs are asset selections on it
        progress("stage shared: manifest → export → context_seed")
        shared = _execute(job, instance, debug, summary, tags=project.run_tags("shared"),
                          asset_selection=project.stage_keys("shared"))
        if not shared.success and not summary.failed_gates:
            summary.errors.append(f"shared stages failed: {_failure(shared)}")
        if not shared.success or summary.failed_gates:
            if summary.failed_gates and not summary.errors:
                _record_blocked(job, project, instance, chosen, summary, debug)
            return summary
        selection: dict[str, list[str]] = {t: [x.value for x in TYPE_ORDER] for t in chosen}
        seed = OutputStore(manifest_path=str(manifest), out_dir=str(out)).read_json(SEED_PATH)  # just written
        _remember_plan(loaded.checksum, out, summary, seed)
        if stale_only:
            stale = [s for s in statuses(seed["tasks"], out, latest_artifact_metadata(instance, project))
                     if s.status != FRESH]
            selection = {}
            for s in stale:
                if s.target in chosen:
                    selection.setdefault(s.target, []).append(s.artifact_type)
            if not selection:
                progress("every artifact is fresh; nothing to rebuild (--all rebuilds anyway)")
        bt.progress.plan(sum(len(types) for types in selection.values()))  # percent of what this build makes
        if selection:
            with reporting(progress):
                _build_artifacts(job, project, instance, selection, summary, progress, debug)
        progress("stage output: provenance")
        output = _execute(job, instance, debug, summary, tags=project.run_tags("output"),
                          asset_selection=project.stage_keys("output"))
        if not output.success:
            summary.errors.append(f"output stage failed: {_failure(output)}")
        if not summary.ok:
            bt.failures.append(f"{len(summary.failed_gates)} gate(s) failed, {len(summary.blocked)} blocked")
    return summary


def _remember_plan(source_checksum: str, out: Path, summary: BuildSummary, seed: dict[str, Any]) -> None:
    """The plan memo of `out` (core/plan_memo.py): the next `ctx status` or no-op `ctx build` of this
    manifest skips export and plan and reads what it needs from it."""
    from ctx_assets.core.fingerprints import code_versions
    from ctx_assets.core.plan_memo import write_memo
    from ctx_assets.defs.project import STAGES
    from ctx_assets.settings import settings

    shared = [g for g in summary.gates if g["asset"] in STAGES["shared"]]
    home, versions = settings().home, code_versions()
    later(lambda: write_memo(home, out, source_checksum, shared, seed, versions))  # after the answer, when warm


def _build_artifacts(job: Any, p: Project, instance: DagsterInstance, selection: dict[str, list[str]],
                     summary: BuildSummary, progress: Callable[[str], None], debug: bool) -> None:
    runs = artifact_runs(selection, list(instance.get_dynamic_partitions(p.targets.name)))
    for i, (types, targets) in enumerate(runs, 1):
        what = targets[0] if len(targets) == 1 else f"{len(targets)} targets ({targets[0]} … {targets[-1]})"
        progress(f"stage artisan: run {i}/{len(runs)}: {what}, {len(types)} type{'s' if len(types) != 1 else ''}")
        before = len(summary.materialized)
        result = _execute(job, instance, debug, summary, partition_key=targets[0] if len(targets) == 1 else None,
                          tags={**p.run_tags("artifacts"), **range_tags(targets)},
                          asset_selection=[p.key(t) for t in types])
        for target in targets:
            for t in types:
                aid = f"{target}-{t.replace('_', '-')}"
                if aid not in summary.artifacts:
                    summary.blocked.append({"id": aid, "target": target, "type": t})
        if not result.success and not summary.failed_gates and len(summary.materialized) == before:
            summary.errors.append(f"artifact run failed: {_failure(result)}")
        progress(f"stage artisan: {len(summary.materialized) - before}/{len(types) * len(targets)} built")


def _record_blocked(job: Any, p: Project, instance: DagsterInstance, targets: list[str], summary: BuildSummary,
                    debug: bool) -> None:
    """A gate blocked the shared stages: one artifact run over the targets, which builds nothing and records
    each artifact as a failed partition naming the gate (defs/artifacts.py), so the UI says what ctx says.
    Its events stay out of the summary (the gate is reported once, by the shared stages)."""
    order = list(instance.get_dynamic_partitions(p.targets.name))
    for types, chunk in artifact_runs({t: [x.value for x in TYPE_ORDER] for t in targets if t in order}, order):
        result = _execute(job, instance, debug, BuildSummary(), tags={**p.run_tags("artifacts"), **range_tags(chunk)},
                          partition_key=chunk[0] if len(chunk) == 1 else None,
                          asset_selection=[p.key(t) for t in types])
        summary.run_ids.append(result.run_id)


def _failure(result: Any) -> str:
    """The first step failure of a run, as one line."""
    for ev in result.all_events:
        if ev.event_type_value == "STEP_FAILURE":
            err = ev.event_specific_data.error
            return f"{_stage_of(ev.step_key)}: {err.message.strip().splitlines()[-1] if err else 'failed'}"
    return "run failed"


def _trace_invalid_manifest(bt: BuildTrace, problems: list[Any]) -> None:
    """A build that fails at the manifest stage still leaves its trace: the stage and its gate."""
    from opentelemetry.trace import Status, StatusCode

    from ctx_assets.contracts import semconv as sc
    from ctx_assets.contracts.gates import GateResult, Violation

    gate = GateResult.of(GateName.manifest_schema, [Violation(field=p.path or "(file)", message=str(p))
                                                     for p in problems])
    span = bt.telemetry.tracer.start_span("manifest", context=bt.context, attributes={
        sc.PIPELINE_STAGE_NAME: "manifest", sc.CICD_PIPELINE_TASK_NAME: "manifest", sc.TASK_STATUS: sc.STATUS_FAILED})
    from ctx_assets.telemetry.build_trace import gate_attributes

    span.add_event(sc.EVENT_GATE, gate_attributes(gate))
    span.set_status(Status(StatusCode.ERROR, "manifest invalid"))
    span.end()
    bt.failures.append(f"manifest invalid: {len(problems)} problem(s)")


def _stage_of(step_key: str | None) -> str | None:
    """A step's name without its project prefix (`online_boutique__artifacts` → `artifacts`): what ctx calls it."""
    return step_key.rsplit("__", 1)[-1] if step_key else None
