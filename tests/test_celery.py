"""Steps on celery workers: a Redis broker (Debian's `redis-server`), two `dagster-celery` workers and the
daemon's sensor runs with CTX_CELERY_BROKER set (docs/scaling.md §2) build the same bundle, byte for byte,
as the in-process `ctx build`."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import pytest

from ctx_assets.defs.project import project_of
from ctx_assets.defs.runner import DEFAULT_INSTANCE_YAML
from ctx_assets.scaling.engines import celery_workers, fresh, instance_of, runs_finished, start_daemon
from ctx_assets.scaling.servers import wait_for
from ctx_assets.workspaces import write_workspace

from .conftest import require, run_ctx
from .dagster_env import small_manifest
from .test_daemon import BOUND

WORKERS = ("ctx-w1", "ctx-w2")


def _bundle(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in out.rglob("*") if p.is_file()}


def _worker_of_each_step(env: dict[str, str]) -> dict[str, str]:
    """{step key: celery worker hostname} from the engine events the workers wrote, over every run."""
    from dagster import DagsterEventType

    with instance_of(env) as instance:
        steps, ran = {}, set()
        for run in instance.get_runs():
            assert run.status.value == "SUCCESS", (run.job_name, run.status)
            for rec in instance.get_records_for_run(run.run_id).records:
                entry = rec.event_log_entry
                ev = entry.dagster_event
                if ev and ev.event_type == DagsterEventType.STEP_SUCCESS:
                    ran.add(ev.step_key)
                meta = ev.event_specific_data.metadata if ev and ev.event_type == DagsterEventType.ENGINE_EVENT else {}
                if "Celery worker" in meta:  # written by the worker that executes the steps (dagster_celery.tasks)
                    for key in meta["step_keys"].value.split(", "):
                        steps[key] = meta["Celery worker"].value
        assert ran and ran <= set(steps), (sorted(ran), steps)
        return steps


@pytest.mark.slow
def test_two_celery_workers_build_the_in_process_bundle(tmp_path):
    require(shutil.which("redis-server") is not None, "redis-server (Debian package redis-server)")
    require(importlib.util.find_spec("dagster_celery") is not None, "the [celery] extra (dagster-celery)")
    manifest = small_manifest(tmp_path)
    ref = tmp_path / "in-process"
    ref_home = {"CTX_HOME": str(tmp_path / "ref" / ".ctx"), "DAGSTER_HOME": str(tmp_path / "ref" / ".ctx" / "dagster")}
    assert run_ctx("build", str(manifest), "--out", str(ref), env=ref_home).returncode == 0

    home = tmp_path / ".ctx" / "dagster"
    home.mkdir(parents=True)
    (home / "dagster.yaml").write_text(DEFAULT_INSTANCE_YAML.format(home=home))  # what `ctx` itself writes
    out = tmp_path / "bundles" / project_of(manifest).id
    workspace = write_workspace([manifest], tmp_path / "bundles", tmp_path / "ws")
    env = {"CTX_HOME": str(tmp_path / ".ctx"), "DAGSTER_HOME": str(home), "CTX_SENSOR_DEBOUNCE_SECONDS": "1"}
    with celery_workers(WORKERS, env, tmp_path) as (env, workers):
        daemon = start_daemon(workspace, env, tmp_path)
        try:
            def built() -> bool:
                for p in (*workers, daemon):
                    p.assert_running()
                return fresh(manifest, out, env) and runs_finished(env)

            wait_for("the daemon's runs on the celery workers to build the bundle", built, BOUND, every=3)
        finally:
            daemon.stop()
    workers = _worker_of_each_step(env)
    assert {w.split("@")[0] for w in workers.values()} <= set(WORKERS), workers
    # provenance.json names the run and trace that made it, and the sensor writes it after the artifact
    # runs (it may still be on its way when the artifacts are in): compared apart from the rest
    expected = {k: v for k, v in _bundle(ref).items() if k != "export/provenance.json"}
    got = {k: v for k, v in _bundle(out).items() if k != "export/provenance.json"}
    assert sorted(got) == sorted(expected)
    assert [k for k in expected if got[k] != expected[k]] == []
