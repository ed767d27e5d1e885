"""The manifest sensor through the real `dagster-daemon`: an edit of one target rewrites exactly that
target's artifacts; a broken edit is reported on a tick and rewrites nothing. On the embedded SQLite
instance and on Postgres (docs/scaling/dagster.yaml), as docs/scaling.md runs it."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import pytest

from ctx_assets.core.project_bundle import (
    ALERTMANAGER_PATH,
    GRAFANA_CONFIGMAP_DIR,
    GRAFANA_PROVISIONING_DIR,
    KUSTOMIZATION_PATH,
    OVERVIEW_PATH,
    PLAIN_RULES_DIR,
)
from ctx_assets.core.staging import STAGING
from ctx_assets.defs.project import project_of
from ctx_assets.workspaces import write_workspace
from tests.support.engines import fresh, instance_of, start_daemon
from tests.support.servers import wait_for

from .conftest import run_ctx
from .dagster_env import edit, settle, small_manifest

# A stock daemon looks at the sensor every 5 s; an edit is one run, then provenance (on Postgres a tick later).
BOUND = 300


def _files(out: Path) -> dict[str, int]:
    """The bundle's files and their mtimes, read while the daemon's runs may be writing: not the staging
    folder (a run's files before the output run swaps them in, removed by it), and a file that goes
    between listing and stat is skipped (os.walk skips a folder that goes)."""
    files = {}
    for folder, dirs, names in os.walk(out):
        dirs[:] = [d for d in dirs if d != STAGING]
        for name in names:
            path = os.path.join(folder, name)
            with contextlib.suppress(FileNotFoundError):
                files[os.path.relpath(path, out)] = os.stat(path).st_mtime_ns
    return files


def _ticks(env: dict[str, str]) -> list:
    """The manifest sensor's ticks, newest first, read from the instance the daemon writes."""
    with instance_of(env) as instance:
        states = [s for s in instance.all_instigator_state()
                  if s.instigator_name.endswith("manifest_sensor")]
        return [t for s in states for t in instance.get_ticks(s.instigator_origin_id, s.selector_id, limit=50)]


@pytest.fixture(params=["sqlite", "postgres"])
def home(request, tmp_path) -> dict[str, str]:
    if request.param == "postgres":
        return request.getfixturevalue("postgres").home(tmp_path, dequeue_seconds=1)
    return {"CTX_HOME": str(tmp_path / ".ctx"), "DAGSTER_HOME": str(tmp_path / ".ctx" / "dagster")}


@pytest.mark.slow
def test_daemon_sensor_rebuilds_the_edited_target_and_reports_a_broken_edit(home, tmp_path):
    manifest = small_manifest(tmp_path)
    out = tmp_path / "bundles" / project_of(manifest).id
    env = {**home, "CTX_SENSOR_DEBOUNCE_SECONDS": "1"}
    assert run_ctx("build", str(manifest), "--out", str(out), env=env).returncode == 0
    workspace = write_workspace([manifest], out, tmp_path / "ws")
    before = _files(out)
    edit(manifest, lambda d: d["spec"]["targets"][1].update(namespace="moved"))
    daemon = start_daemon(workspace, env, tmp_path / "logs")
    try:
        def rebuilt() -> bool:
            daemon.assert_running()
            now = _files(out)
            edited = [f for f in before if "svc-0001" in f]
            return all(now.get(f) not in (None, before[f]) for f in edited) and fresh(manifest, out, env)

        wait_for("the daemon to rebuild svc-0001's artifacts", rebuilt, BOUND)
        after = _files(out)
        # provenance (queued right behind the edit's run) rewrites the bundle-level files too (project_bundle.py)
        bundle = (ALERTMANAGER_PATH, KUSTOMIZATION_PATH, OVERVIEW_PATH, PLAIN_RULES_DIR, GRAFANA_CONFIGMAP_DIR,
                  GRAFANA_PROVISIONING_DIR, "export/")
        rewritten = {f for f in before if after[f] != before[f] and not f.startswith(bundle)}
        assert len(rewritten) == 7 and all("svc-0001" in f for f in rewritten), sorted(rewritten)

        manifest.write_text("spec: [unclosed\n")
        settle(manifest)
        wait_for("a tick that reports the broken manifest", lambda: any(
            "manifest invalid" in (t.skip_reason or "") for t in _ticks(env)), BOUND)
        assert _files(out) == after  # nothing rewritten, not even the shared stages' exports
    finally:
        daemon.stop()
