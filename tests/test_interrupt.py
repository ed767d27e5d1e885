"""Ctrl-C during a `ctx build` in the user's own process: the build stops where it is, says "interrupted"
and exits 130, and the bundle is exactly the previous one.

What this protects: Dagster turns SIGINT inside a step into a failed step (DagsterExecutionInterruptedError)
and a failed run; a build that took that for an ordinary failure went on to its output stage and exited 1
with two error lines. The build is held inside its artifact gates by a stand-in promtool/amtool that
waits, so the signal lands in a step every time (an event, not a sleep); it goes to the build's whole
process group, as a terminal sends it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from ctx_assets.core.staging import STAGING

from .conftest import ROOT, run_ctx
from .dagster_env import edit, small_manifest
from .support.servers import wait_for

pytestmark = pytest.mark.slow


def test_ctrl_c_in_a_step_stops_the_build_with_130_and_keeps_the_bundle(tmp_path: Path):
    env = {"CTX_HOME": str(tmp_path / ".ctx"), "DAGSTER_HOME": str(tmp_path / ".ctx" / "dagster"),
           "CTX_BUILD_SERVER": "0"}
    manifest, out = small_manifest(tmp_path), tmp_path / "out"
    assert run_ctx("build", str(manifest), "--out", str(out), env=env).returncode == 0
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    tools, started = tmp_path / "tools", tmp_path / "validator-started"
    tools.mkdir()
    for name in ("promtool", "amtool"):  # the first call says it runs, then waits for the signal
        (tools / name).write_text(f"#!/bin/sh\n[ -e {started} ] && exit 0\necho $$ > {started}\nexec sleep 600\n")
        (tools / name).chmod(0o755)
    # a new availability gives every rule file a new shape: the validators' verdict cache cannot answer
    edit(manifest, lambda d: d["spec"].setdefault("requirements", {}).update(availability="99.5"))
    build = subprocess.Popen([sys.executable, "-m", "ctx_assets.cli", "build", str(manifest), "--out", str(out)],
                             cwd=ROOT, env={**os.environ, **env, "PATH": f"{tools}:{os.environ['PATH']}"},
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        wait_for("the build to reach a validator", started.exists, 120, every=0.1)
        os.killpg(build.pid, signal.SIGINT)
        _, err = build.communicate(timeout=120)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(build.pid, signal.SIGKILL)
    assert build.returncode == 130, err[-2000:]
    assert "ctx: interrupted" in err and "error:" not in err and "stage output" not in err, err[-2000:]
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before  # nothing half-written
    assert not (out / STAGING).exists()
    # the home is usable at once: the next build of the same edit completes
    again = run_ctx("build", str(manifest), "--out", str(out), env=env)
    assert again.returncode == 0 and "materialized" in again.stdout, again.stderr[-2000:]
