"""Steps on celery workers: a Redis broker (Debian's `redis-server`), two `dagster-celery` workers and the
daemon's sensor runs with CTX_CELERY_BROKER set (docs/scaling.md §3), the artifact targets cut into two
runs (CTX_RUN_TARGETS) that the run queue lets run at once: each chunk is built on its own worker, at the
same time, and the bundle is the in-process `ctx build`'s, byte for byte. On the embedded SQLite home and
on Postgres (docs/scaling/dagster.yaml)."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import pytest

from ctx_assets.core.fsio import OWNER_FILE
from ctx_assets.defs.project import project_of
from ctx_assets.workspaces import write_workspace
from tests.support.engines import (
    celery_steps,
    celery_workers,
    queued_sqlite_home,
    settled,
    start_daemon,
)
from tests.support.servers import wait_for

from .conftest import require, run_ctx
from .dagster_env import small_manifest
from .test_daemon import BOUND

WORKERS = ("ctx-w1", "ctx-w2")
# Targets per run: CHUNK targets, then the CHUNK // 3 left. The sensor's daemon creates both runs and the
# queue launches each as it comes, seconds apart. Each artifacts step waits on its worker until the other
# one has started (celery_workers' step_barrier: worker_hooks/ctx_step_barrier.py), so the two chunks are
# built at the same time by construction, whatever their size and the machine's load; a busy worker takes
# nothing (engines.WORKER_OPTIONS), so the second chunk can only go to the other worker (on one worker the
# barrier would wait in vain, and the assertions below fail).
CHUNK = 3


def _bundle(out: Path) -> dict[str, bytes]:
    """The bundle's files; not `.ctx-project`, the folder's owner record that `ctx build` and `ctx export`
    write (the daemon's runs write the bundle only)."""
    return {str(p.relative_to(out)): p.read_bytes() for p in out.rglob("*") if p.is_file() and p.name != OWNER_FILE}


@pytest.fixture(scope="module")
def in_process(tmp_path_factory) -> tuple[Path, dict[str, bytes]]:
    """A manifest of two chunks and the bundle the in-process `ctx build` makes of it: built once, the
    expected bundle of both storages (neither the storage nor the executor may change a byte)."""
    require(shutil.which("redis-server") is not None, "redis-server (Debian package redis-server)")
    require(importlib.util.find_spec("dagster_celery") is not None, "the [celery] extra (dagster-celery)")
    folder = tmp_path_factory.mktemp("in-process")
    manifest = small_manifest(folder, n=CHUNK + CHUNK // 3)
    env = {"CTX_HOME": str(folder / ".ctx"), "DAGSTER_HOME": str(folder / ".ctx" / "dagster")}
    r = run_ctx("build", str(manifest), "--out", str(folder / "out"), env=env)
    assert r.returncode == 0, r.stderr[-2000:]
    return manifest, _bundle(folder / "out")


@pytest.mark.slow
@pytest.mark.parametrize("name", ["postgres", "sqlite"])
def test_two_celery_workers_build_two_chunks_at_once_into_the_in_process_bundle(name, in_process, request, tmp_path):
    manifest, expected = in_process
    # Runs go through the run queue (docs/scaling/dagster.yaml: 8 at once). On SQLite 3: the shared stages'
    # run may still be finishing when the sensor asks for the chunks, and the second must not wait for it.
    # The queues look every second: their pace is not what this test checks.
    home = request.getfixturevalue("postgres").home(tmp_path, dequeue_seconds=1) if name == "postgres" else \
        queued_sqlite_home(tmp_path, max_concurrent_runs=3, dequeue_seconds=1)
    out = tmp_path / "bundles" / project_of(manifest).id
    workspace = write_workspace([manifest], out, tmp_path / "ws")
    env = {**home, "CTX_SENSOR_DEBOUNCE_SECONDS": "1", "CTX_RUN_TARGETS": str(CHUNK)}
    barrier = tmp_path / "barrier"
    barrier.mkdir()
    with celery_workers(WORKERS, env, tmp_path, step_barrier=barrier) as (env, workers):
        daemon = start_daemon(workspace, env, tmp_path)
        try:
            def built() -> bool:
                for p in (*workers, daemon):
                    p.assert_running()
                return settled(manifest, out, env)

            wait_for("the daemon's runs on the celery workers to build the bundle", built, BOUND)
        finally:
            daemon.stop()
    assert len(list(barrier.iterdir())) == 2  # both chunks' steps passed the barrier (the workers loaded it)
    steps = celery_steps(env)
    assert all(worker in WORKERS for _, worker, _, _ in steps), steps  # every step ran on a worker
    chunks = sorted((start, end, worker) for job, worker, start, end in steps if job == "artifacts")
    assert len(chunks) == 2, steps
    (start1, end1, worker1), (start2, end2, worker2) = chunks
    seen = f"{worker1} {end1 - start1:.1f} s, {worker2} {end2 - start2:.1f} s from {start2 - start1:.1f} s later"
    assert start2 < end1, seen  # the two chunks were built at the same time...
    assert {worker1, worker2} == set(WORKERS), seen  # ...one on each worker
    # provenance.json names the run and trace that made it, and the sensor writes it after the artifact
    # runs (it may still be on its way when the artifacts are in): compared apart from the rest
    expected = {k: v for k, v in expected.items() if k != "export/provenance.json"}
    got = {k: v for k, v in _bundle(out).items() if k != "export/provenance.json"}
    assert sorted(got) == sorted(expected)
    assert [k for k in expected if got[k] != expected[k]] == []
