"""Parsed documents of artifact files, by the sha256 of the file's bytes, kept between builds.

Provenance regenerates `alertmanager/alertmanager.yml` from every target's notification policy after any
edit; rendering 1,000 policies again to get their documents took ~1.6 s of a one-target rebuild. The
cache is content-addressed, so a stale entry cannot be served: other bytes, another key.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import orjson

from .fsio import write_atomic


class DocumentCache:
    def __init__(self, path: Path):
        self.path = path
        self._docs: dict[str, Any] = {}
        self.used: set[str] = set()
        with contextlib.suppress(OSError, ValueError):
            loaded = orjson.loads(path.read_bytes())
            if isinstance(loaded, dict):
                self._docs = loaded

    def get(self, digest: str) -> Any | None:
        found = self._docs.get(digest)
        if found is not None:
            self.used.add(digest)
        return found

    def put(self, digest: str, doc: Any) -> None:
        self._docs[digest] = doc
        self.used.add(digest)

    def save(self) -> None:
        """Keep the documents this build used (the others describe files no longer in the bundle)."""
        with contextlib.suppress(OSError, TypeError):  # a cache: a home that cannot take it costs time only
            write_atomic(self.path, orjson.dumps({k: self._docs[k] for k in sorted(self.used)}))
