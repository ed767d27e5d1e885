"""Where the bundle lives: the manifest to read and the output folder to write, staged then swapped whole."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any

from dagster import ConfigurableResource, Failure

from ctx_assets.core import staging
from ctx_assets.core.checksums import file_checksum, remember_file, sha256_hex
from ctx_assets.core.fsio import contained
from ctx_assets.core.seed_reader import load_seed


class OutputStore(ConfigurableResource):
    """The manifest path and the output folder. Stages write below `OUT/.ctx-staging` and read there first,
    then in the bundle; the output stage commits the staging into the bundle in one step
    (core/staging.py), so a build that faults leaves the previous bundle exactly as it was."""

    manifest_path: str
    out_dir: str
    project: str = ""  # the project whose bundle out_dir holds: claimed when a commit writes there

    @property
    def root(self) -> Path:
        return _root(self.out_dir)

    def path(self, relative: str) -> Path:
        """The file's place in the bundle (committed content)."""
        return contained(self.root, relative)

    @contextmanager
    def writing(self) -> Iterator[None]:
        """Around a step that writes: a step that raises (other than a gate's Failure) marks the staging
        incomplete, so it is never committed; a killed step leaves its marker, with the same effect."""
        marker = staging.begin_write(self.root)
        try:
            yield
        except Failure:  # a blocking gate: the step ends as designed, the files that passed are good
            staging.end_write(marker, ok=True)
            raise
        except BaseException:
            staging.end_write(marker, ok=False)
            raise
        staging.end_write(marker, ok=True)

    def write(self, relative: str, data: bytes, checksum: str | None = None) -> Path:
        """Into the staging. `checksum`, the sha256 of `data` when the caller has it (an artifact's), is
        remembered for `checksum()`: provenance and status need it next, without reading the file back."""
        p = staging.stage(self.root, relative, data)
        if checksum:
            remember_file(p, checksum)
        return self.path(relative)  # where it will be once committed

    def commit(self) -> int:
        """Every staged file into the bundle, all or none (core/staging.commit); returns how many."""
        return staging.commit(self.root, self.project or None)

    def write_changed(self, relative: str, data: bytes) -> str:
        """Write unless the file holds exactly `data` already (a bundle-level file of a target nobody edited:
        2,000 of them at 1,000 targets); returns the content's sha256."""
        digest = sha256_hex(data)
        if self.checksum(relative) != digest:
            self.write(relative, data, digest)
        return digest

    def checksum(self, relative: str) -> str | None:
        """sha256 of the file, None when there is none (core/checksums.py: hashed once per version)."""
        found = file_checksum(staging.staged(self.root, relative))
        return found if found is not None else file_checksum(self.path(relative))

    def checksums(self, relatives: list[str]) -> dict[str, str | None]:
        """`checksum` of many files: the staging listed once instead of looked up per file (provenance asks
        for 7,000 at 1,000 targets, of which an edit staged seven)."""
        staged = set(staging.staged_files(self.root))
        return {rel: file_checksum(staging.staged(self.root, rel) if rel in staged else self.path(rel))
                for rel in relatives}

    def read(self, relative: str) -> bytes | None:
        for p in (staging.staged(self.root, relative), self.path(relative)):
            try:
                return p.read_bytes()
            except FileNotFoundError:
                continue
        return None

    def reader(self) -> Callable[[str], bytes | None]:
        """`read` for many files once the writing is done: the staging listed once, not looked up per file
        (provenance reads 6,000 artifact files at 1,000 targets, of which an edit staged seven)."""
        staged = set(staging.staged_files(self.root))

        def read_one(relative: str) -> bytes | None:
            try:
                return (staging.staged(self.root, relative) if relative in staged else self.path(relative)).read_bytes()
            except FileNotFoundError:
                return None

        return read_one

    def read_json(self, relative: str) -> Any:
        p = staging.current(self.root, relative)
        st = p.stat()
        return _cached_json(str(p), st.st_mtime_ns, st.st_size)


@lru_cache(maxsize=64)
def _root(out_dir: str) -> Path:
    return Path(out_dir)  # asked for ~20,000 times by the output stage of 1,000 targets


@lru_cache(maxsize=1)
def _cached_json(path: str, mtime_ns: int, size: int) -> Any:
    """The seed is read by the artifact and output steps of a build; parse it once per version of the
    file, compactly (shared task values interned: core/seed_reader.py)."""
    return load_seed(path)
