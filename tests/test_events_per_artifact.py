"""What a build writes per artifact, on each storage a user's dagster.yaml can name: Dagster's stock SQLite
and stock PostgreSQL, and ctx's kept SQLite (docs/architecture.md, "The events a build writes per artifact").

A gate fails on the middle target, so the build has every kind of artifact: built, failed, blocked. The
counts are the regression guard (an event more per artifact is 7,000 more writes at 1,000 targets, each a
new connection on stock PostgreSQL); the UI's facts must be the same on every storage: each built artifact
a materialized partition, each failed or blocked one a failed partition whose check names the gate, and a
check result beside every partition.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

import pytest
import yaml
from dagster import AssetCheckKey, AssetPartitionStatus, DagsterEventType, DagsterInstance

from ctx_assets.build import get_instance, run_build
from ctx_assets.dagster_compat.events import EVENT_BATCH_SIZE_ENV, PLANNED_SUBSET_ENV
from ctx_assets.defs.project import project_of

from .conftest import EXAMPLE, registry_breaking_prometheus_rule
from .dagster_env import isolate, small_manifest

TARGETS = ["svc-0000", "svc-0001", "svc-0002"]
BAD = "svc-0001"  # its prometheus_rule fails artifact_schema
BLOCKED = {"dashboard", "notification_policy", "runbook"}  # built from prometheus_rule
TYPES = ["service_monitor", "slo_definition", "prometheus_rule", "loki_rule", "dashboard", "notification_policy",
         "runbook"]
P = project_of(EXAMPLE)  # the small manifests are the example with generated targets
ARTIFACTS = len(TARGETS) * len(TYPES)
NOT_BUILT = {("prometheus_rule", BAD), *((t, BAD) for t in BLOCKED)}
# Run and step bookkeeping: a fixed number per run, never per artifact.
RUN_LEVEL = {e.value for e in (DagsterEventType.RUN_START, DagsterEventType.RUN_FAILURE, DagsterEventType.STEP_START,
                               DagsterEventType.STEP_FAILURE, DagsterEventType.ENGINE_EVENT,
                               DagsterEventType.RESOURCE_INIT_STARTED, DagsterEventType.RESOURCE_INIT_SUCCESS,
                               DagsterEventType.LOGS_CAPTURED)}


@pytest.fixture(scope="module", params=["stock_sqlite", "stock_postgres", "kept_sqlite"])
def failed_build(request, tmp_path_factory) -> Iterator[tuple[DagsterInstance, str, bool]]:
    """A 3-target build whose middle target's prometheus_rule fails a gate, on the storage named: built once
    per storage, read (never written) by both tests."""
    tmp_path = tmp_path_factory.mktemp(request.param)
    with pytest.MonkeyPatch.context() as monkeypatch:
        isolate(monkeypatch, tmp_path)
        for name in (EVENT_BATCH_SIZE_ENV, PLANNED_SUBSET_ENV):  # ctx sets them (build/home.py); undone after
            monkeypatch.delenv(name, raising=False)
        home = tmp_path / ".ctx" / "dagster"
        home.mkdir(parents=True)
        if request.param == "stock_sqlite":  # Dagster's own default storage, as a user's dagster.yaml names it
            (home / "dagster.yaml").write_text(yaml.safe_dump({"storage": {"sqlite": {"base_dir": str(home)}},
                                                               "telemetry": {"enabled": False}}))
        elif request.param == "stock_postgres":
            for k, v in request.getfixturevalue("postgres").home(tmp_path, stock=True).items():
                monkeypatch.setenv(k, v)
        monkeypatch.setattr("ctx_assets.core.artisan.registry", lambda: registry_breaking_prometheus_rule(BAD))
        summary = run_build(small_manifest(tmp_path, n=len(TARGETS)), tmp_path / "out")
        assert not summary.ok and len(summary.run_ids) == 3  # shared stages, artifacts (failed), provenance
        instance = get_instance()
        stock = request.param.startswith("stock")
        assert (type(instance.event_log_storage).__module__.startswith("ctx_assets")) is not stock
        yield instance, summary.run_ids[1], stock
        instance.dispose()


def test_each_artifact_writes_its_materialization_and_its_check_evaluation_and_nothing_more(failed_build):
    instance, run_id, _ = failed_build
    kinds = Counter(e.dagster_event_type.value if e.is_dagster_event else "LOG" for e in instance.all_logs(run_id))
    built = ARTIFACTS - len(NOT_BUILT)
    assert {k: n for k, n in kinds.items() if k.startswith("ASSET_")} == {
        "ASSET_MATERIALIZATION": built,  # the built artifact's partition, its path and checksum (ctx status)
        "ASSET_CHECK_EVALUATION": ARTIFACTS,  # every artifact's gates: passed, failed, or blocked upstream
        "ASSET_CHECK_EVALUATION_PLANNED": len(TYPES),  # one per check for the whole range (Dagster's)
        # Dagster's: one per asset for the range (a stock storage, one per artifact, unless the process that
        # creates the run sets PLANNED_SUBSET_ENV, as ctx does), plus one per artifact not built, so that the
        # failed run marks it failed, not missing.
        "ASSET_MATERIALIZATION_PLANNED": len(TYPES) + len(NOT_BUILT),
    }
    # Everything else is the run's and the step's own, once each, and one progress line per chunk.
    assert kinds["LOG"] == 1
    assert {k for k in kinds if not k.startswith("ASSET_")} - {"LOG"} <= RUN_LEVEL
    assert kinds[DagsterEventType.STEP_START.value] == kinds[DagsterEventType.RUN_START.value] == 1


def test_the_ui_shows_the_same_partitions_and_checks_on_every_storage(failed_build):
    instance, run_id, _ = failed_build
    for t in TYPES:
        key = P.key(t)
        status = instance.get_status_by_partition(key, TARGETS, P.targets)
        assert status == {target: AssetPartitionStatus.FAILED if (t, target) in NOT_BUILT
                          else AssetPartitionStatus.MATERIALIZED for target in TARGETS}, t
        latest = instance.get_latest_storage_id_by_partition(key, DagsterEventType.ASSET_MATERIALIZATION)
        records = instance.event_log_storage.get_asset_check_execution_history(
            AssetCheckKey(key, "artifact_gates"), limit=50)
        assert sorted(r.partition for r in records) == TARGETS and {r.run_id for r in records} == {run_id}
        for r in records:
            evaluation = r.event.dagster_event.event_specific_data
            meta = {k: v.value for k, v in evaluation.metadata.items()}
            if (t, r.partition) in NOT_BUILT:  # failed, naming the gate (or the gate upstream that blocked it)
                assert not evaluation.passed
                named = meta["gate.failed"] if t == "prometheus_rule" else evaluation.description
                assert "artifact_schema" in named or f"{BAD}-prometheus-rule" in named, (t, meta)
            else:  # passed, beside the materialization it checked
                assert evaluation.passed and meta["gate.result"] in ("passed", "warned")
                assert evaluation.target_materialization_data.storage_id == latest[r.partition]
