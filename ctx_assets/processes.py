"""Processes `ctx` starts and owns: the process table (/proc) and stopping a whole tree.

`ctx ui` runs Dagster's code server (one, for every manifest), its webserver and its daemon. They
run in one process group of their own (a new session, so a terminal's Ctrl-C reaches only `ctx`), `ctx`
becomes their subreaper (a grandchild whose parent exits is re-parented to `ctx`, not init,
so it is still found), and SIGTERM, SIGINT or SIGHUP to `ctx` stops all of them: SIGTERM to
every process of the tree, SIGKILL to what is left after a grace period, all within 10 s.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import IO

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
GRACE_SECONDS = 7.0  # SIGTERM → SIGKILL; with the kill wait below the tree is gone within 10 s
KILL_WAIT_SECONDS = 2.0
_PR_SET_CHILD_SUBREAPER = 36


class StopRequested(Exception):
    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def proc_stat(pid: int) -> list[str] | None:
    """/proc/PID/stat from field 3 (state) on, or None when the process is gone or a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2:].split()  # the command name may hold spaces and parentheses
    return None if fields[0] in ("Z", "X") else fields


def process_start(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (field 22): with the pid, it names one process
    for the life of the host (a reused pid has another start time)."""
    fields = proc_stat(pid)
    return fields[19] if fields else None


def process_alive(pid: int, group: bool = False) -> bool:
    """Whether process `pid` (or process group `pid`) exists; where /proc cannot say more, this is all
    there is (no start time to tell a reused pid apart)."""
    try:
        (os.killpg if group else os.kill)(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _table() -> dict[int, tuple[int, int]]:
    """{pid: (parent pid, process group)} of every live process; empty without /proc (the group suffices)."""
    out: dict[int, tuple[int, int]] = {}
    with contextlib.suppress(FileNotFoundError):
        for entry in os.scandir("/proc"):
            if entry.name.isdigit() and (fields := proc_stat(int(entry.name))):
                out[int(entry.name)] = (int(fields[1]), int(fields[2]))
    return out


def tree(root: int, group: int) -> set[int]:
    """Live descendants of `root` and live members of process group `group`."""
    table = _table()
    children: dict[int, list[int]] = {}
    for pid, (ppid, _) in table.items():
        children.setdefault(ppid, []).append(pid)
    found, todo = set(), [root]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found | {pid for pid, (_, pgid) in table.items() if pgid == group}


def _become_subreaper() -> None:
    with contextlib.suppress(OSError, AttributeError):  # Linux only; elsewhere the process group suffices
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


def _signal(pids: set[int], group: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(group, sig)
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)


def _reap() -> None:
    """Collect every exited child of ours (re-parented orphans included), so none lingers as a zombie."""
    with contextlib.suppress(ChildProcessError):
        while os.waitpid(-1, os.WNOHANG)[0]:
            pass


def _wait_gone(root: int, group: int, pids: set[int], seconds: float) -> set[int] | None:
    """None once the tree and the group are gone, else what is still there after `seconds`."""
    deadline = time.monotonic() + seconds
    while True:
        _reap()
        pids = {p for p in pids | tree(root, group) if proc_stat(p) is not None}
        if not pids and not process_alive(group, group=True):
            return None
        if time.monotonic() >= deadline:
            return pids
        time.sleep(0.1)


def stop_tree(child: subprocess.Popen[bytes], grace: float = GRACE_SECONDS) -> None:
    """SIGTERM to `child`'s whole tree (its group and every descendant of ours), SIGKILL to what is
    left after `grace`."""
    me, group = os.getpid(), child.pid
    _signal(tree(me, group), group, signal.SIGTERM)
    left = _wait_gone(me, group, set(), grace)
    if left is not None:
        _signal(left, group, signal.SIGKILL)
        _wait_gone(me, group, left, KILL_WAIT_SECONDS)
    with contextlib.suppress(subprocess.TimeoutExpired):
        child.wait(timeout=KILL_WAIT_SECONDS)


def _raise_stop(signum: int, _frame: FrameType | None) -> None:
    raise StopRequested(signum)


@dataclass
class Step:
    """One process of a tree `ctx` runs: started after the one before it is `ready()`."""

    name: str
    argv: Sequence[str]
    ready: Callable[[], bool] | None = None
    ready_timeout: float = 120.0


def run_owned(argv: Sequence[str], env: dict[str, str], grace: float = GRACE_SECONDS) -> tuple[int, str | None]:
    """Run `argv` as the leader of a new process group and wait. A stop signal to this process stops the
    whole tree. Returns (exit code, the stop signal's name or None when the child exited by itself)."""
    code, stopped, _ = run_owned_steps([Step("child", argv)], env, grace)
    return code, stopped


def run_owned_steps(steps: Sequence[Step], env: dict[str, str], grace: float = GRACE_SECONDS,
                    output: int | IO[bytes] | None = None,
                    on_ready: Callable[[], None] | None = None) -> tuple[int, str | None, str]:
    """Start `steps` in order (each once the one before is ready), call `on_ready`
    when the last is, and wait until one of them exits or a stop signal comes; then stop the whole tree.
    Returns (exit code of the one that exited, the stop signal's name or None, its step name)."""
    _become_subreaper()
    previous = {s: signal.signal(s, _raise_stop) for s in STOP_SIGNALS}
    started: list[tuple[Step, subprocess.Popen[bytes]]] = []
    code, stopped, who = 0, None, ""
    try:
        for step in steps:
            # each in a session of its own (a terminal's Ctrl-C reaches only ctx); stop_tree signals every
            # descendant of ctx, so one call stops them all
            started.append((step, subprocess.Popen(list(step.argv), env=env, stdout=output, stderr=output,
                                                   start_new_session=True)))
            deadline = time.monotonic() + step.ready_timeout
            while step.ready is not None and not step.ready():
                exited = _exited(started)
                if exited or time.monotonic() > deadline:
                    code, who = (exited[1], exited[0]) if exited else (1, f"{step.name} (not ready)")
                    raise _Exited
                time.sleep(0.2)
        if on_ready:
            on_ready()
        while not (exited := _exited(started)):
            time.sleep(0.5)
        code, who = exited[1], exited[0]
    except StopRequested as stop:
        stopped = str(stop)
    except _Exited:
        pass
    finally:  # also when starting one failed: what was started is stopped, never left behind
        for s in STOP_SIGNALS:  # a second Ctrl-C must not cut the clean-up short
            signal.signal(s, signal.SIG_IGN)
        try:
            for _, child in started:  # after a stop, or what a child left behind (a run outliving its server)
                stop_tree(child, grace)
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)
    return code, stopped, who


class _Exited(Exception):
    """A step exited (or never became ready) while the others were starting."""


def _exited(started: list[tuple[Step, subprocess.Popen[bytes]]]) -> tuple[str, int] | None:
    for step, child in started:
        code = child.poll()
        if code is not None:
            return step.name, code
    return None


# The tags naming a run's owning `ctx` process (defs/owners.py writes them; the next ctx command reads them).
PID_TAG, HOST_TAG, STARTED_TAG = "ctx/pid", "ctx/host", "ctx/process-start"


def owner_alive(tags: dict[str, str]) -> bool:
    """Whether the `ctx` process a run's tags name still runs (True when the tags name none)."""
    try:
        pid = int(tags[PID_TAG])
    except (KeyError, ValueError):
        return True  # not ours to judge
    if not tags.get(STARTED_TAG):  # no /proc where it ran: whether the pid lives is all there is to know
        return process_alive(pid)
    return process_start(pid) == tags[STARTED_TAG]
