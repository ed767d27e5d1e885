"""Atomic, contained file writes: no half-written output, no escaping the output folder."""

from __future__ import annotations

import itertools
import os
from functools import lru_cache
from pathlib import Path

_COUNTER = itertools.count()
_MADE: set[Path] = set()  # folders this process created or found, so 7,000 writes skip 7,000 mkdirs


class UnsafePathError(ValueError):
    pass


@lru_cache(maxsize=256)
def _resolved_dir(root: str, directory: str) -> Path:
    """`root/directory` resolved (symlinks followed) and checked to stay inside root; cached per folder,
    since a bundle writes thousands of files into a handful of folders."""
    root_r = Path(root).resolve()
    target = (root_r / directory).resolve()
    if target != root_r and root_r not in target.parents:
        raise UnsafePathError(f"{directory!r} escapes the output folder {root}")
    return target


def contained(root: Path, relative: str) -> Path:
    """`root/relative`, refusing anything that would resolve outside `root`."""
    if os.path.isabs(relative) or "\x00" in relative:
        raise UnsafePathError(f"{relative!r}: output paths must be relative")
    directory, _, name = relative.replace("\\", "/").rpartition("/")
    if name in ("", ".", ".."):
        raise UnsafePathError(f"{relative!r}: not a file name")
    # The last component is replaced by rename, never followed, so resolving its folder suffices.
    return _resolved_dir(str(root), directory) / name


def write_atomic(path: Path, data: bytes) -> None:
    """Write a temp file in the same folder and rename it, so readers never see half a file."""
    path = Path(path)
    if path.parent not in _MADE:
        path.parent.mkdir(parents=True, exist_ok=True)
        _MADE.add(path.parent)
    tmp = f"{path.parent}/.{path.name}.{os.getpid()}.{next(_COUNTER)}.tmp"
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
    except OSError as e:  # name the file being written, not its temp file (a failed write names none)
        raise type(e)(e.errno, e.strerror, str(path)) from e
