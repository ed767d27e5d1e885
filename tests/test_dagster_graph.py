"""The Dagster asset graph on a temporary instance: builds, gates, staleness, the manifest sensor."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from dagster import DagsterInstance, DagsterRunStatus, build_sensor_context
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG as RANGE_END
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_START_TAG as RANGE_START

from ctx_assets.build import compute_status, get_instance, run_build
from ctx_assets.core.artifact_types import TYPE_ORDER
from ctx_assets.defs.project import PROJECT_TAG, STAGE_TAG, project_of

from .conftest import EXAMPLE, registry_breaking_prometheus_rule
from .dagster_env import edit, isolate, project_defs, settle, small_manifest

ALL_TYPES = sorted(t.value for t in TYPE_ORDER)


@pytest.fixture
def env(monkeypatch, tmp_path):
    isolate(monkeypatch, tmp_path)
    manifest = small_manifest(tmp_path)
    out = tmp_path / "out"
    summary = run_build(manifest, out)
    assert summary.ok, (summary.failed_gates, summary.blocked, summary.errors)
    return manifest, out, summary


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
    return [r.tags[STAGE_TAG] for r in result.run_requests]


def _requests(result) -> dict[str, list[str]]:
    """{target: types} over every run request, a range request expanded along the partition order."""
    order = get_instance().get_dynamic_partitions(project_of(EXAMPLE).targets.name)
    out = {}
    for r in result.run_requests:
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


def test_sensor_one_target_edit_requests_only_that_target(env):
    manifest, out, _ = env
    result, ctx = _sensor(manifest, out)
    assert not getattr(result, "run_requests", None)  # nothing changed since the build
    edit(manifest, lambda d: d["spec"]["targets"][1].update(namespace="moved"))
    result, ctx = _sensor(manifest, out, ctx.cursor)
    assert _stages(result) == ["shared"]  # phase 1: shared stages first
    _run_shared(manifest, out)
    result, ctx = _sensor(manifest, out, ctx.cursor)
    assert _requests(result) == {"svc-0001": ALL_TYPES}  # the namespace feeds all seven, of one target only
    again, ctx = _sensor(manifest, out, ctx.cursor)  # the cursor survives: no artifact is asked for again
    # no artifact run in flight: provenance
    assert _stages(again) == ["output"]
    again, _ = _sensor(manifest, out, ctx.cursor)
    assert not getattr(again, "run_requests", None)


def test_sensor_question_edit_requests_only_dashboards(env):
    manifest, out, _ = env
    _, ctx = _sensor(manifest, out)
    edit(manifest, lambda d: d["guidance"]["questions"][0].update(question="Which dashboard panels matter most?"))
    _run_shared(manifest, out)
    result, _ = _sensor(manifest, out, ctx.cursor)
    assert _requests(result) == {t: ["dashboard"] for t in ("svc-0000", "svc-0001", "svc-0002")}
    assert len(result.run_requests) == 1  # one set of types over a contiguous range: one run


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
    assert result.skip_message == "manifest unchanged"


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


def test_instance_is_sqlite_in_project_home(env, tmp_path):
    home = Path(os.environ["DAGSTER_HOME"])
    assert home == (tmp_path / ".ctx" / "dagster").resolve()
    assert (home / "dagster.yaml").exists()
    assert isinstance(get_instance(), DagsterInstance)
    assert "sqlite" in type(get_instance().run_storage).__name__.lower()


def _run_request(manifest: Path, out: Path, request) -> None:
    """What the daemon does with a run request."""
    job = project_defs(manifest, out)[1].resolve_implicit_global_asset_job_def()
    assert job.execute_in_process(instance=get_instance(), partition_key=request.partition_key, tags=request.tags,
                                  asset_selection=request.asset_selection, raise_on_error=False).success


def test_sensor_requests_provenance_after_the_artifact_runs_and_status_covers_it(env):
    from dagster._core.storage.dagster_run import DagsterRun

    manifest, out, _ = env
    _, ctx = _sensor(manifest, out)
    edit(manifest, lambda d: d["spec"]["targets"][1].update(namespace="moved"))
    _, ctx = _sensor(manifest, out, ctx.cursor)
    _run_shared(manifest, out)
    result, ctx = _sensor(manifest, out, ctx.cursor)
    (cursor,) = json.loads(ctx.cursor)["projects"].values()
    assert set(cursor) == {"sha", "pending", "provenance"}  # no fingerprints: small at any size
    (request,) = result.run_requests
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
    assert result.skip_message == "waiting for 1 artifact run to finish before provenance"
    instance.report_run_failed(busy)
    result, ctx = _sensor(manifest, out, ctx.cursor)  # the other project's run still going does not hold it
    assert _stages(result) == ["output"]
    _run_request(manifest, out, result.run_requests[0])
    assert all(s.status == "fresh" for s in compute_status(manifest, out))
    result, _ = _sensor(manifest, out, ctx.cursor)
    assert result.skip_message == "manifest unchanged"
