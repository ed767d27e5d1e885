"""One run per build: every target's artifacts in one Dagster run, yet per-target status, gates and blocking.

A gate fails on the middle target of the range; every other target must complete in the same
run, and what Dagster recorded (and the webserver serves to the UI) must say so per target.
"""

from __future__ import annotations

import json
import os
import sys
import urllib.request

import pytest
from dagster import DagsterRunStatus, RunsFilter

from ctx_assets.build import get_instance, run_build
from ctx_assets.dagster_compat.events import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG
from ctx_assets.dagster_compat.inprocess import uncaptured
from ctx_assets.defs.partitions import artifact_runs
from ctx_assets.defs.project import project_of

from .conftest import EXAMPLE, registry_breaking_prometheus_rule
from .dagster_env import isolate, small_manifest, webserver_on
from .test_ui import _port

TARGETS = [f"svc-{i:04d}" for i in range(5)]
P = project_of(EXAMPLE)  # the small manifests are the example with generated targets
BAD = "svc-0002"  # the middle of the range
BLOCKED = {"dashboard", "notification_policy", "runbook"}  # built from prometheus_rule


@pytest.fixture(scope="module")
def failed_build(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("onerun")
    mp = pytest.MonkeyPatch()
    isolate(mp, tmp)
    mp.setattr("ctx_assets.core.artisan.registry", lambda: registry_breaking_prometheus_rule(BAD))
    manifest = small_manifest(tmp, n=5)
    summary = run_build(manifest, tmp / "out")
    yield tmp, manifest, summary
    mp.undo()


def test_a_build_is_three_runs_and_one_run_covers_every_target(failed_build):
    tmp, _, s = failed_build
    assert len(s.run_ids) == 3  # shared stages, artifacts, provenance
    runs = {r.run_id: r for r in get_instance().get_runs(RunsFilter(run_ids=s.run_ids))}
    artifact_run = runs[s.run_ids[1]]
    assert artifact_run.tags[ASSET_PARTITION_RANGE_START_TAG] == TARGETS[0]
    assert artifact_run.tags[ASSET_PARTITION_RANGE_END_TAG] == TARGETS[-1]
    assert artifact_run.status == DagsterRunStatus.FAILURE  # a blocking gate failed in it
    assert runs[s.run_ids[0]].status == DagsterRunStatus.SUCCESS


def test_a_failing_gate_blocks_exactly_that_targets_dependents(failed_build):
    tmp, _, s = failed_build
    assert [(g["name"], g["artifact_id"]) for g in s.failed_gates] == [("artifact_schema", f"{BAD}-prometheus-rule")]
    assert s.failed_gates[0]["violations"], "the failed gate names its violations"
    assert sorted(b["id"] for b in s.blocked) == sorted(f"{BAD}-{t.replace('_', '-')}" for t in BLOCKED)
    good = [t for t in TARGETS if t != BAD]
    assert sum(1 for a in s.materialized if not a.startswith(BAD)) == 7 * len(good)
    assert {a for a in s.materialized if a.startswith(BAD)} == {
        f"{BAD}-service-monitor", f"{BAD}-slo-definition", f"{BAD}-loki-rule"}
    assert not (tmp / "out" / f"prometheus/rules/{BAD}-prometheus-rules.yaml").exists()
    assert (tmp / "out" / "prometheus/rules/svc-0004-prometheus-rules.yaml").exists()


def test_dagster_records_status_and_gates_per_target(failed_build):
    instance = get_instance()
    good = {t for t in TARGETS if t != BAD}
    assert instance.get_materialized_partitions(P.key("dashboard")) == good
    assert instance.get_materialized_partitions(P.key("loki_rule")) == set(TARGETS)
    from dagster import AssetCheckKey

    records = instance.event_log_storage.get_asset_check_execution_history(
        AssetCheckKey(P.key("prometheus_rule"), "artifact_gates"), limit=50)
    by_partition = {r.partition: r.event.dagster_event.event_specific_data.passed for r in records if r.event}
    assert by_partition == {t: t != BAD for t in TARGETS}


def test_a_builds_runs_leave_the_terminal_to_ctx(monkeypatch, tmp_path):
    """ctx_assets/dagster_compat/inprocess.py: Dagster's compute-log capture would point stdout and stderr at per-run
    files while a run is on (and mirror them back through `tail -F`, losing late progress lines); a
    build's runs write where ctx writes, and Dagster keeps no per-run copy."""
    import ctx_assets.build.summary as collected

    isolate(monkeypatch, tmp_path)

    def where() -> tuple[str, str]:  # what the process's stdout and stderr write to (pytest's, in a test)
        return tuple(os.readlink(f"/proc/self/fd/{f.fileno()}") for f in (sys.stdout, sys.stderr))
    before, during = where(), set()
    collect = collected.collect_event
    monkeypatch.setattr(collected, "collect_event",
                        lambda event, summary: (during.add(where()), collect(event, summary)))
    s = run_build(small_manifest(tmp_path, n=2), tmp_path / "out")
    assert s.ok and len(s.run_ids) == 3 and during == {before}
    assert not list((tmp_path / ".ctx" / "dagster").rglob("compute_logs"))
    # only for those runs: the instance keeps its own compute log manager for whatever runs next
    instance = get_instance()
    own = instance.compute_log_manager
    with uncaptured(instance):
        assert instance.compute_log_manager is not own
    assert instance.compute_log_manager is own


def test_artifact_runs_cover_a_selection_with_contiguous_ranges():
    order = ["a", "b", "c", "d", "e"]
    assert artifact_runs({t: ["dashboard"] for t in order}, order) == [(["dashboard"], order)]
    # c needs something else, and e is not after d: three runs, no target outside the selection
    sel = {"a": ["runbook"], "b": ["runbook"], "c": ["dashboard"], "e": ["runbook"]}
    assert artifact_runs(sel, order) == [(["runbook"], ["a", "b"]), (["dashboard"], ["c"]), (["runbook"], ["e"])]


def _graphql(url: str, query: str) -> dict:
    req = urllib.request.Request(f"{url}/graphql", data=json.dumps({"query": query}).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as r:
        body = json.loads(r.read())
    assert "errors" not in body, body.get("errors")
    return body["data"]


@pytest.fixture
def webserver(failed_build):
    tmp, manifest, _ = failed_build
    env = {"DAGSTER_HOME": os.environ["DAGSTER_HOME"], "CTX_MANIFEST": str(manifest), "CTX_OUT": str(tmp / "out")}
    with webserver_on(env, _port()) as url:
        yield url


def test_the_ui_shows_per_target_status_and_per_target_gate_results(webserver):
    data = _graphql(webserver, """{
      dashboard: assetNodes(assetKeys: [{path: ["online_boutique", "dashboard"]}]) { assetPartitionStatuses {
        ... on DefaultPartitionStatuses { materializedPartitions failedPartitions unmaterializedPartitions
                                          materializingPartitions } } }
      checks: assetCheckExecutions(assetKey: {path: ["online_boutique", "prometheus_rule"]},
                                   checkName: "artifact_gates", limit: 50) {
        partition evaluation { success metadataEntries { label ... on TextMetadataEntry { text } } } }
    }""")
    status = data["dashboard"][0]["assetPartitionStatuses"]
    assert sorted(status["materializedPartitions"]) == [t for t in TARGETS if t != BAD]
    # blocked by the failed gate upstream: a failed partition (not missing, not materializing forever), and
    # its artifact_gates evaluation names the gate that blocked it
    assert status["failedPartitions"] == [BAD] and not status["materializingPartitions"]
    checks = {c["partition"]: c["evaluation"] for c in data["checks"]}
    assert {p: e["success"] for p, e in checks.items()} == {t: t != BAD for t in TARGETS}
    meta = {m["label"]: m.get("text") for m in checks[BAD]["metadataEntries"]}
    assert meta["gate.artifact_schema"] == "failed" and meta["gate.size_estimate"] == "passed"
    failed_rule = _graphql(webserver, """{ a: assetNodes(assetKeys: [{path: ["online_boutique", "prometheus_rule"]}]) {
      assetPartitionStatuses { ... on DefaultPartitionStatuses { failedPartitions } } }
      blocked: assetCheckExecutions(assetKey: {path: ["online_boutique", "dashboard"]}, checkName: "artifact_gates",
                                    limit: 50) { partition evaluation { success description } } }""")
    assert failed_rule["a"][0]["assetPartitionStatuses"]["failedPartitions"] == [BAD]
    blocked = {c["partition"]: c["evaluation"] for c in failed_rule["blocked"]}
    assert not blocked[BAD]["success"]
    assert blocked[BAD]["description"] == f"blocked by artifact_schema on {BAD}-prometheus-rule"
