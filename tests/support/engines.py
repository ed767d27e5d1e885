"""The engines of docs/scaling.md on one machine: the daemon on a workspace, the embedded home with the
run queue, celery workers on a throwaway Redis, and how to read what they did."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from unittest import mock

import yaml
from dagster import DagsterInstance

from ctx_assets.defs.project import STAGE_TAG

from .servers import ROOT, Process, redis_server, start

BIN = Path(sys.executable).parent  # dagster-daemon, dagster-celery and celery next to this interpreter
WORKER_HOOKS = Path(__file__).parent / "worker_hooks"  # modules a test loads into its celery workers

# The embedded storage (what `ctx` writes) with the run queue of docs/scaling.md and its limit.
QUEUED_SQLITE_YAML = """storage:
  custom:
    module: ctx_assets.storage
    class: KeptSqliteStorage
    config:
      base_dir: {home}
run_coordinator:
  module: dagster._core.run_coordinator
  class: QueuedRunCoordinator
  config:
    max_concurrent_runs: {max_runs}{dequeue}
telemetry:
  enabled: false
"""

# One step at a time per worker, and none reserved while busy (Redis only, celery >= 5.6): a worker
# that prefetched the next chunk's step would hold it while another worker sits idle.
WORKER_OPTIONS = ["--concurrency=1", "-O", "fair", "--disable-prefetch"]


def queued_sqlite_home(folder: Path, max_concurrent_runs: int = 2,
                       dequeue_seconds: int | None = None) -> dict[str, str]:
    """A ctx home under `folder` on the embedded storage whose runs go through the run queue: the env.
    `dequeue_seconds`: the queue looks this often (Dagster's default: 5 s; ctx's own home: 1 s), for tests
    that wait on the daemon: the queue's pace is not what they check."""
    home = folder / ".ctx" / "dagster"
    home.mkdir(parents=True, exist_ok=True)
    dequeue = f"\n    dequeue_interval_seconds: {dequeue_seconds}" if dequeue_seconds else ""
    (home / "dagster.yaml").write_text(QUEUED_SQLITE_YAML.format(home=home, max_runs=max_concurrent_runs,
                                                                 dequeue=dequeue))
    return {"CTX_HOME": str(folder / ".ctx"), "DAGSTER_HOME": str(home)}


def start_daemon(workspace: Path, env: dict[str, str], logs: Path) -> Process:
    """`dagster-daemon run` on the workspace: the sensor's ticks and the run queue."""
    return start("dagster-daemon", [str(BIN / "dagster-daemon"), "run", "-w", str(workspace)], env, logs)


@contextlib.contextmanager
def celery_workers(names: Sequence[str], env: dict[str, str], folder: Path,
                   step_barrier: Path | None = None) -> Iterator[tuple[dict, list[Process]]]:
    """A throwaway Redis and one `dagster-celery` worker per name (docs/scaling.md §3); yields the env for
    the daemon (CTX_CELERY_BROKER set) and the workers. Stops them at the end. `step_barrier`: an empty
    folder; the workers' artifacts steps then wait there for each other (worker_hooks/ctx_step_barrier.py)."""
    with redis_server(folder) as broker:
        # `dagster-celery worker start` runs `celery` from PATH: the one next to this interpreter
        env = {**env, "CTX_CELERY_BROKER": broker, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
        config = folder / "celery.yaml"  # the executor's config (ctx_assets/definitions.py)
        config.write_text(yaml.safe_dump({"execution": {"config": {"broker": broker, "backend": broker}}}))
        hooks, worker_env = [], env
        if step_barrier is not None:
            hooks = ["-i", "ctx_step_barrier"]
            worker_env = {**env, "PYTHONPATH": str(WORKER_HOOKS), "CTX_TEST_STEP_BARRIER": str(step_barrier)}
        workers: list[Process] = []
        try:
            for name in names:
                workers.append(start(name, [str(BIN / "dagster-celery"), "worker", "start", "-A", "dagster_celery.app",
                                            "-y", str(config), "-n", name, *hooks, "--", *WORKER_OPTIONS],
                                     worker_env, folder))
            yield env, workers
        finally:
            for w in workers:
                w.stop()


@contextlib.contextmanager
def instance_of(env: dict[str, str]) -> Iterator[DagsterInstance]:
    """The instance a ctx/Dagster subprocess with `env` uses (its config may read DAGSTER_PG_* from the env)."""
    with mock.patch.dict(os.environ, env):
        instance = DagsterInstance.from_config(env["DAGSTER_HOME"])
    try:
        yield instance
    finally:
        instance.dispose()


def runs_finished(env: dict[str, str]) -> bool:
    """Some runs, and none queued or in progress."""
    with instance_of(env) as instance:
        runs = instance.get_runs()
        return bool(runs) and all(r.is_finished for r in runs)


def fresh(manifest: Path, out: Path, env: dict[str, str]) -> bool:
    """`ctx status` says every artifact of the bundle in `out` is fresh."""
    r = subprocess.run([sys.executable, "-m", "ctx_assets.cli", "status", str(manifest), "--out", str(out), "--json"],
                       cwd=ROOT, env={**os.environ, **env}, capture_output=True, text=True, timeout=300)
    return r.returncode == 0 and {x["status"] for x in json.loads(r.stdout)["artifacts"]} == {"fresh"}


def settled(manifest: Path, out: Path, env: dict[str, str]) -> bool:
    """The bundle in `out` is built and nothing is left to do: its provenance.json written (a stat, so the
    polls before the output stage cost nothing), no run going, and `ctx status` (a process) says fresh."""
    from ctx_assets.core.export_paths import PROVENANCE_PATH

    return (out / PROVENANCE_PATH).exists() and runs_finished(env) and fresh(manifest, out, env)


def celery_steps(env: dict[str, str]) -> list[tuple[str, str | None, float, float]]:
    """(stage, celery worker or None, start, end) of every successful step of every run, from the events the
    workers wrote; every run must have succeeded. The stage is the run's `ctx/stage` tag."""
    from dagster import DagsterEventType as T

    with instance_of(env) as instance:
        steps = []
        for run in instance.get_runs():
            assert run.status.value == "SUCCESS", (run.job_name, run.status)
            worker, start = {}, {}
            for rec in instance.get_records_for_run(run.run_id).records:
                entry, ev = rec.event_log_entry, rec.event_log_entry.dagster_event
                meta = ev.event_specific_data.metadata if ev and ev.event_type == T.ENGINE_EVENT else {}
                if "Celery worker" in meta:  # written by the worker that runs the step (dagster_celery.tasks)
                    worker[ev.step_key] = meta["Celery worker"].value.split("@")[0]
                elif ev and ev.event_type == T.STEP_START:
                    start[ev.step_key] = entry.timestamp
                elif ev and ev.event_type == T.STEP_SUCCESS:
                    steps.append((run.tags.get(STAGE_TAG, run.job_name), worker.get(ev.step_key), start[ev.step_key],
                                  entry.timestamp))
        return steps
