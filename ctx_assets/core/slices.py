"""Slices: the pieces of the last export and plan of an output folder, by the digest of what made them.

An edit of one target of 1,000 changes that target's seven artifact specs and seed tasks; the other
999 targets' pieces are the same bytes as before. Export and plan key each piece by a digest of
every input it is computed from (ctx's own code included), look it up here, compute only the missing
ones, and write the files by joining the pieces: the seed file is patched, not rebuilt. A stale piece
cannot be served: other inputs, another key (tests/test_slices.py compares every result with a
cold export and plan, byte for byte).

One folder per output folder (`<home>/cache/slices/<digest of its path>/`, plan_memo.cache_file), a
file per stage: an index of keys and byte ranges, then the pieces.
"""

from __future__ import annotations

import contextlib
import hashlib
from pathlib import Path
from typing import Any

import orjson

from .afterwards import later
from .fsio import write_atomic
from .plan_memo import cache_file

_MAGIC = b"ctx-slices 1\n"


def digest(*parts: Any) -> str:
    """sha256 over JSON-able parts (orjson: a 1,000-target export's keys cost milliseconds)."""
    h = hashlib.sha256()
    for part in parts:
        h.update(part if isinstance(part, bytes) else orjson.dumps(part))
        h.update(b"\0")
    return h.hexdigest()


class SliceCache:
    """Pieces by key. `path` None: an empty cache that saves nothing (a cold export or plan)."""

    def __init__(self, path: Path | None = None):
        self.path = path
        self._index: dict[str, list[int]] = {}
        self._blob = memoryview(b"")  # pieces are views of it: joined into files without a copy each
        self._used: dict[str, bytes | memoryview] = {}
        self._unread = path is not None  # read at the first `get`: a stage that never asks reads nothing
        self.hits = self.misses = 0

    def _load(self) -> None:
        self._unread = False
        with contextlib.suppress(OSError, ValueError, TypeError):
            raw = self.path.read_bytes()  # type: ignore[union-attr]
            if not raw.startswith(_MAGIC):
                return
            end = raw.index(b"\n", len(_MAGIC))
            index = orjson.loads(raw[len(_MAGIC):end])
            if isinstance(index, dict):
                self._index, self._blob = index, memoryview(raw)[end + 1:]

    def get(self, key: str) -> bytes | memoryview | None:
        if self._unread:
            self._load()
        found = self._used.get(key)
        if found is None and (span := self._index.get(key)) is not None:
            found = self._used[key] = self._blob[span[0]:span[1]]
        if found is None:
            self.misses += 1
        else:
            self.hits += 1
        return found

    def put(self, key: str, value: bytes | memoryview) -> None:
        self._used[key] = value

    def save(self) -> None:
        """Keep the pieces this export or plan used (unless that is exactly what the file holds, or it asked
        for none)."""
        if self.path is None or self._unread or (not self.misses and self._used.keys() == self._index.keys()):
            return
        index, pos = {}, 0
        for key, value in self._used.items():
            index[key] = [pos, pos + len(value)]
            pos += len(value)
        path, pieces = self.path, [_MAGIC, orjson.dumps(index), b"\n", *self._used.values()]

        def write() -> None:
            with contextlib.suppress(OSError):  # a cache: a home that cannot take it costs the next export time
                write_atomic(path, b"".join(pieces))

        later(write)  # after the answer, in a warm build process


def slices_dir(home: Path, out: Path) -> Path:
    """Where the slices of output folder `out` are kept."""
    return cache_file(home, "slices", out, suffix="")


def slice_caches(folder: Path | None) -> tuple[SliceCache, SliceCache]:
    """The export's and the plan's slices kept in `folder` (None: empty ones that save nothing)."""
    if folder is None:
        return SliceCache(), SliceCache()
    return SliceCache(folder / "export.bin"), SliceCache(folder / "plan.bin")
