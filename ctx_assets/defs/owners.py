"""Which process owns a run, and failing the runs of processes that died (no run left "in progress").

Every run `ctx` starts (a build's runs in process; the sensor's runs under `ctx ui`) carries the
owning `ctx` process as tags: pid, host and the process's start time, so a pid the kernel has
since reused is not mistaken for the owner. The next `ctx build`, `ctx status` or `ctx ui` marks
the unfinished runs of owners that are gone as failed, through Dagster's own run-status API
(`report_run_failed`, a RUN_FAILURE event with the reason), so the UI stops showing them as running.
"""

from __future__ import annotations

import logging
import os
import socket

from dagster import DagsterInstance, DagsterRunStatus, RunsFilter

from ctx_assets.core.text import plural
from ctx_assets.dagster_compat.recorded import UNFINISHED_STATUSES
from ctx_assets.processes import HOST_TAG, PID_TAG, STARTED_TAG, owner_alive, process_start
from ctx_assets.settings import settings

# Set by `ctx ui` for Dagster's processes, so the sensor's runs name `ctx ui` as their owner.
OWNER_ENV = "CTX_RUN_OWNER"
UNFINISHED = [DagsterRunStatus(s) for s in UNFINISHED_STATUSES]
log = logging.getLogger("ctx_assets")


def owner_tags(pid: int | None = None) -> dict[str, str]:
    """Tags naming a run's owner: process `pid` (`ctx build` passes its own), else the `ctx ui` that started
    this Dagster process (CTX_RUN_OWNER), else nobody: a run Dagster alone started is not ours to fail."""
    if pid is None:
        inherited = settings().run_owner
        if ":" not in inherited:
            return {}
        owner, started = inherited.split(":", 1)
    else:
        owner, started = str(pid), process_start(pid) or ""
    return {PID_TAG: owner, HOST_TAG: socket.gethostname(), STARTED_TAG: started}


def owner_env() -> dict[str, str]:
    """The environment for Dagster processes whose runs this process owns (`ctx ui`)."""
    return {OWNER_ENV: f"{os.getpid()}:{process_start(os.getpid()) or ''}"}


def fail_orphaned_runs(instance: DagsterInstance) -> list[str]:
    """Mark failed every unfinished run whose `ctx` owner on this host has exited; returns their ids.
    Runs of other hosts, and runs Dagster started without an owner tag, are left alone."""
    host = socket.gethostname()
    orphaned = [r for r in instance.get_runs(RunsFilter(statuses=UNFINISHED, tags={HOST_TAG: host}))
                if not owner_alive(r.tags)]
    for run in orphaned:
        instance.report_run_failed(run, message=(
            f"the ctx process that ran it (pid {run.tags[PID_TAG]} on {host}) exited before the run finished "
            "(killed or crashed); marked failed by the next ctx command"))
    if orphaned:
        log.warning("marked %s of exited ctx processes as failed: %s", plural(len(orphaned), "run"),
                    ", ".join(r.run_id[:8] for r in orphaned[:5]))
    return [r.run_id for r in orphaned]
