"""The Dagster asset graph on a temporary instance: builds, gates, staleness, the manifest sensor."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import yaml
from dagster import DagsterInstance, DagsterRunStatus, build_sensor_context

from ctx_assets.build import BuildSummary, compute_status, get_instance, run_build
from ctx_assets.core.artifact_types import TYPE_ORDER
from ctx_assets.dagster_compat.events import ASSET_PARTITION_RANGE_END_TAG as RANGE_END
from ctx_assets.dagster_compat.events import ASSET_PARTITION_RANGE_START_TAG as RANGE_START
from ctx_assets.defs.project import PROJECT_TAG, STAGE_TAG, project_of

from .conftest import EXAMPLE, registry_breaking_prometheus_rule
from .dagster_env import Snapshot, disk_full_at, edit, isolate, project_defs, settle, small_manifest

ALL_TYPES = sorted(t.value for t in TYPE_ORDER)


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> tuple[Snapshot, BuildSummary]:
    """One build of a 3-target manifest on an isolated home, for every test of the module that needs one."""
    work = tmp_path_factory.mktemp("graph") / "work"
    work.mkdir()
    with pytest.MonkeyPatch.context() as mp:
        isolate(mp, work)
        summary = run_build(small_manifest(work), work / "out")
    assert summary.ok, (summary.failed_gates, summary.blocked, summary.errors)
    return Snapshot(work), summary


@pytest.fixture
def env(built, monkeypatch) -> tuple[Path, Path, BuildSummary]:
    """The built manifest, bundle and home, as the build left them (put back before each test)."""
    snapshot, summary = built
    work = snapshot.restore()
    isolate(monkeypatch, work)
    return work / "m.contextcore.yaml", work / "out", summary


def test_full_materialization(env):
    manifest, out, s = env
    assert len(s.materialized) == 21 and len(s.artifacts) == 21
    for a in s.artifacts.values():
        assert (out / a["path"]).exists()
    for rel in ("export/artifact-manifest.yaml", "export/onboarding-metadata.json",
                "export/artisan-context-seed.json", "export/provenance.json"):
        assert (out / rel).exists(), rel
    prov = json.loads((out / "export/provenance.json").read_text())
    assert prov["trace_id"] == s.trace_id and len(prov["artifacts"]) == 21
    names = {g["name"] for g in s.gates}
    assert {"manifest_schema", "field_preservation", "export_integrity", "seed_completeness", "size_estimate",
            "output_contract", "artifact_schema", "secret_scan", "external_validators", "design_calibration"} <= names
    per_target = {g["artifact_id"] for g in s.gates if g["artifact_id"]}
    assert "svc-0001-dashboard" in per_target  # gate results are per target
    instance = get_instance()
    targets = instance.get_dynamic_partitions(project_of(EXAMPLE).targets.name)
    assert sorted(targets) == ["svc-0000", "svc-0001", "svc-0002"]
    assert all(r.status == "fresh" for r in compute_status(manifest, out, instance))


def _sensor(manifest: Path, out: Path, cursor: str | None = None):
    ctx = build_sensor_context(instance=get_instance(), cursor=cursor)
    p, defs = project_defs(manifest, out)
    return defs.get_sensor_def(f"{p.prefix}__manifest_sensor")(ctx), ctx


def _stages(result) -> list[str]:
    """The stage of each run a sensor result requests (its `ctx/stage` tag)."""
    return [r.tags[STAGE_TAG] for r in getattr(result, "run_requests", None) or []]


def _requests(result) -> dict[str, list[str]]:
    """{target: types} over every run request, a range request expanded along the partition order."""
    order = get_instance().get_dynamic_partitions(project_of(EXAMPLE).targets.name)
    out = {}
    for r in result.run_requests:
        if r.tags[STAGE_TAG] == "output":  # provenance, queued behind the artifact runs
            continue
        start, end = r.tags.get(RANGE_START), r.tags.get(RANGE_END)
        targets = order[order.index(start):order.index(end) + 1] if start else [r.partition_key]
        for t in targets:
            out[t] = sorted(k.path[-1] for k in r.asset_selection)
    return out


def _run_shared(manifest: Path, out: Path) -> None:
    p, defs = project_defs(manifest, out)
    job = defs.resolve_implicit_global_asset_job_def()
    assert job.execute_in_process(instance=get_instance(), asset_selection=p.stage_keys("shared"),
                                  raise_on_error=False).success


def test_sensor_one_target_edit_is_one_run_and_provenance_in_one_tick(env):
    manifest, out, built = env
    result, ctx = _sensor(manifest, out)
    assert not getattr(result, "run_requests", None)  # nothing changed since the build
    per_target = {a["path"]: (out / a["path"]).stat().st_mtime_ns for a in built.artifacts.values()}  # 7 a target
    edit(manifest, lambda d: d["spec"]["targets"][1].update(namespace="moved"))
    result, ctx = _sensor(manifest, out, ctx.cursor)
    # one tick: the shared stages and the edited target's seven artifacts in ONE run, then provenance,
    # which ctx's run queue starts once that run is over (one run per project at a time, in order)
    assert _stages(result) == ["edit", "output"]
    assert _requests(result) == {"svc-0001": sorted(["context_seed", "export", "manifest", *ALL_TYPES])}
    for request in result.run_requests:
        _run_request(manifest, out, request)
    rewritten = {f for f, t in per_target.items() if (out / f).stat().st_mtime_ns != t}
    assert rewritten == {f for f in per_target if "svc-0001" in f} and len(rewritten) == 7
    assert all(s.status == "fresh" for s in compute_status(manifest, out))
    again, _ = _sensor(manifest, out, ctx.cursor)  # the cursor survives: nothing is asked for again
    assert not getattr(again, "run_requests", None) and again.skip_message == f"{manifest}: manifest unchanged"


def test_sensor_waits_for_the_projects_runs_before_planning_an_edit(env):
    from dagster import DagsterRun

    manifest, out, _ = env
    _, ctx = _sensor(manifest, out)
    busy = get_instance().add_run(DagsterRun(job_name="__ASSET_JOB", run_id="2" * 32, status=DagsterRunStatus.STARTED,
                                             tags=project_of(manifest).run_tags("edit")))
    edit(manifest, lambda d: d["spec"]["targets"][1].update(namespace="moved"))
    result, ctx = _sensor(manifest, out, ctx.cursor)
    assert result.skip_message == f"{manifest}: manifest edited; waiting for 1 run of this project to finish"
    get_instance().report_run_failed(busy)
    result, _ = _sensor(manifest, out, ctx.cursor)
    assert _stages(result) == ["edit", "output"]


def test_sensor_burst_of_saves_builds_once_the_last(env):
    manifest, out, _ = env
    _, ctx = _sensor(manifest, out)
    for ns in ("first", "second", "third"):  # saved within the debounce of each other
        data = yaml.safe_load(manifest.read_text())
        data["spec"]["targets"][1]["namespace"] = ns
        manifest.write_text(yaml.safe_dump(data, sort_keys=False))
        result, ctx = _sensor(manifest, out, ctx.cursor)
        assert not getattr(result, "run_requests", None) and "waiting 2s for edits to settle" in result.skip_message
    settle(manifest)
    result, ctx = _sensor(manifest, out, ctx.cursor)
    assert _stages(result) == ["edit", "output"]
    for request in result.run_requests:
        _run_request(manifest, out, request)
    assert "namespace: third" in (out / "k8s/observability/svc-0001-service-monitor.yaml").read_text()
    again, _ = _sensor(manifest, out, ctx.cursor)
    assert not getattr(again, "run_requests", None)


def test_serialized_reads_the_run_queue_of_the_instance(env, tmp_path):
    from ctx_assets.defs.sensors import serialized

    assert serialized(get_instance())  # ctx's home: one run per project at a time
    stock = tmp_path / "stock"
    stock.mkdir()
    (stock / "dagster.yaml").write_text("run_queue:\n  max_concurrent_runs: 2\n")
    assert not serialized(DagsterInstance.from_config(str(stock)))


def test_sensor_question_edit_requests_only_dashboards(env):
    manifest, out, _ = env
    _, ctx = _sensor(manifest, out)
    edit(manifest, lambda d: d["guidance"]["questions"][0].update(question="Which dashboard panels matter most?"))
    _run_shared(manifest, out)
    result, _ = _sensor(manifest, out, ctx.cursor)
    assert _requests(result) == {t: ["dashboard"] for t in ("svc-0000", "svc-0001", "svc-0002")}
    assert _stages(result) == ["artifacts", "output"]  # one set of types over a contiguous range: one run


def test_sensor_adds_a_new_target(env):
    manifest, out, _ = env
    _, ctx = _sensor(manifest, out)
    edit(manifest, lambda d: d["spec"]["targets"].append({"kind": "Deployment", "name": "newcomer",
                                                           "namespace": "x"}))
    result, ctx = _sensor(manifest, out, ctx.cursor)
    assert _stages(result) == ["shared"]
    _run_shared(manifest, out)
    assert "newcomer" in get_instance().get_dynamic_partitions(project_of(EXAMPLE).targets.name)
    result, _ = _sensor(manifest, out, ctx.cursor)
    assert _requests(result) == {"newcomer": ALL_TYPES}


def test_sensor_removes_a_target_partition(env):
    manifest, out, _ = env
    edit(manifest, lambda d: d["spec"]["targets"].pop())
    _run_shared(manifest, out)
    assert "svc-0002" not in get_instance().get_dynamic_partitions(project_of(EXAMPLE).targets.name)
    assert (out / "runbooks/svc-0002-runbook.md").exists()  # files of a removed target are kept (documented)


def test_sensor_debounces_and_reports_broken_manifest(env):
    manifest, out, _ = env
    _, ctx = _sensor(manifest, out)
    manifest.write_text(manifest.read_text() + "\n# touched\n")  # mtime = now
    result, _ = _sensor(manifest, out, ctx.cursor)
    assert "waiting" in result.skip_message
    manifest.write_text("spec: [unclosed\n")
    settle(manifest)
    result, ctx2 = _sensor(manifest, out, ctx.cursor)
    assert "manifest invalid" in result.skip_message and "invalid YAML" in result.skip_message
    result, _ = _sensor(manifest, out, ctx2.cursor)  # no crash loop: reported once, then waits
    assert result.skip_message == f"{manifest}: manifest unchanged"


def test_a_tick_that_builds_nothing_says_why_naming_the_manifest_and_the_gate(env):
    """What the UI's tick history shows for a tick without runs (the daemon records the sensor's skip
    reason): an unchanged, a blocked and a broken manifest, each named, the blocked one with its gate."""
    manifest, out, _ = env
    _, ctx = _sensor(manifest, out)  # the first tick meets the manifest (its cursor was empty)
    result, ctx = _sensor(manifest, out, ctx.cursor)
    assert not getattr(result, "run_requests", None) and result.skip_message == f"{manifest}: manifest unchanged"
    secret = "AKIAIOSFODNN7EXAMPLQ"  # a fake AWS access key id (tests/secret_corpus.py's form)
    edit(manifest, lambda d: d["spec"].setdefault("risks", []).append(
        {"type": "security", "description": "leaked keys", "priority": "P1", "mitigation": f"rotate {secret}"}))
    result, ctx = _sensor(manifest, out, ctx.cursor)
    assert not getattr(result, "run_requests", None)
    assert result.skip_message.startswith(f"{manifest}: not building: blocked by secret_scan on export: spec.risks[")
    assert "looks like a credential" in result.skip_message and secret not in result.skip_message
    result, ctx = _sensor(manifest, out, ctx.cursor)  # reported once; then it waits for the next edit
    assert result.skip_message == f"{manifest}: manifest unchanged"
    manifest.write_text("spec: [unclosed\n")
    settle(manifest)
    result, _ = _sensor(manifest, out, ctx.cursor)
    assert result.skip_message.startswith(f"{manifest}: manifest invalid (1 problems), not building: ")


def test_stale_only_rebuilds_exactly_the_stale_set(env):
    manifest, out, _ = env
    edit(manifest, lambda d: d["spec"]["targets"][2].update(kind="StatefulSet"))
    (out / "slo/svc-0000-slo.yaml").write_text("edited by hand\n")
    (out / "runbooks/svc-0001-runbook.md").unlink()
    status = {s.artifact_id: s for s in compute_status(manifest, out)}
    stale = {k for k, s in status.items() if s.status != "fresh"}
    assert status["svc-0000-slo-definition"].cause.startswith("file on disk differs")
    assert status["svc-0001-runbook"].status == "missing"
    assert "parameters.kind" in status["svc-0002-runbook"].cause
    assert stale == {f"svc-0002-{t.replace('_', '-')}" for t in ALL_TYPES} | {"svc-0000-slo-definition",
                                                                              "svc-0001-runbook", "provenance"}
    assert status["provenance"].cause == "the manifest changed since it was written"
    s = run_build(manifest, out, stale_only=True)
    assert s.ok and set(s.materialized) == stale - {"provenance"}
    assert all(r.status == "fresh" for r in compute_status(manifest, out))


def test_blocking_gate_stops_only_that_targets_dependents(monkeypatch, tmp_path):
    isolate(monkeypatch, tmp_path)
    manifest = small_manifest(tmp_path)
    out = tmp_path / "out"
    broken = registry_breaking_prometheus_rule("svc-0001")
    monkeypatch.setattr("ctx_assets.core.artisan.registry", lambda: broken)
    s = run_build(manifest, out)
    assert not s.ok
    assert [(g["name"], g["artifact_id"]) for g in s.failed_gates] == [("artifact_schema", "svc-0001-prometheus-rule")]
    assert sorted(b["id"] for b in s.blocked) == ["svc-0001-dashboard", "svc-0001-notification-policy",
                                                  "svc-0001-runbook"]
    assert {a for a in s.materialized if a.startswith("svc-0001")} == {
        "svc-0001-service-monitor", "svc-0001-slo-definition", "svc-0001-loki-rule"}
    assert sum(1 for a in s.materialized if not a.startswith("svc-0001")) == 14
    assert not (out / "prometheus/rules/svc-0001-prometheus-rules.yaml").exists()  # never half-written


def test_instance_is_sqlite_in_project_home(env):
    manifest, _, _ = env
    home = Path(os.environ["DAGSTER_HOME"])
    assert home == (manifest.parent / ".ctx" / "dagster").resolve()
    assert (home / "dagster.yaml").exists()
    assert isinstance(get_instance(), DagsterInstance)
    assert "sqlite" in type(get_instance().run_storage).__name__.lower()


def _run_request(manifest: Path, out: Path, request) -> None:
    """What the daemon does with a run request."""
    job = project_defs(manifest, out)[1].resolve_implicit_global_asset_job_def()
    assert job.execute_in_process(instance=get_instance(), partition_key=request.partition_key, tags=request.tags,
                                  asset_selection=request.asset_selection, raise_on_error=False).success


def test_sensor_requests_provenance_after_the_artifact_runs_and_status_covers_it(env, monkeypatch):
    from dagster import DagsterRun

    # an instance whose queue does not keep a project's runs in order (a user's): provenance waits
    monkeypatch.setattr("ctx_assets.defs.sensors.serialized", lambda instance: False)
    manifest, out, _ = env
    _, ctx = _sensor(manifest, out)
    edit(manifest, lambda d: d["spec"]["targets"][1].update(namespace="moved"))
    result, ctx = _sensor(manifest, out, ctx.cursor)
    (cursor,) = json.loads(ctx.cursor)["projects"].values()
    assert set(cursor) == {"sha", "pending", "provenance"}  # no fingerprints: small at any size
    (request,) = result.run_requests  # the edit's one run; provenance is not queued behind it
    status = {s.artifact_id: s for s in compute_status(manifest, out)}["provenance"]
    assert (status.status, status.cause) == ("stale", "the manifest changed since it was written")
    _run_request(manifest, out, request)
    status = {s.artifact_id: s for s in compute_status(manifest, out)}["provenance"]
    assert status.status == "stale" and status.cause.startswith("artifacts rebuilt after it: svc-0001-")

    instance = get_instance()
    instance.add_run(DagsterRun(job_name="__ASSET_JOB", run_id="1" * 32,  # another manifest's: not waited for
                                tags={PROJECT_TAG: "other", STAGE_TAG: "artifacts"}, status=DagsterRunStatus.STARTED))
    busy = instance.add_run(DagsterRun(job_name="__ASSET_JOB", run_id="0" * 32, status=DagsterRunStatus.STARTED,
                                       tags=project_of(manifest).run_tags("artifacts")))
    result, ctx = _sensor(manifest, out, ctx.cursor)
    assert result.skip_message == f"{manifest}: waiting for 1 run of this project to finish before provenance"
    instance.report_run_failed(busy)
    result, ctx = _sensor(manifest, out, ctx.cursor)  # the other project's run still going does not hold it
    assert _stages(result) == ["output"]
    _run_request(manifest, out, result.run_requests[0])
    assert all(s.status == "fresh" for s in compute_status(manifest, out))
    result, _ = _sensor(manifest, out, ctx.cursor)
    assert result.skip_message == f"{manifest}: manifest unchanged"


def _files(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


def _execute(manifest: Path, out: Path, request) -> bool:
    job = project_defs(manifest, out)[1].resolve_implicit_global_asset_job_def()
    return job.execute_in_process(instance=get_instance(), partition_key=request.partition_key, tags=request.tags,
                                  asset_selection=request.asset_selection, raise_on_error=False).success


def test_sensor_runs_stage_their_files_and_only_the_output_run_swaps_them_in_never_after_a_fault(env, monkeypatch):
    """The sensor's runs are separate runs (processes under the daemon): they write into the staging, the
    output run commits it. A run that faulted (disk full at a dashboard) leaves its staging incomplete: the
    output run refuses it, and the bundle is byte-identical to the previous one."""
    from ctx_assets.core.staging import STAGING

    manifest, out, _ = env
    _, ctx = _sensor(manifest, out)
    before = _files(out)
    edit(manifest, lambda d: d["spec"]["targets"][1].update(namespace="moved"))
    result, ctx = _sensor(manifest, out, ctx.cursor)
    assert _stages(result) == ["edit", "output"]
    room_again = disk_full_at(monkeypatch, "dashboards")
    edit_run, output_run = result.run_requests
    assert not _execute(manifest, out, edit_run)  # export, seed and the other artifacts were staged
    room_again()
    staged = {k for k in _files(out) if k.startswith(STAGING)}
    assert staged and {k: v for k, v in _files(out).items() if k not in staged} == before
    assert not _execute(manifest, out, output_run)  # refused: the staging is incomplete
    assert _files(out) == before and not (out / STAGING).exists()

    # A run clicked in the UI (one artifact) is staged too; the sensor asks for the output run that swaps it in.
    p = project_of(manifest)
    from dagster import RunRequest
    assert _execute(manifest, out, RunRequest(partition_key="svc-0000", asset_selection=[p.key("dashboard")],
                                              tags={}))
    staged = {k for k in _files(out) if k.startswith(STAGING)}
    assert staged and {k: v for k, v in _files(out).items() if k not in staged} == before
    result, ctx = _sensor(manifest, out, ctx.cursor)
    (request,) = result.run_requests
    assert request.tags[STAGE_TAG] == "output" and _execute(manifest, out, request)
    assert not (out / STAGING).exists() and _files(out) != before
