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
from ctx_assets.core.fsio import contained, contained_str
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
        staged, files = set(staging.staged_files(self.root)), staging.files_root(self.root)
        return {rel: file_checksum(contained_str(files if rel in staged else self.root, rel)) for rel in relatives}

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
        staged, files = set(staging.staged_files(self.root)), staging.files_root(self.root)

        def read_one(relative: str) -> bytes | None:
            try:
                with open(contained_str(files if relative in staged else self.root, relative), "rb") as f:
                    return f.read()
            except FileNotFoundError:
                return None

        return read_one

    def read_json(self, relative: str) -> Any:
        """The parsed file, parsed once per version of it (the seed: read by the stale choice, the artifact and
        output steps of a build). Callers share the object and must not change it."""
        p = staging.current(self.root, relative)
        key = _version(p)
        if _parsed.get("key") != key:
            _parsed.clear()
            _parsed.update(key=key, value=load_seed(p))
        return _parsed["value"]

    def write_json(self, relative: str, data: bytes, value: Any) -> Path:
        """`write` of a JSON file whose parsed `value` the caller holds (plan ingestion's seed: 33 MB at 1,000
        targets): the next `read_json` of it in this process returns `value` instead of parsing the file."""
        path = self.write(relative, data)
        _parsed.clear()
        _parsed.update(key=_version(staging.current(self.root, relative)), value=value)
        return path


@lru_cache(maxsize=64)
def _root(out_dir: str) -> Path:
    return Path(out_dir)  # asked for ~20,000 times by the output stage of 1,000 targets


# The last JSON file read or written, by version (path, mtime, size): one seed at a time, parsed compactly
# (shared task values interned: core/seed_reader.py).
_parsed: dict[str, Any] = {}


def _version(p: Path) -> tuple[str, int, int]:
    st = p.stat()
    return str(p), st.st_mtime_ns, st.st_size


def forget_parsed() -> None:
    """Drop the kept parse (a warm build process before each client: build/server.py)."""
    _parsed.clear()
