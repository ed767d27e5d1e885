"""The whole-bundle swap (issue 22 item 4), on the pure functions: staged files go into the bundle all
together or not at all; a failure in the middle of the swap puts every replaced file back; a swap killed
midway is finished by the next run; what a killed or faulted writer staged is never committed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from ctx_assets.core import staging
from ctx_assets.core.fsio import OWNER_FILE, OwnedByAnotherProject, UnsafePathError, write_atomic

from .conftest import ROOT

OLD = {"kustomization.yaml": b"old k\n", "export/provenance.json": b"{}\n", "grafana/dashboards/a.json": b"old a",
       "prometheus/rules/a.yaml": b"old rule"}
NEW = {"kustomization.yaml": b"new k\n", "export/provenance.json": b'{"new": 1}\n',
       "grafana/dashboards/a.json": b"new a", "grafana/dashboards/b.json": b"new b",
       "prometheus/rules/a.yaml": b"new rule", "slo/a.yaml": b"a brand new folder"}


def _tree(root: Path) -> dict[str, bytes]:
    """Every file below root, hidden ones included, and every folder (as None): byte-identical means this."""
    return {str(p.relative_to(root)): (p.read_bytes() if p.is_file() else None) for p in sorted(root.rglob("*"))}


@pytest.fixture
def out(tmp_path: Path) -> Path:
    out = tmp_path / "out"
    for rel, data in OLD.items():
        write_atomic(out / rel, data)
    return out


def _stage(out: Path, files: dict[str, bytes]) -> None:
    marker = staging.begin_write(out)
    for rel, data in files.items():
        write_atomic(staging.staged(out, rel), data)
    staging.end_write(marker, ok=True)


def _bundle_only(out: Path) -> dict[str, bytes | None]:
    return {k: v for k, v in _tree(out).items() if not k.startswith(staging.STAGING)}


def test_commit_moves_every_staged_file_into_the_bundle_and_removes_the_staging(out):
    before = _tree(out)
    _stage(out, NEW)
    assert _bundle_only(out) == before and staging.pending(out)  # staged: the bundle is still the old one
    assert staging.commit(out, "shop") == len(NEW)
    files = {k: v for k, v in _tree(out).items() if v is not None}
    assert files == {**NEW, OWNER_FILE: b"shop\n"}
    assert not staging.root_of(out).exists() and not staging.pending(out)


def test_a_move_that_fails_midway_puts_every_replaced_file_back(out):
    (out / "q" / "d.txt").mkdir(parents=True)  # a folder where the new bundle has a file: that move fails
    before = _tree(out)
    _stage(out, {**NEW, "q/d.txt": b"cannot land"})  # moved in sorted order: export/, grafana/, … q/, slo/
    with pytest.raises(IsADirectoryError) as e:
        staging.commit(out)
    assert e.value.filename == str(out / "q" / "d.txt")
    assert _tree(out) == before  # the replaced files back, the new ones gone, no slo/ folder, no staging


def test_a_destination_folder_linked_outside_the_output_folder_is_refused_before_anything_moves(out, tmp_path):
    outside = tmp_path / "elsewhere"
    (out / "grafana").rename(outside)
    (out / "grafana").symlink_to(outside)
    before, before_outside = _tree(out), _tree(outside)
    _stage(out, NEW)
    with pytest.raises(UnsafePathError, match="outside the output folder"):
        staging.commit(out)
    assert _tree(out) == before and _tree(outside) == before_outside


def test_another_projects_folder_is_refused_before_anything_moves(out):
    (out / OWNER_FILE).write_text("other\n")
    before = _tree(out)
    _stage(out, NEW)
    with pytest.raises(OwnedByAnotherProject):
        staging.commit(out, "shop")
    assert _tree(out) == before


def test_a_step_that_faulted_makes_the_staging_uncommittable(out):
    before = _tree(out)
    marker = staging.begin_write(out)
    write_atomic(staging.staged(out, "grafana/dashboards/a.json"), b"new a")
    staging.end_write(marker, ok=False)  # e.g. disk full on the next file
    with pytest.raises(staging.StagingIncomplete):
        staging.commit(out)
    assert _tree(out) == before


def _python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)


def test_a_killed_writers_staging_is_never_committed_and_the_next_run_removes_it(out):
    before = _tree(out)
    r = _python(f"""import os
from pathlib import Path
from ctx_assets.core import staging
from ctx_assets.core.fsio import write_atomic
out = Path({str(out)!r})
staging.begin_write(out)
write_atomic(staging.staged(out, "grafana/dashboards/a.json"), b"new a")
os._exit(9)  # killed mid-step: its marker stays""")
    assert r.returncode == 9, r.stderr
    assert _bundle_only(out) == before and staging.pending(out)
    with pytest.raises(staging.StagingIncomplete):
        staging.commit(out)  # the output stage refuses it (and drops it)
    assert _tree(out) == before
    r = _python(f"""import os
from pathlib import Path
from ctx_assets.core import staging
from ctx_assets.core.fsio import write_atomic
out = Path({str(out)!r})
staging.begin_write(out)
write_atomic(staging.staged(out, "kustomization.yaml"), b"half")
os._exit(9)""")
    staging.recover(out)  # the next build, before it writes
    assert _tree(out) == before


def test_a_live_writer_in_another_process_is_left_alone(out):
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (staging.root_of(out) / staging.WRITERS).mkdir(parents=True)
        (staging.root_of(out) / staging.WRITERS / f"{sleeper.pid}.0").touch()
        with pytest.raises(staging.StagingBusy, match=str(sleeper.pid)):
            staging.recover(out)
        with pytest.raises(staging.StagingBusy):
            staging.commit(out)
        assert (staging.root_of(out) / staging.WRITERS / f"{sleeper.pid}.0").exists()
    finally:
        sleeper.kill()
        sleeper.wait()


def test_a_commit_killed_midway_is_finished_by_the_next_run(out):
    """kill -9 between two renames of the swap: the bundle is a mix until the next run rolls it forward
    (every staged file was whole before the swap began), so it ends as the new bundle, whole."""
    r = _python(f"""import os, signal
from pathlib import Path
from ctx_assets.core import staging
from ctx_assets.core.fsio import write_atomic
out = Path({str(out)!r})
marker = staging.begin_write(out)
for rel, data in {NEW!r}.items():
    write_atomic(staging.staged(out, rel), data)
staging.end_write(marker, ok=True)
real, calls = os.replace, []
def dying(src, dst):
    calls.extend([dst] if "/files/" in str(src) and "ctx-probe" not in str(src) else [])  # the moves only
    if len(calls) == 3:
        os.kill(os.getpid(), signal.SIGKILL)
    real(src, dst)
staging.os.replace = dying
staging.commit(out)""")
    assert r.returncode == -9, r.stderr
    mixed = _bundle_only(out)
    assert mixed["export/provenance.json"] == NEW["export/provenance.json"]
    assert mixed["prometheus/rules/a.yaml"] == OLD["prometheus/rules/a.yaml"]  # not reached
    staging.recover(out)
    assert {k: v for k, v in _tree(out).items() if v is not None} == NEW
    assert not staging.root_of(out).exists()



def test_a_committed_files_checksum_is_known_without_hashing_it_again(out, monkeypatch):
    """A rename changes the file's change time: without carrying its checksum over, `ctx status` after every
    build would hash the whole bundle again (7,000 files at 1,000 targets)."""
    from ctx_assets.core import checksums

    _stage(out, NEW)
    for rel, data in NEW.items():
        checksums.remember_file(staging.staged(out, rel), checksums.sha256_hex(data))  # as OutputStore.write does
    staging.commit(out, "shop")

    def no_hashing(data: bytes) -> str:
        raise AssertionError("hashed a committed file again")

    monkeypatch.setattr(checksums, "sha256_hex", no_hashing)
    assert checksums.file_checksum(out / "grafana/dashboards/b.json") == checksums.hashlib.sha256(b"new b").hexdigest()


def test_a_written_seed_is_read_back_as_the_writers_object_until_the_file_changes(out: Path):
    """Plan ingestion hands its parsed seed to the build's next steps (OutputStore.write_json) instead of
    letting them parse 33 MB again: read_json returns that object while the file is the one written, and
    parses the file as soon as another version replaces it (another process's plan, a commit)."""
    import orjson

    from ctx_assets.resources.output_store import OutputStore

    store = OutputStore(manifest_path="m.yaml", out_dir=str(out))
    seed = {"tasks": [{"artifact_id": "a"}], "schema_id": "x"}
    store.write_json("export/seed.json", orjson.dumps(seed), seed)
    assert store.read_json("export/seed.json") is seed
    staging.stage(out, "export/seed.json", orjson.dumps({"tasks": [], "schema_id": "y"}))  # another writer
    assert store.read_json("export/seed.json") == {"tasks": [], "schema_id": "y"}
