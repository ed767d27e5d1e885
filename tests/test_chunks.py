"""Chunked artifact runs: at most CTX_RUN_TARGETS targets per run, the chunks queued by the sensor and
run through Dagster's run queue (QueuedRunCoordinator) under its concurrency limit."""

from __future__ import annotations

import pytest
from dagster import DagsterEventType

from ctx_assets.dagster_compat.events import ASSET_PARTITION_RANGE_END_TAG as RANGE_END
from ctx_assets.dagster_compat.events import ASSET_PARTITION_RANGE_START_TAG as RANGE_START
from ctx_assets.defs.partitions import artifact_runs, chunk_size
from ctx_assets.defs.project import STAGE_TAG, project_of
from ctx_assets.workspaces import write_workspace
from tests.support.engines import instance_of, queued_sqlite_home, settled, start_daemon
from tests.support.servers import wait_for

from .dagster_env import small_manifest
from .test_daemon import BOUND


def test_runs_are_cut_into_chunks_of_at_most_n_targets():
    order = ["a", "b", "c", "d", "e"]
    every = {t: ["dashboard"] for t in order}
    assert artifact_runs(every, order, chunk=2) == [(["dashboard"], ["a", "b"]), (["dashboard"], ["c", "d"]),
                                                    (["dashboard"], ["e"])]
    assert artifact_runs(every, order, chunk=0) == [(["dashboard"], order)]  # 0: no limit, one run
    mixed = {"a": ["runbook"], "b": ["runbook"], "c": ["runbook"], "d": ["dashboard"]}
    assert artifact_runs(mixed, order, chunk=2) == [(["runbook"], ["a", "b"]), (["runbook"], ["c"]),
                                                    (["dashboard"], ["d"])]


def test_chunk_size_comes_from_the_environment(monkeypatch):
    monkeypatch.delenv("CTX_RUN_TARGETS", raising=False)
    assert chunk_size() == 0
    monkeypatch.setenv("CTX_RUN_TARGETS", "250")
    assert chunk_size() == 250
    assert len(artifact_runs({str(i): ["slo"] for i in range(600)}, [str(i) for i in range(600)])) == 3
    monkeypatch.setenv("CTX_RUN_TARGETS", "-1")
    with pytest.raises(ValueError, match="CTX_RUN_TARGETS='-1'"):
        chunk_size()


def _overlap(spans: list[tuple[float, float]]) -> int:
    """The most runs in progress at one moment."""
    edges = sorted([(s, 1) for s, _ in spans] + [(e, -1) for _, e in spans])
    now = most = 0
    for _, d in edges:
        now += d
        most = max(most, now)
    return most


@pytest.mark.slow
def test_the_sensor_queues_one_run_per_chunk(tmp_path):
    manifest = small_manifest(tmp_path, n=6)
    # the embedded storage with the run queue of docs/scaling.md, limited to 2 runs at once (looked at every
    # second: its pace is not what this test checks)
    env = {**queued_sqlite_home(tmp_path, max_concurrent_runs=2, dequeue_seconds=1),
           "CTX_SENSOR_DEBOUNCE_SECONDS": "1", "CTX_RUN_TARGETS": "2"}
    out = tmp_path / "bundles" / project_of(manifest).id
    workspace = write_workspace([manifest], out, tmp_path / "ws")
    daemon = start_daemon(workspace, env, tmp_path / "logs")
    try:
        def built() -> bool:
            daemon.assert_running()
            return settled(manifest, out, env)

        wait_for("the sensor's chunked runs to build the bundle", built, BOUND)
    finally:
        daemon.stop()
    with instance_of(env) as instance:
        records = instance.get_run_records()
        chunks = sorted((r.dagster_run.tags[RANGE_START], r.dagster_run.tags[RANGE_END])
                        for r in records if r.dagster_run.tags.get(STAGE_TAG) == "artifacts")
        assert chunks == [("svc-0000", "svc-0001"), ("svc-0002", "svc-0003"), ("svc-0004", "svc-0005")]
        for r in records:  # every run went through the queue, and the queue held to its limit
            assert r.dagster_run.status.value == "SUCCESS"
            events = instance.get_records_for_run(r.dagster_run.run_id, of_type=DagsterEventType.RUN_ENQUEUED)
            assert events.records, r.dagster_run.job_name
        assert _overlap([(r.start_time, r.end_time) for r in records]) <= 2
