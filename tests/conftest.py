"""Shared fixtures: paths, a CLI runner, manifest builders."""

from __future__ import annotations

import copy
import importlib.util
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "online-boutique.contextcore.yaml"
SELF_EXAMPLE = ROOT / "examples" / "ctx-assets.contextcore.yaml"  # the pipeline's own manifest
SHARED = ROOT.parent / "shared"
CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
# Tests never write the project-local home (.ctx: Dagster instance, traces, validator cache) of the checkout.
os.environ.setdefault("CTX_HOME", tempfile.mkdtemp(prefix="ctx-tests-home-"))
# Each test's `ctx build` runs in its own process, as under CI: a warm build process (build/server.py) would
# outlive the test that started it. tests/test_build_server.py turns it on for its own builds.
os.environ["CTX_BUILD_SERVER"] = "0"
# One folder of promtool/amtool verdicts for every build of a worker, whatever its home: a fresh home's first
# build spends ~2 CPU-s in the tools on shapes another test's build has had checked already (a verdict is
# kept only for a pass, by the file's shape and the tool's path: a fake tool or a failing file still runs).
# tests/test_external_validators.py sets the folders it tests itself.
os.environ.setdefault("CTX_VALIDATOR_CACHE", tempfile.mkdtemp(prefix="ctx-tests-verdicts-"))


# Test lanes. `make check` (before each commit, <= 60 s) runs the tests of these modules: pure core and CLI
# commands that need no server, no Dagster run and no external tool; a test among them that does need one
# carries @pytest.mark.full. Every other module is the full lane, `make test` (CI), which runs everything.
# A new module is full until it is listed here.
CHECK_MODULES = {
    "test_alert_channels", "test_checksums", "test_cli_export", "test_cli_validate_init", "test_conformance",
    "test_export_plan", "test_gates_export", "test_generators", "test_hostile_input", "test_loader",
    "test_manifest_contracts", "test_manifest_reference", "test_migrate", "test_otlp_json", "test_packaging",
    "test_project_bundle", "test_recorded", "test_secrets", "test_seed_reader", "test_sli_sources", "test_slices",
    "test_slo_math",
    "test_staging",
}


# Seconds each long module took on one worker of `make test` (2 cores, 3 workers, 2026-12-07 19:14): only the
# order modules are handed out in depends on them, so a stale figure costs time, never a result.
# test_cli_build, test_tracing, test_plan_memo, test_faults: that figure times the module's measured after/before
# wall ratio (alone, -n 0, 2026-12-07) once it shared its builds (0.71, 0.84, 0.66, 0.72).
MODULE_SECONDS = {
    "test_cli_build": 115, "test_postgres": 120, "test_celery": 110, "test_embedding": 105,
    "test_many_manifests": 100, "test_daemon": 85, "test_live_bundle": 50, "test_tracing": 70, "test_plan_memo": 45,
    "test_faults": 45, "test_sqlite_storage": 60, "test_build_server": 45, "test_dagster_graph": 45,
    "test_slices": 45, "test_no_leaks": 45,
    "test_ui": 40, "test_self_watch": 40, "test_chunks": 35, "test_external_validators": 30,
    "test_events_per_artifact": 25, "test_ui_truth": 20, "test_cli_validate_init": 15, "test_one_run_build": 15,
    "test_bundle_safety": 15, "test_hostile_input": 15,
}


def pytest_ignore_collect(collection_path, config) -> bool | None:
    """The fast lane does not even import the full lane's modules (Dagster, servers): seconds per worker."""
    if config.getoption("markexpr", "") == "not full" and collection_path.suffix == ".py" and \
            collection_path.name.startswith("test_") and collection_path.stem not in CHECK_MODULES:
        return True
    return None


def pytest_collection_modifyitems(config, items) -> None:
    for item in items:
        if _module(item) not in CHECK_MODULES:
            item.add_marker(pytest.mark.full)
    # With -n, whole modules are handed out (pyproject.toml: --dist loadscope, so a module's fixtures are
    # built once, on one worker) longest first, so the workers run out of work at about the same time (a
    # long module handed out last would leave the others idle for its whole length). Lengths:
    # MODULE_SECONDS; an unlisted module counts as 15 s in the full lane, 5 s in the fast one.
    items.sort(key=lambda item: -MODULE_SECONDS.get(_module(item), 5 if _module(item) in CHECK_MODULES else 15))


def _module(item) -> str:
    return item.module.__name__.rsplit(".", 1)[-1]


def require(condition: bool, what: str) -> None:
    """Skip when a tool or the shared schemas are missing; under CI, fail instead."""
    if condition:
        return
    if CI:
        pytest.fail(f"{what} is required under CI=true but is missing")
    pytest.skip(f"{what} is missing")


def run_ctx(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None,
            timeout: float = 300) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, "-m", "ctx_assets.cli", *args], cwd=cwd or ROOT,
                          capture_output=True, text=True, env=full_env, timeout=timeout)


MINIMAL: dict[str, Any] = {
    "apiVersion": "contextcore.io/v1alpha2",
    "kind": "ContextManifest",
    "metadata": {"name": "mini"},
    "spec": {"targets": [{"kind": "Deployment", "name": "api", "namespace": "shop"}]},
}


def manifest_with_targets(n: int, base: dict[str, Any] | None = None) -> dict[str, Any]:
    """The example manifest (or `base`) with `n` generated targets."""
    data = copy.deepcopy(base) if base else yaml.safe_load(EXAMPLE.read_text())
    data["spec"]["targets"] = [
        {"kind": "Deployment", "name": f"svc-{i:04d}", "namespace": f"team-{i % 7}"} for i in range(n)
    ]
    return data


def write_manifest(path: Path, data: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


@pytest.fixture(scope="session")
def postgres():
    """One throwaway PostgreSQL server for the session (tests/support/servers.py); each test takes its own
    database."""
    from tests.support.servers import pg_bin, postgres_server

    require(bool(pg_bin("initdb") and pg_bin("pg_ctl")), "a PostgreSQL server (Debian package postgresql)")
    require(importlib.util.find_spec("dagster_postgres") is not None, "the [postgres] extra (dagster-postgres)")
    with postgres_server() as pg:
        yield pg


def registry_breaking_prometheus_rule(target: str) -> dict:
    """The generator registry with a PrometheusRule generator that emits a broken expr for `target`
    (so its artifact_schema gate fails): the one failure injection the blocking tests share."""
    from ctx_assets.core import generators

    real = generators.registry()

    class BrokenForTarget(type(real["prometheus_rule"])):
        def implement(self, d):
            r = super().implement(d)
            if d.target == target:
                r.document["spec"]["groups"][0]["rules"][0]["expr"] = "sum(rate(x[5m]"
            return r

    return {**real, "prometheus_rule": BrokenForTarget()}
