"""`ctx build` and `ctx status` on the embedded Dagster instance (SQLite in the project-local home).

A build is three runs, all in process and under one trace: the shared stages, the
artifacts of every selected target in as few range runs as cover them (per-target gate
results and blocking come from the asset body), and the output stage.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from dagster import AssetKey, DagsterInstance

from ctx_assets.contracts.gates import GateName
from ctx_assets.core.artifact_types import TYPE_ORDER
from ctx_assets.core.faults import (
    EnvironmentFault,
    describe_os_error,
    fault_in_error,
    instance_unusable,
    storage_error,
)
from ctx_assets.core.generators import registry
from ctx_assets.core.pipeline import PROVENANCE_PATH, export_and_plan
from ctx_assets.core.plan import SEED_PATH
from ctx_assets.core.status import FRESH, ArtifactStatus, artifact_status, provenance_status
from ctx_assets.core.validate import validate_file
from ctx_assets.dagster_compat import public_api_only
from ctx_assets.dagster_compat.inprocess import execute_streaming
from ctx_assets.resources.output_store import OutputStore
from ctx_assets.telemetry.build_trace import BuildTrace
from ctx_assets.telemetry.providers import configure_logging, project_home

from .gates import ARTIFACT_GATES_CHECK, NON_BLOCKING
from .owners import fail_orphaned_runs, owner_tags
from .partitions import artifact_runs, range_tags
from .progress import reporting
from .project import Project, project_of
from .state import latest_artifact_metadata

# Dagster's console logger prints a failed step as an ERROR block with a stack trace; ctx reports every
# failure itself in one line, so the console stays silent unless `ctx --debug`.
QUIET = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}
VERBOSE = {"loggers": {"console": {"config": {"log_level": "ERROR"}}}}
INSTANCE_MARKER = "# Written by ctx"
KEPT_SQLITE = """storage:
  custom:
    module: ctx_assets.storage
    class: KeptSqliteStorage
    config:
      base_dir: {home}
"""
STOCK_SQLITE = """storage:
  sqlite:
    base_dir: {home}
"""
DEFAULT_INSTANCE_YAML = INSTANCE_MARKER + """: embedded SQLite{kept} (ctx_assets.storage).
# Delete this file to get the current default back; see docs/scaling.md for Postgres.
{storage}# The runs the sensor launches under `ctx ui` queue: at most one per core at once.
run_queue:
  max_concurrent_runs: {cores}
telemetry:
  enabled: false
"""


def dagster_home() -> Path:
    home = Path(os.environ.get("DAGSTER_HOME") or project_home() / "dagster").resolve()
    home.mkdir(parents=True, exist_ok=True)
    cfg = home / "dagster.yaml"
    public = public_api_only()  # Dagster's own SQLite storage; else ours, kept connected
    storage = (STOCK_SQLITE if public else KEPT_SQLITE).format(home=home)
    wanted = DEFAULT_INSTANCE_YAML.format(kept="" if public else ", kept connected", storage=storage,
                                          cores=os.cpu_count() or 2)
    # A home ctx made keeps up with ctx's default (same files, same layout); a hand-written one is left alone.
    if not cfg.exists() or (cfg.read_text().startswith(INSTANCE_MARKER) and cfg.read_text() != wanted):
        tmp = cfg.with_suffix(f".tmp{os.getpid()}")
        tmp.write_text(wanted)
        tmp.replace(cfg)
    os.environ["DAGSTER_HOME"] = str(home)
    return home


def get_instance() -> DagsterInstance:
    """The embedded instance, after failing the unfinished runs of `ctx` processes that died. An instance
    that cannot be opened or read is an environment fault (one line, exit 3)."""
    configure_logging()
    try:
        home = dagster_home()
    except OSError as e:
        raise EnvironmentFault(f"Dagster home unusable: {describe_os_error(e)}") from e
    try:
        instance = DagsterInstance.from_config(str(home))
        fail_orphaned_runs(instance)
    except Exception as e:  # corrupt database, unreadable dagster.yaml, locked or full storage...
        reason = describe_os_error(e) if isinstance(e, OSError) else storage_error(e) or \
            (str(e).strip().splitlines() or [type(e).__name__])[0][:300]
        raise instance_unusable(home, reason) from e
    return instance


def _execute(job: Any, instance: DagsterInstance, debug: bool, summary: BuildSummary,
             tags: dict[str, str] | None = None, **kwargs: Any) -> Any:
    """One in-process run, owned by this process (owners.py), its materializations and check results
    collected into `summary` as they happen (not kept: inprocess.py). A run that an environment fault
    stopped (disk full, permission, read-only, storage) ends the build: EnvironmentFault, exit 3."""
    try:
        result = execute_streaming(job, instance, partial(_collect_event, summary=summary),
                                   run_config=VERBOSE if debug else QUIET,
                                   tags={**owner_tags(os.getpid()), **(tags or {})}, **kwargs)
    except Exception as e:  # Dagster writing its own records: a storage or OS error is the environment's
        reason = describe_os_error(e) if isinstance(e, OSError) else storage_error(e)
        if reason is None:
            raise
        raise instance_unusable(os.environ.get("DAGSTER_HOME"), reason) from e
    summary.run_ids.append(result.run_id)
    if not result.success:
        for ev in result.all_events:
            info = ev.event_specific_data.error if ev.event_type_value in ("STEP_FAILURE", "RUN_FAILURE") and \
                ev.event_specific_data is not None else None
            fault = fault_in_error(info)
            if fault:
                raise EnvironmentFault(f"{ev.step_key or job.name}: {fault}")
    return result


@dataclass
class BuildSummary:
    problems: list[Any] = field(default_factory=list)
    run_ids: list[str] = field(default_factory=list)
    trace_id: str | None = None
    materialized: list[str] = field(default_factory=list)
    artifacts: dict[str, dict[str, Any]] = field(default_factory=dict)
    gates: list[dict[str, Any]] = field(default_factory=list)
    blocked: list[dict[str, str]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def failed_gates(self) -> list[dict[str, Any]]:
        return [g for g in self.gates if g["result"] == "failed" and g["blocking"]]

    @property
    def ok(self) -> bool:
        return not self.problems and not self.failed_gates and not self.blocked and not self.errors


def _collect_event(event: Any, summary: BuildSummary) -> None:
    """A materialization or check evaluation of a run, into the build's summary."""
    if event.event_type_value == "ASSET_MATERIALIZATION":
        mat = event.event_specific_data.materialization
        meta = {k: getattr(v, "value", v) for k, v in mat.metadata.items()}
        if "artifact_id" in meta:
            summary.artifacts[meta["artifact_id"]] = {
                "id": meta["artifact_id"], "type": _type_of(mat.asset_key), "target": mat.partition,
                "path": meta["path"], "checksum": meta["checksum"], "status": "built"}
            summary.materialized.append(meta["artifact_id"])
        return
    ev = event.event_specific_data
    meta = {k: getattr(v, "value", v) for k, v in ev.metadata.items()}
    if ev.check_name == ARTIFACT_GATES_CHECK:
        _collect_artifact_gates(ev, meta, summary)
        return
    summary.gates.append({"name": ev.check_name, "asset": _type_of(ev.asset_key), "artifact_id": None,
                          "result": meta.get("gate.result", "passed" if ev.passed else "failed"),
                          "blocking": ev.severity.value == "ERROR", "violations": _violations(meta)})


def _type_of(key: AssetKey) -> str:
    return key.path[-1]


def _violations(meta: dict[str, Any]) -> list[dict[str, Any]]:
    n = int(meta.get("gate.violations", 0) or 0)
    return [{"field": meta.get(f"gate.violation.{i}.field"), "message": meta.get(f"gate.violation.{i}.message")}
            for i in range(min(n, 20))]


def _collect_artifact_gates(ev: Any, meta: dict[str, Any], summary: BuildSummary) -> None:
    """One `artifact_gates` evaluation → one summary entry per gate it carries."""
    aid, failed = meta.get("artifact_id"), set(filter(None, str(meta.get("gate.failed", "")).split(", ")))
    violations = _violations(meta)
    for k, v in meta.items():
        if not k.startswith("gate.") or k.count(".") != 1 or k in ("gate.result", "gate.failed", "gate.violations"):
            continue
        name = k.removeprefix("gate.")
        summary.gates.append({"name": name, "asset": _type_of(ev.asset_key), "artifact_id": aid, "result": v,
                              "blocking": GateName(name) not in NON_BLOCKING,
                              "violations": violations if name in failed or (not failed and v != "passed") else []})
    if failed and aid and aid not in summary.artifacts:
        summary.artifacts[aid] = {"id": aid, "type": _type_of(ev.asset_key), "target": ev.partition,
                                  "path": None, "checksum": None, "status": "failed"}


def run_build(manifest: str | Path, out: Path, targets: list[str] | None = None, stale_only: bool = False,
              progress: Callable[[str], None] = lambda s: None, debug: bool = False) -> BuildSummary:
    """`ctx build`: the manifest's own definitions (its bundle in `out`), run by `build_with`."""
    from ctx_assets.definitions import definitions_for, projects_for

    project = projects_for([Path(manifest)], bundle_dirs=[out])[0]
    return build_with(lambda: definitions_for([project]), project, manifest, out, targets, stale_only, progress,
                      debug)


def build_with(definitions: Callable[[], Any], project: Project, manifest: str | Path, out: Path,
               targets: list[str] | None = None, stale_only: bool = False,
               progress: Callable[[str], None] = lambda s: None, debug: bool = False) -> BuildSummary:
    """A build of `project` through `definitions()` (made once the manifest validated): the shared stages,
    the artifact runs, provenance. `debug` lets Dagster print its own step failures. Raises
    EnvironmentFault (exit 3)."""
    configure_logging()
    summary = BuildSummary()
    instance = get_instance()
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
        defs = definitions()
        progress("stage shared: manifest → export → context_seed")
        shared = _execute(defs.resolve_job_def(project.shared_job), instance, debug, summary)
        if not shared.success and not summary.failed_gates:
            summary.errors.append(f"shared stages failed: {_failure(shared)}")
        if not shared.success or summary.failed_gates:
            return summary
        selection: dict[str, list[str]] = {t: [x.value for x in TYPE_ORDER] for t in chosen}
        if stale_only:
            seed = OutputStore(manifest_path=str(manifest), out_dir=str(out)).read_json(SEED_PATH)  # just written
            stale = [s for s in statuses(seed["tasks"], out, latest_artifact_metadata(instance, project))
                     if s.status != FRESH]
            selection = {}
            for s in stale:
                if s.target in chosen:
                    selection.setdefault(s.target, []).append(s.artifact_type)
            if not selection:
                progress("every artifact is fresh; nothing to rebuild (--all rebuilds anyway)")
        if selection:
            with reporting(progress):
                _build_artifacts(defs, project, instance, selection, summary, progress, debug)
        progress("stage output: provenance")
        _execute(defs.resolve_job_def(project.output_job), instance, debug, summary)
        if not summary.ok:
            bt.failures.append(f"{len(summary.failed_gates)} gate(s) failed, {len(summary.blocked)} blocked")
    return summary


def _build_artifacts(defs: Any, p: Project, instance: DagsterInstance, selection: dict[str, list[str]],
                     summary: BuildSummary, progress: Callable[[str], None], debug: bool) -> None:
    job = defs.resolve_job_def(p.target_job)
    runs = artifact_runs(selection, list(instance.get_dynamic_partitions(p.targets.name)))
    for i, (types, targets) in enumerate(runs, 1):
        what = targets[0] if len(targets) == 1 else f"{len(targets)} targets ({targets[0]} … {targets[-1]})"
        progress(f"stage artisan: run {i}/{len(runs)}: {what}, {len(types)} type{'s' if len(types) != 1 else ''}")
        before = len(summary.materialized)
        result = _execute(job, instance, debug, summary, partition_key=targets[0] if len(targets) == 1 else None,
                          tags=range_tags(targets), asset_selection=[p.key(t) for t in types])
        for target in targets:
            for t in types:
                aid = f"{target}-{t.replace('_', '-')}"
                if aid not in summary.artifacts:
                    summary.blocked.append({"id": aid, "target": target, "type": t})
        if not result.success and not summary.failed_gates and len(summary.materialized) == before:
            summary.errors.append(f"artifact run failed: {_failure(result)}")
        progress(f"stage artisan: {len(summary.materialized) - before}/{len(types) * len(targets)} built")


def _failure(result: Any) -> str:
    """The first step failure of a run, as one line."""
    for ev in result.all_events:
        if ev.event_type_value == "STEP_FAILURE":
            err = ev.event_specific_data.error
            return f"{ev.step_key}: {err.message.strip().splitlines()[-1] if err else 'failed'}"
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


def compute_status(manifest: str | Path, out: Path, instance: DagsterInstance | None = None,
                   pre: Any = None) -> list[ArtifactStatus]:
    """`ctx status`: every artifact, then provenance.json."""
    pre = pre or export_and_plan(manifest, None, write=False)
    if pre.problems:
        raise ValueError("manifest invalid")
    recorded = latest_artifact_metadata(instance or get_instance(), project_of(manifest))
    return [*statuses(pre.seed["tasks"], out, recorded), provenance_status(pre.seed, recorded, out, PROVENANCE_PATH)]


def statuses(tasks: list[dict[str, Any]], out: Path,
             recorded: dict[tuple[str, str], dict[str, Any]]) -> list[ArtifactStatus]:
    """Each seed task's artifact: fresh, stale (why) or missing, against what the instance recorded."""
    reg = registry()
    return [artifact_status(t, reg[t["artifact_type"]].code_version, recorded.get((t["artifact_type"], t["target"])),
                            out) for t in tasks]
