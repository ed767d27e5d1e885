"""Helpers for tests that run the Dagster graph on a temporary, isolated instance."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import stat
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import yaml

from .conftest import ROOT, manifest_with_targets


def isolate(monkeypatch, tmp_path: Path) -> None:
    """Project-local home, Dagster home and trace file all under tmp_path."""
    monkeypatch.setenv("CTX_HOME", str(tmp_path / ".ctx"))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / ".ctx" / "dagster"))
    monkeypatch.setenv("CTX_TRACE_FILE", str(tmp_path / ".ctx" / "traces" / "spans.jsonl"))
    for var in ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
        monkeypatch.delenv(var, raising=False)
    from ctx_assets.telemetry.providers import Telemetry

    Telemetry.reset()


def small_manifest(tmp_path: Path, n: int = 3, name: str = "m.contextcore.yaml") -> Path:
    data = manifest_with_targets(n)
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    settle(path)
    return path


def edit(path: Path, mutate) -> None:
    data = yaml.safe_load(path.read_text())
    mutate(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    settle(path)


def settle(path: Path) -> None:
    """Make the file look edited a minute ago, past the sensor's debounce."""
    past = time.time() - 60
    os.utime(path, (past, past))


def disk_full_at(monkeypatch, part: str):
    """Every write into a bundle's staging (what a build's stages write) to a path containing `part` fails
    with ENOSPC (disk full) until the returned function is called (the disk has room again)."""
    import errno

    import ctx_assets.core.staging as store

    real = store.write_atomic

    def full(path: Path, data: bytes) -> None:
        if part in str(path):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        real(path, data)

    monkeypatch.setattr(store, "write_atomic", full)
    return lambda: monkeypatch.setattr(store, "write_atomic", real)


def cli_env(tmp_path: Path) -> dict[str, str]:
    """The environment of a `ctx` subprocess with its homes under tmp_path and no telemetry backend."""
    return {"CTX_HOME": str(tmp_path / ".ctx"), "DAGSTER_HOME": str(tmp_path / ".ctx" / "dagster"),
            "CTX_TRACE_FILE": str(tmp_path / ".ctx" / "traces" / "spans.jsonl"), "OTEL_EXPORTER_OTLP_ENDPOINT": ""}


class Snapshot:
    """A folder made once (a manifest, its built bundle and home) and put back before each test that uses it,
    at the same absolute path: the home's dagster.yaml, the plan memo and the checksum index name their
    paths, so a copy elsewhere would not be the same home. Bytes and mtimes come back as they were (the
    sensor's debounce reads the manifest's mtime); inodes are new, so what ctx caches by inode is
    recomputed. Put back whole: every test starts from the built state, whatever the last one changed."""

    def __init__(self, work: Path) -> None:
        self.work, self.saved = work, work.with_name(f"{work.name}.saved")
        shutil.copytree(work, self.saved, symlinks=True)

    def restore(self) -> Path:
        if self.work.exists():
            shutil.rmtree(self.work, onerror=_writable_then_retry)
        shutil.copytree(self.saved, self.work, symlinks=True)
        from ctx_assets.core.fsio import forget_made

        forget_made(self.work)  # the folders this process made there went with the old copy
        return self.work

    def remove(self) -> None:
        for folder in (self.work, self.saved):
            shutil.rmtree(folder, onerror=_writable_then_retry)


def _writable_then_retry(func, path: str, _exc) -> None:
    """rmtree's onerror: a test may have left a folder read-only."""
    parent = os.path.dirname(path)
    os.chmod(parent, os.stat(parent).st_mode | stat.S_IWUSR | stat.S_IXUSR)
    func(path)


def project_defs(manifest: Path, out: Path):
    """(project, definitions) of one manifest with its bundle in `out`, as `ctx build` makes them."""
    from ctx_assets.definitions import definitions_for, projects_for

    (project,) = projects_for([manifest], bundle_dirs=[out])
    return project, definitions_for([project])


@contextlib.contextmanager
def webserver_on(env: dict[str, str], port: int) -> Iterator[str]:
    """`dagster-webserver` on the checkout's workspace (ctx_assets.location with CTX_MANIFEST / CTX_OUT from
    `env`) on 127.0.0.1:`port`; yields its URL once it answers, stops it at the end."""
    exe = Path(sys.executable).with_name("dagster-webserver")
    proc = subprocess.Popen([str(exe), "-h", "127.0.0.1", "-p", str(port), "-w", "workspace.yaml"], cwd=ROOT,
                            env={**os.environ, **env}, start_new_session=True, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, proc.stderr.read()[-2000:]
            try:
                with urllib.request.urlopen(f"{url}/server_info", timeout=2):
                    break
            except OSError:
                assert time.monotonic() < deadline, "dagster-webserver did not come up"
                time.sleep(1)
        yield url
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=20)
