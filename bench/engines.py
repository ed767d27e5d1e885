"""The engines side by side (docs/scaling.md, docs/benchmarks.md): one manifest of N targets (bench/run.py's
generator), built from a fresh home on each engine, wall time from start to a fresh bundle (`ctx status`):

  sqlite, postgres                      `ctx build` on the embedded SQLite home / a throwaway PostgreSQL
  celery_2_workers_sqlite, _postgres    the daemon's sensor, 2 celery workers and Redis, the artifact
                                        targets in 2 runs (CTX_RUN_TARGETS = N/2) through the run queue
                                        (2 at once on SQLite; docs/scaling/dagster.yaml on PostgreSQL),
                                        timed from starting the workers and the daemon to the end of the
                                        last run (provenance)

    python -m bench.engines [--targets 1000] [--engines sqlite,postgres,...] [--results bench/results.json]

Figures go to `engines_<N>_seconds` (details: `engines_<N>_details`) in the results file, other keys kept.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import math
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from bench.run import ROOT, machine, manifest, timed_ctx
from ctx_assets.defs.project import STAGE_TAG, project_of
from ctx_assets.workspaces import write_workspace
from tests.support.engines import (
    celery_steps,
    celery_workers,
    fresh,
    instance_of,
    queued_sqlite_home,
    start_daemon,
)
from tests.support.servers import Postgres, postgres_server, wait_for

ENGINES = ("sqlite", "postgres", "celery_2_workers_sqlite", "celery_2_workers_postgres")
WORKERS = ("bench-w1", "bench-w2")


def _env(folder: Path) -> dict[str, str]:
    """A fresh project-local home under `folder`, no trace backend (bench/run.py's isolation)."""
    return {"CTX_HOME": str(folder / ".ctx"), "DAGSTER_HOME": str(folder / ".ctx" / "dagster"),
            "CTX_TRACE_FILE": str(folder / ".ctx" / "traces" / "spans.jsonl"), "OTEL_EXPORTER_OTLP_ENDPOINT": ""}


def ctx_build(n: int, folder: Path, home: dict[str, str]) -> dict:
    """`ctx build` as a user runs it: a fresh process, wall clock."""
    path, out = manifest(n, folder), folder / "out"
    env = {**_env(folder), **home}
    seconds, p = timed_ctx("build", str(path), "--out", str(out), "--json", env=env)
    if p.returncode:
        raise SystemExit(f"ctx build failed:\n{p.stderr[-3000:]}")
    assert fresh(path, out, env), "ctx build left a bundle that is not fresh"
    return {"seconds": seconds, "runs": len(json.loads(p.stdout)["run_ids"])}


def _done(env: dict[str, str]) -> bool:
    """The sensor's last phase (provenance) ran, and nothing is queued or in progress; a failed run ends it."""
    with instance_of(env) as instance:
        runs = instance.get_runs()
        failed = [r.job_name for r in runs if r.status.value in ("FAILURE", "CANCELED")]
        if failed:
            raise SystemExit(f"runs failed: {failed}")
        return any(r.tags.get(STAGE_TAG) == "output" for r in runs) and all(r.is_finished for r in runs)


def celery_build(n: int, folder: Path, home: dict[str, str], timeout: float) -> dict:
    """The daemon's sensor builds the manifest with 2 celery workers, the artifact targets in 2 runs."""
    path = manifest(n, folder)
    out = folder / "bundles" / project_of(path).id
    workspace = write_workspace([path], out, folder / "ws")
    env = {**_env(folder), **home, "CTX_RUN_TARGETS": str(math.ceil(n / 2))}
    t0 = time.time()
    with celery_workers(WORKERS, env, folder) as (env, workers):
        daemon = start_daemon(workspace, env, folder)
        try:
            def done() -> bool:
                for p in (*workers, daemon):
                    p.assert_running()
                return _done(env)

            wait_for("the sensor's runs to build the bundle", done, timeout, every=2)
        finally:
            daemon.stop()
    with instance_of(env) as instance:
        records = instance.get_run_records()
    chunks = [r for r in records if r.dagster_run.tags.get(STAGE_TAG) == "artifacts"]
    if not fresh(path, out, env):
        raise SystemExit("the sensor's build left a bundle that is not fresh")
    return {"seconds": max(r.end_time for r in records) - t0, "runs": len(records),
            # the daemon's start and first tick: the fixed part of the sensor's path
            "first_run_created_seconds": min(r.create_timestamp.timestamp() for r in records) - t0,
            "artifact_runs": len(chunks),
            "artifact_runs_seconds": max(r.end_time for r in chunks) - min(r.start_time for r in chunks),
            "workers": sorted({w for job, w, _, _ in celery_steps(env) if job == "artifacts"})}


@contextlib.contextmanager
def _postgres(wanted: list[str]) -> Iterator[Postgres | None]:
    if not any("postgres" in e for e in wanted):
        yield None
        return
    with postgres_server() as pg:
        yield pg


def measure(n: int, wanted: list[str], timeout: float) -> dict[str, dict]:
    """{engine: figures}, each engine on a fresh home in its own temporary folder."""
    figures: dict[str, dict] = {}
    with _postgres(wanted) as pg:
        for engine in wanted:
            with tempfile.TemporaryDirectory(prefix=f"ctx-bench-{engine}-") as tmp:
                folder = Path(tmp)
                home = pg.home(folder) if engine.endswith("postgres") else \
                    queued_sqlite_home(folder, max_concurrent_runs=2) if engine.startswith("celery") else {}
                print(f"bench.engines: {engine}, {n} targets", flush=True)
                figures[engine] = celery_build(n, folder, home, timeout) if engine.startswith("celery") else \
                    ctx_build(n, folder, home)
    return figures


def record(results: dict, n: int, figures: dict[str, dict]) -> dict:
    """`results` with this run's figures under engines_<n>_*: the other keys, and the figures of engines not
    run this time, as they were (engines can be measured one invocation at a time)."""
    seconds, details = f"engines_{n}_seconds", f"engines_{n}_details"
    today = dt.date.today().isoformat()
    return {**results, seconds: {**results.get(seconds, {}), **{e: f["seconds"] for e, f in figures.items()}},
            details: {**results.get(details, {}), "machine": machine(),
                      **{e: {**f, "date": today} for e, f in figures.items()}}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--targets", type=int, default=1000)
    ap.add_argument("--engines", default=",".join(ENGINES), help=f"comma-separated, of {', '.join(ENGINES)}")
    ap.add_argument("--results", type=Path, default=ROOT / "bench" / "results.json")
    ap.add_argument("--timeout", type=float, default=3600, help="seconds to wait for a sensor-driven build")
    args = ap.parse_args()
    wanted = [e.strip() for e in args.engines.split(",") if e.strip()]
    if unknown := set(wanted) - set(ENGINES):
        ap.error(f"unknown engines: {', '.join(sorted(unknown))}")
    figures = measure(args.targets, wanted, args.timeout)
    results = json.loads(args.results.read_text()) if args.results.exists() else {}
    args.results.write_text(json.dumps(record(results, args.targets, figures), indent=2) + "\n")
    print(json.dumps({e: f["seconds"] for e, f in figures.items()}, indent=2))


if __name__ == "__main__":
    main()
