"""Expected faults as one line each: an unusable output folder (exit 2, before any run) and
environment faults during a run (exit 3: disk full, permission, read-only file system, instance).

A fault is named by its cause and the path it hit, never by a stack trace.
"""

from __future__ import annotations

import errno
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

# errno → the words an operator searches for; anything else falls back to strerror.
CAUSES = {errno.ENOSPC: "disk full", errno.EDQUOT: "disk quota exceeded", errno.EACCES: "permission denied",
          errno.EPERM: "permission denied", errno.EROFS: "read-only file system", errno.ENOTDIR: "not a folder",
          errno.EISDIR: "is a folder", errno.EIO: "I/O error", errno.EFBIG: "file too large"}
_ERRNO_RE = re.compile(r"\[Errno (\d+)\] ([^:]+)(?:: '(.*)')?")
_OS_ERRORS = {c.__name__ for c in (OSError, PermissionError, FileNotFoundError, FileExistsError, IsADirectoryError,
                                   NotADirectoryError, BlockingIOError, InterruptedError)}


class EnvironmentFault(Exception):
    """The environment failed a run (disk full, permission, instance unusable): exit 3, one line."""


class OutDirError(ValueError):
    """`--out` can never be written (a file, read-only, not permitted): exit 2, before any run."""


def describe(code: int | None, strerror: str | None, path: str | os.PathLike[str] | None) -> str:
    """`disk full: /out/x.yaml (No space left on device)`: cause, path, the system's own words."""
    cause = CAUSES.get(code or 0) or (strerror or "I/O error").lower()
    where = f": {path}" if path else ""
    detail = f" ({strerror})" if strerror and strerror.lower() != cause else ""
    return f"{cause}{where}{detail}"


def describe_os_error(e: OSError) -> str:
    return describe(e.errno, e.strerror or str(e), e.filename)


def check_out_dir(out: Path) -> None:
    """Refuse an output folder no build could write, before anything runs. A missing folder (and its
    missing parents) is fine: the build creates it, as `mkdir -p` would. Nothing is left behind."""
    existing = out
    while not existing.exists():  # the nearest existing ancestor decides
        if existing.is_symlink():
            raise OutDirError(f"--out {out}: {existing} is a dangling symlink")
        existing = existing.parent
    if not existing.is_dir():
        what = "the output folder" if existing == out else f"its parent {existing}"
        raise OutDirError(f"--out {out}: {what} is a file, not a folder")
    probe = existing / f".ctx-write-probe-{os.getpid()}"
    try:  # the operation a build performs (create a temp file), not a guess from the mode bits
        os.close(os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        os.unlink(probe)
    except OSError as e:
        raise OutDirError(f"--out {out}: not writable: {describe(e.errno, e.strerror, existing)}") from None
    if existing == out:
        _refuse_links_out(out)


def _refuse_links_out(out: Path) -> None:
    """A folder inside the bundle that is a link to a place outside it (`out/grafana -> /etc`) would have the
    build write there: refused before any run. Links inside the bundle, and links to files (replaced by the
    rename, never followed), are fine. One walk of the folders; only links are resolved."""
    root = out.resolve()
    for folder, dirs, _ in os.walk(out):
        for name in dirs:
            path = Path(folder) / name
            if path.is_symlink():
                target = path.resolve()
                if target != root and root not in target.parents:
                    raise OutDirError(f"--out {out}: {path} is a link to {target}, outside the output folder; "
                                      "make it a real folder")


def error_chain(info: Any) -> Iterator[Any]:
    """A Dagster `SerializableErrorInfo` and what caused it (the step's own exception is the cause of
    Dagster's wrapper), ten deep at most."""
    seen = 0
    while info is not None and seen < 10:
        yield info
        info, seen = info.cause or info.context, seen + 1


def fault_in_error(info: Any) -> str | None:
    """An OS error anywhere in a Dagster error chain, described in one line; None when the failure is not
    environmental."""
    for err in error_chain(info):
        if err.cls_name in _OS_ERRORS:
            m = _ERRNO_RE.search(err.message or "")
            if m:
                return describe(int(m.group(1)), m.group(2), m.group(3))
            return (err.message or err.cls_name).strip().splitlines()[-1]
    return None


def interrupted_in_error(info: Any) -> bool:
    """Whether Ctrl-C (SIGINT) is in a Dagster error chain: Dagster turns it into a
    DagsterExecutionInterruptedError in the running step and ends the run as failed."""
    return any(err.cls_name in ("DagsterExecutionInterruptedError", "KeyboardInterrupt") for err in error_chain(info))


def storage_error(e: BaseException | None) -> str | None:
    """The database driver's own message when `e`, or what caused it, is a storage error (SQLAlchemy or
    sqlite3: a corrupt, locked or full Dagster database); None otherwise."""
    for _ in range(10):
        if e is None:
            return None
        if type(e).__module__.split(".")[0] in ("sqlalchemy", "sqlite3"):
            inner = getattr(e, "orig", None) or e  # SQLAlchemy's wrapper adds the statement and a link
            return (str(inner).strip().splitlines() or [type(inner).__name__])[0][:300]
        e = e.__cause__ or e.__context__
    return None


def instance_unusable(home: str | os.PathLike[str] | None, reason: str) -> EnvironmentFault:
    return EnvironmentFault(f"Dagster instance at {home} is unusable: {reason}")

