"""Processes ctx owns (`ctx ui`'s Dagster tree) and runs owned by processes (orphaned runs failed).

The tree tests use a stand-in for `dagster dev`: a child with a grandchild that left the process
group and ignores SIGTERM (only SIGKILL stops it), the worst case `ctx ui` has to clean up.
tests/test_ui.py does the same with the real Dagster UI.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from dagster import DagsterRunStatus

from ctx_assets.build import get_instance
from ctx_assets.dagster_compat.recorded import orphans_left
from ctx_assets.defs.owners import (
    HOST_TAG,
    OWNER_ENV,
    PID_TAG,
    STARTED_TAG,
    fail_orphaned_runs,
    owner_env,
    owner_tags,
)
from ctx_assets.processes import proc_stat, process_start

from .conftest import ROOT
from .dagster_env import isolate

STUBBORN = ("import os, signal, sys, time; os.setsid(); signal.signal(signal.SIGTERM, signal.SIG_IGN); "
            "print('ready', flush=True); time.sleep(600)")
CHILD = textwrap.dedent(f"""
    import subprocess, sys, time
    stubborn = subprocess.Popen([sys.executable, "-c", {STUBBORN!r}], stdout=subprocess.PIPE, text=True)
    assert stubborn.stdout.readline().strip() == "ready"  # it ignores SIGTERM from here on
    plain = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    print(stubborn.pid, plain.pid, flush=True)
    if sys.argv[1] == "exit":
        sys.exit(3)  # leaves both behind, as a code server can outlive `dagster dev`
    time.sleep(600)
""")


def _supervise(mode: str) -> tuple[subprocess.Popen[str], list[int]]:
    code = ("import os, sys; from ctx_assets.processes import run_owned; "
            f"code, why = run_owned([sys.executable, '-c', {CHILD!r}, {mode!r}], dict(os.environ), grace=1.0); "
            "print(code, why, flush=True); sys.exit(code)")
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.PIPE, text=True,
                            start_new_session=True)
    line = proc.stdout.readline()  # type: ignore[union-attr]
    assert line, "the stand-in tree did not start"
    return proc, [int(p) for p in line.split()]


def _gone_within(pids: list[int], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while any(proc_stat(p) is not None for p in pids):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP])
def test_a_stop_signal_stops_the_whole_tree_escalating_to_sigkill(sig):
    proc, pids = _supervise("stay")
    try:
        child = [p for p in pids if proc_stat(p)]
        assert len(child) == 2
        start = time.monotonic()
        os.kill(proc.pid, sig)  # the supervisor only: it must take the others down itself
        out, _ = proc.communicate(timeout=20)
        assert _gone_within(pids, 0)  # the stubborn one too: SIGKILL after the grace period
        assert time.monotonic() - start < 10
        assert proc.returncode == 0 and out.strip() == f"0 {signal.Signals(sig).name}"
    finally:
        for p in pids:
            if proc_stat(p):
                os.kill(p, signal.SIGKILL)
        proc.kill()


def test_what_the_child_leaves_behind_is_stopped_and_its_code_returned():
    proc, pids = _supervise("exit")
    try:
        out, _ = proc.communicate(timeout=20)
        assert proc.returncode == 3 and out.strip() == "3 None"
        assert _gone_within(pids, 0)
    finally:
        for p in pids:
            if proc_stat(p):
                os.kill(p, signal.SIGKILL)


def test_owner_tags_name_ctx_build_or_the_ctx_ui_that_started_dagster(monkeypatch):
    mine = owner_tags(os.getpid())
    assert mine[PID_TAG] == str(os.getpid()) and mine[STARTED_TAG] == process_start(os.getpid())
    monkeypatch.delenv(OWNER_ENV, raising=False)
    assert owner_tags() == {}  # a Dagster process ctx did not start: its runs are nobody's to fail
    monkeypatch.setenv(OWNER_ENV, owner_env()[OWNER_ENV])  # what `ctx ui` passes to `dagster dev`
    assert owner_tags() == mine


def _unfinished_run(instance, tags: dict[str, str]) -> str:
    from dagster import DagsterRun

    run = instance.add_run(DagsterRun(job_name="m__ctx_artifacts", run_id=os.urandom(16).hex(),
                                      status=DagsterRunStatus.STARTED, tags=tags))
    return run.run_id


def test_runs_of_exited_owners_fail_live_and_foreign_ones_stay(monkeypatch, tmp_path):
    isolate(monkeypatch, tmp_path)
    instance = get_instance()
    exited = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                            text=True, check=True)
    dead_pid = int(exited.stdout)
    me = owner_tags(os.getpid())
    runs = {
        "dead": _unfinished_run(instance, {**me, PID_TAG: str(dead_pid)}),
        "reused": _unfinished_run(instance, {**me, STARTED_TAG: "1"}),  # this pid, but another process's start
        "alive": _unfinished_run(instance, me),
        "other host": _unfinished_run(instance, {**me, PID_TAG: str(dead_pid), HOST_TAG: "elsewhere"}),
        "not ctx's": _unfinished_run(instance, {}),
        "dead, no /proc": _unfinished_run(instance, {**me, PID_TAG: str(dead_pid), STARTED_TAG: ""}),
        "alive, no /proc": _unfinished_run(instance, {**me, STARTED_TAG: ""}),  # only liveness to go by
    }
    # What `ctx status` reads without Dagster sees them too, and leaves the sweep to the instance it opens.
    home = Path(instance.root_directory)
    assert orphans_left(home)
    failed = fail_orphaned_runs(instance)
    assert not orphans_left(home)  # the alive, foreign and untagged runs are not orphans
    assert sorted(failed) == sorted([runs["dead"], runs["reused"], runs["dead, no /proc"]])
    status = {k: instance.get_run_by_id(v).status for k, v in runs.items()}
    assert status == {"dead": DagsterRunStatus.FAILURE, "reused": DagsterRunStatus.FAILURE,
                      "alive": DagsterRunStatus.STARTED, "other host": DagsterRunStatus.STARTED,
                      "not ctx's": DagsterRunStatus.STARTED, "dead, no /proc": DagsterRunStatus.FAILURE,
                      "alive, no /proc": DagsterRunStatus.STARTED}
    reason = [e.message for e in instance.all_logs(runs["dead"]) if e.is_dagster_event][-1]
    assert f"pid {dead_pid}" in reason and "exited before the run finished" in reason


def test_a_step_that_cannot_start_leaves_none_of_the_started_ones_behind(tmp_path):
    """`ctx ui` starts three processes in turn; when one cannot start, the ones already running are stopped."""
    marker = tmp_path / "first.pid"
    first = [sys.executable, "-c", f"import os, time; open({str(marker)!r}, 'w').write(str(os.getpid())); "
                                   "time.sleep(600)"]
    code = ("import pathlib; from ctx_assets.processes import Step, run_owned_steps; "
            f"run_owned_steps([Step('first', {first!r}, ready=pathlib.Path({str(marker)!r}).exists), "
            "Step('second', ['/nonexistent/program'])], {}, grace=1.0)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode != 0 and "FileNotFoundError" in r.stderr
    pid = int(marker.read_text())
    assert proc_stat(pid) is None, "the first step outlived the failed start"
