"""Where the bundle lives: the manifest to read and the output folder to write, atomically."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from dagster import ConfigurableResource

from ctx_assets.core.checksums import file_checksum, remember_file, sha256_hex
from ctx_assets.core.fsio import contained, write_atomic
from ctx_assets.core.seed_reader import load_seed


class OutputStore(ConfigurableResource):
    """The manifest path and the output folder (files written atomically, never outside it)."""

    manifest_path: str
    out_dir: str

    @property
    def root(self) -> Path:
        return Path(self.out_dir)

    def path(self, relative: str) -> Path:
        return contained(self.root, relative)

    def write(self, relative: str, data: bytes, checksum: str | None = None) -> Path:
        """`checksum`, the sha256 of `data` when the caller has it (an artifact's), is remembered for
        `checksum()`: provenance and status need it next, without reading the file back."""
        p = self.path(relative)
        write_atomic(p, data)
        if checksum:
            remember_file(p, checksum)
        return p

    def write_changed(self, relative: str, data: bytes) -> str:
        """Write unless the file holds exactly `data` already (a bundle-level file of a target nobody edited:
        2,000 of them at 1,000 targets); returns the content's sha256."""
        digest = sha256_hex(data)
        if self.checksum(relative) != digest:
            self.write(relative, data, digest)
        return digest

    def checksum(self, relative: str) -> str | None:
        """sha256 of the file, None when there is none (core/checksums.py: hashed once per version)."""
        return file_checksum(self.path(relative))

    def read(self, relative: str) -> bytes | None:
        p = self.path(relative)
        return p.read_bytes() if p.exists() else None

    def read_json(self, relative: str) -> Any:
        p = self.path(relative)
        st = p.stat()
        return _cached_json(str(p), st.st_mtime_ns, st.st_size)


@lru_cache(maxsize=1)
def _cached_json(path: str, mtime_ns: int, size: int) -> Any:
    """The seed is read by the artifact and output steps of a build; parse it once per version of the
    file, compactly (shared task values interned: core/seed_reader.py)."""
    return load_seed(path)
