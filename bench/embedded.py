"""Embedded on a user's instance: `ctx build` of N targets on Dagster's stock SQLite and stock
PostgreSQL storage, beside ctx's kept storages, each from a fresh home, in one run. Figures go into
bench/results.json (`embedded_<N>_<storage>_seconds`).

    python -m bench.embedded [--targets 1000] [--only stock_sqlite,kept_sqlite,stock_postgres,kept_postgres]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from bench.run import ROOT, manifest, record
from tests.support.servers import SCALING_YAML, postgres_server

STORAGES = ("stock_postgres", "kept_postgres", "kept_sqlite", "stock_sqlite")


def _home(kind: str, folder: Path, pg) -> dict[str, str]:
    home = folder / ".ctx" / "dagster"
    home.mkdir(parents=True)
    env = {"CTX_HOME": str(folder / ".ctx"), "DAGSTER_HOME": str(home), "OTEL_EXPORTER_OTLP_ENDPOINT": ""}
    if kind == "kept_sqlite":
        return env  # the home ctx writes itself
    if kind == "stock_sqlite":
        config = {"storage": {"sqlite": {"base_dir": str(home)}}, "telemetry": {"enabled": False}}
    else:
        config = yaml.safe_load(SCALING_YAML.read_text())
        if kind == "stock_postgres":
            config["storage"] = {"postgres": config["storage"]["custom"]["config"]}
        env.update(pg.env(pg.create_database()))
    (home / "dagster.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    return env


def measure(kind: str, n: int, pg) -> float:
    with tempfile.TemporaryDirectory(prefix=f"ctx-bench-{kind}-") as tmp:
        folder = Path(tmp)
        env = {**os.environ, **_home(kind, folder, pg)}
        path = manifest(n, folder)
        print(f"bench: embedded {kind} {n} targets", file=sys.stderr, flush=True)
        t = time.perf_counter()
        p = subprocess.run([sys.executable, "-m", "ctx_assets.cli", "build", str(path), "--out", str(folder / "out")],
                           cwd=ROOT, env=env, capture_output=True, text=True)
        seconds = time.perf_counter() - t
        assert p.returncode == 0, p.stderr[-3000:]
        return seconds


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--targets", type=int, default=1000)
    ap.add_argument("--only", default=",".join(STORAGES))
    a = ap.parse_args()
    kinds = [k for k in a.only.split(",") if k]
    figures: dict[str, float] = {}
    with (postgres_server() if any("postgres" in k for k in kinds) else contextlib.nullcontext()) as pg:
        for kind in kinds:  # each recorded as soon as it is measured: a stock SQLite build takes many minutes
            figures[f"embedded_{a.targets}_{kind}_seconds"] = measure(kind, a.targets, pg)
            record({f"embedded_{a.targets}_{kind}_seconds": figures[f"embedded_{a.targets}_{kind}_seconds"]},
                   "embedded")


if __name__ == "__main__":
    main()
