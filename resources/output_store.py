"""Where the bundle lives: the manifest to read and the output folder to write, atomically."""

from __future__ import annotations

import os
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

from dagster import ConfigurableResource

from ctx_assets.core.checksums import file_checksum, remember_file
from ctx_assets.core.fsio import contained, write_atomic
from ctx_assets.core.seed_reader import load_seed

DEFAULT_MANIFEST = "examples/online-boutique.contextcore.yaml"


def default_manifest() -> str:
    return os.environ.get("CTX_MANIFEST", DEFAULT_MANIFEST)


_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")


def default_out(manifest: str) -> str:
    """`$CTX_OUT`, else `out/<metadata.name>` (the name an operator knows the bundle by), else
    `out/<file name>` while the manifest cannot be read or names nothing usable as a folder."""
    if os.environ.get("CTX_OUT"):
        return os.environ["CTX_OUT"]
    from ctx_assets.core.loader import ManifestLoadError, load_manifest_file

    try:  # the safe loader with its limits; ~40 ms at 1,000 targets
        data = load_manifest_file(manifest).data
    except ManifestLoadError:
        data = None
    metadata = data.get("metadata") if isinstance(data, dict) else None
    name = metadata.get("name") if isinstance(metadata, dict) else None
    if not (isinstance(name, str) and _DNS_LABEL.match(name)):
        name = Path(manifest).name.removesuffix(".yaml").removesuffix(".contextcore") or "bundle"
    return str(Path("out") / name)


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
