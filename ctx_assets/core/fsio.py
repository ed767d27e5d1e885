"""Atomic, contained file writes: no half-written output, no escaping the output folder."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


class UnsafePathError(ValueError):
    pass


def contained(root: Path, relative: str) -> Path:
    """`root/relative`, refusing anything that would resolve outside `root`."""
    if os.path.isabs(relative) or "\x00" in relative:
        raise UnsafePathError(f"{relative!r}: output paths must be relative")
    root_r = root.resolve()
    target = (root_r / relative).resolve()
    if target != root_r and root_r not in target.parents:
        raise UnsafePathError(f"{relative!r} escapes the output folder {root}")
    return target


def write_atomic(path: Path, data: bytes) -> None:
    """Write via a temp file in the same folder and rename, so readers never see half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; bundles are read by deploy tooling
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
