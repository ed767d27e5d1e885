"""core/checksums.py's file_checksum: hashed once per version of a file, never an old version's sum."""

from __future__ import annotations

import hashlib
import os
import time

from ctx_assets.core import checksums
from ctx_assets.core.checksums import file_checksum, remember_file
from ctx_assets.core.fsio import write_atomic


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_an_unchanged_file_is_not_read_again(tmp_path, monkeypatch):
    f = tmp_path / "a.yaml"
    f.write_bytes(b"one")
    assert file_checksum(f) == _sha(b"one")
    hashed = []
    monkeypatch.setattr(checksums, "sha256_hex", lambda data: hashed.append(data) or _sha(data))
    assert file_checksum(f) == _sha(b"one") and hashed == []
    assert file_checksum(tmp_path / "missing") is None


def test_an_edit_in_place_with_the_same_size_and_mtime_is_seen(tmp_path):
    """A hand edit of the same length whose mtime is set back (touch -r, a restore) still changes the
    inode's ctime, which no user can set."""
    f = tmp_path / "a.yaml"
    f.write_bytes(b"one")
    assert file_checksum(f) == _sha(b"one")
    before = f.stat()
    f.write_bytes(b"two")
    while f.stat().st_ctime_ns == before.st_ctime_ns:  # within the file system's timestamp tick: write again
        time.sleep(0.001)
        f.write_bytes(b"two")
    os.utime(f, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert f.stat().st_mtime_ns == before.st_mtime_ns and f.stat().st_size == before.st_size
    assert file_checksum(f) == _sha(b"two")


def test_an_atomic_replace_and_a_remembered_write_are_seen(tmp_path):
    f = tmp_path / "a.yaml"
    write_atomic(f, b"one")
    assert remember_file(f, _sha(b"one")) == _sha(b"one") == file_checksum(f)
    write_atomic(f, b"two")  # a new inode in its place
    assert file_checksum(f) == _sha(b"two")
    f.unlink()
    assert file_checksum(f) is None
