"""Every expected fault ends in one line naming the cause and the path, with its exit code, and
the previous bundle byte-identical: a bad `--out` (2, before any run: a file, read-only, a folder inside
it that links outside), disk full, read-only, permission denied and an unusable instance during a run (3),
a failed gate (1, without Dagster's error blocks). The faulted builds build an edited manifest with
`--all`, so every file of the new bundle differs from the previous one: a half-new bundle cannot pass.

The faults are real where the machine allows: a full tmpfs and read-only bind mounts in a private mount
namespace (`unshare`), an unprivileged user (`setpriv`, when the tests run as root). A failure in the
artifacts stage is also injected in process, where no filesystem trick can aim at one stage.
"""

from __future__ import annotations

import functools
import os
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from ctx_assets.cli import main

from .conftest import ROOT, registry_breaking_prometheus_rule, run_ctx
from .dagster_env import Snapshot, cli_env, disk_full_at, edit, isolate, small_manifest

CTX = [sys.executable, "-m", "ctx_assets.cli"]


def _bundle(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


def _change(manifest: Path) -> None:
    """An edit that changes every file of the bundle (each carries the manifest's checksum) under --all."""
    edit(manifest, lambda d: d["metadata"].update(description="edited after the previous bundle was built"))


def one_line(code: int, rc: int, stdout: str, stderr: str) -> str:
    """The run ended with `code`, one `ctx: error:` line last on stderr, no stack trace, nothing on stdout."""
    assert rc == code, (rc, stderr[-3000:])
    lines = stderr.strip().splitlines()
    assert lines and lines[-1].startswith("ctx: error: "), lines[-5:]
    assert sum(line.startswith("ctx: error:") for line in lines) == 1, lines
    for noise in ("Traceback", "Stack Trace", "dagster - ERROR", "STEP_FAILURE"):
        assert noise not in stderr, stderr[-3000:]
    assert stdout == "", stdout[-2000:]  # no table, no "gates: n/n passed"
    return lines[-1]


# Where built_once builds: `--out` below two folders that do not exist yet (test_missing_parents_of_out_are_created
# checks that build instead of making one of its own: a fresh build is ~6 s of CPU).
OUT = Path("not", "yet", "out")


@pytest.fixture(scope="module")
def built_once() -> Iterator[tuple[Snapshot, dict[str, bytes]]]:
    """One `ctx build` of a 2-target manifest for every test here that starts from a built bundle, in a
    folder an unprivileged user can reach (pytest's own tmp root is private to its owner)."""
    root = Path(tempfile.mkdtemp(prefix="ctx-faults-"))
    root.chmod(0o777)
    work = root / "work"
    work.mkdir()
    manifest = small_manifest(work, n=2)
    assert not (work / OUT).parent.parent.exists()
    r = run_ctx("build", str(manifest), "--out", str(work / OUT), env=cli_env(work))
    assert r.returncode == 0, r.stderr[-2000:]
    snapshot = Snapshot(work)
    yield snapshot, _bundle(work / OUT)
    snapshot.remove()
    shutil.rmtree(root)


@pytest.fixture
def built(built_once) -> tuple[Path, Path, dict[str, str], dict[str, bytes]]:
    """A manifest, its bundle and the environment that built it, as the build left them."""
    snapshot, bundle = built_once
    work = snapshot.restore()
    return work / "m.contextcore.yaml", work / OUT, cli_env(work), bundle


# --- a bad --out: refused before any run (exit 2) ---------------------------------------------------------

@pytest.mark.parametrize("where", ["a file", "below a file"])
def test_out_that_is_or_is_below_a_file_is_refused_before_any_run(tmp_path, where):
    env, manifest = cli_env(tmp_path), small_manifest(tmp_path, n=1)
    blocker = tmp_path / "taken"
    blocker.write_text("not a folder\n")
    out = blocker if where == "a file" else blocker / "sub" / "out"
    r = run_ctx("build", str(manifest), "--out", str(out), env=env)
    line = one_line(2, r.returncode, r.stdout, r.stderr)
    assert str(out) in line and "is a file, not a folder" in line
    assert blocker.read_text() == "not a folder\n"
    assert not (tmp_path / ".ctx" / "dagster").exists()  # checked before the instance, let alone a run
    r = run_ctx("build", str(manifest), "--out", str(out), "--json", env=env)
    assert r.returncode == 2 and '"ok": false' in r.stdout and '"exit_code": 2' in r.stdout


def test_missing_parents_of_out_are_created(built):
    # built_once's build (exit 0 asserted there) had an --out whose two parents did not exist yet
    _, out, _, before = built
    assert out.parts[-3:] == OUT.parts and "export/provenance.json" in before
    assert (out / "export" / "provenance.json").is_file()


# --- real faults in a private mount namespace -------------------------------------------------------------

@functools.cache
def _namespaces() -> bool:
    probe = subprocess.run(["unshare", "-rm", "sh", "-c", "mount -t tmpfs -o size=64k tmpfs /mnt"],
                           capture_output=True) if shutil.which("unshare") else None
    return probe is not None and probe.returncode == 0


def _in_namespace(script: str, env: dict[str, str], **paths: Path) -> None:
    """Run `script` (sh) as root of a new user + mount namespace: its mounts vanish with it."""
    if not _namespaces():
        pytest.skip("unprivileged mount namespaces (unshare -rm) are not available here")
    full = {**os.environ, **env, "PY": sys.executable, **{k.upper(): str(v) for k, v in paths.items()}}
    r = subprocess.run(["unshare", "-rm", "sh", "-c", script], cwd=ROOT, env=full, capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]


def _captured(tmp_path: Path) -> tuple[int, str, str]:
    return (int((tmp_path / "rc").read_text()), (tmp_path / "stdout").read_text(),
            (tmp_path / "stderr").read_text())


BUILD = ('set +e; "$PY" -m ctx_assets.cli build "$MANIFEST" --out "$OUT" --all >"$TMP/stdout" 2>"$TMP/stderr"; '
         'echo $? >"$TMP/rc"')


@pytest.mark.parametrize("free_kib", [0, 24])
def test_disk_full_during_a_run_exit_3_and_the_previous_bundle_is_intact(built, tmp_path, free_kib):
    manifest, out, env, before = built
    full, after = tmp_path / "full", tmp_path / "after"
    full.mkdir()
    after.mkdir()
    _change(manifest)
    # the previous bundle on a small tmpfs that is then filled to the last block (or all but 24 KiB, where
    # the first files of the new bundle still fit): a real ENOSPC
    _in_namespace(f"""set -e
        mount -t tmpfs -o size=4m tmpfs "$FULL"
        cp -a "$OUT"/. "$FULL"/
        dd if=/dev/zero of="$FULL/.filler" bs=4k 2>/dev/null || true
        truncate -s -{free_kib}K "$FULL/.filler"
        OUT="$FULL"; {BUILD}; set -e
        rm "$FULL/.filler"; cp -a "$FULL"/. "$AFTER"/""", env, manifest=manifest, out=out, full=full, after=after,
                  tmp=tmp_path)
    line = one_line(3, *_captured(tmp_path))
    assert "disk full" in line and str(full) in line
    assert _bundle(after) == before  # every file as it was, no temp file left


def test_read_only_out_is_refused_before_any_run(built, tmp_path):
    manifest, out, env, before = built
    _in_namespace(f"""set -e
        mount --bind "$OUT" "$OUT"; mount -o remount,bind,ro "$OUT"
        {BUILD}""", env, manifest=manifest, out=out, tmp=tmp_path)
    line = one_line(2, *_captured(tmp_path))
    assert "not writable: read-only file system" in line and str(out) in line
    assert _bundle(out) == before


def test_read_only_folder_hit_during_a_run_exit_3(built, tmp_path):
    manifest, out, env, before = built
    _change(manifest)
    _in_namespace(f"""set -e
        D="$OUT/grafana/dashboards"; mount --bind "$D" "$D"; mount -o remount,bind,ro "$D"
        {BUILD}""", env, manifest=manifest, out=out, tmp=tmp_path)
    line = one_line(3, *_captured(tmp_path))
    assert "read-only file system" in line and str(out / "grafana" / "dashboards") in line
    assert _bundle(out) == before


# --- permission denied: a user who may not write there ----------------------------------------------------

def _unprivileged(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`ctx` as a user without write permission on 0o555 folders: nobody when the tests run as root."""
    if os.geteuid() == 0:
        if not shutil.which("setpriv"):
            pytest.skip("setpriv (util-linux) is needed to drop root for this test")
        drop = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
        probe = subprocess.run([*drop, sys.executable, "-c", "import ctx_assets.cli"], cwd=ROOT, capture_output=True)
        if probe.returncode:  # e.g. a clone inside a 0700 temp folder: nobody cannot even import the code
            pytest.skip(f"the checkout {ROOT} is not readable by an unprivileged user, so root cannot be dropped")
        args = [*drop, *args]
    return subprocess.run(args, cwd=ROOT, env={**os.environ, **env}, capture_output=True, text=True, timeout=300)


def _open_up(root: Path) -> None:
    for p in [root, *root.rglob("*")]:
        p.chmod(p.stat().st_mode | (stat.S_IRWXO if p.is_dir() else stat.S_IROTH | stat.S_IWOTH))


@pytest.mark.parametrize("locked", [".", "grafana/dashboards"])
def test_permission_denied_before_or_during_a_run(built, locked):
    manifest, out, env, before = built
    _change(manifest)
    _open_up(manifest.parent)  # the home and the bundle writable by anyone ...
    (out / locked).chmod(0o555)  # ... but this folder
    r = _unprivileged([*CTX, "build", str(manifest), "--out", str(out), "--all"], env)
    line = one_line(2 if locked == "." else 3, r.returncode, r.stdout, r.stderr)
    assert "permission denied" in line and str((out / locked).resolve() if locked != "." else out) in line
    assert _bundle(out) == before  # byte-identical: not one file replaced, no staging or temp file left


# --- a folder of the bundle that links outside the output folder: refused before any run -------------------

def test_a_bundle_folder_linked_outside_the_output_folder_is_refused_before_any_run(built, tmp_path):
    manifest, out, env, before = built
    elsewhere = tmp_path / "elsewhere"
    (out / "grafana").rename(elsewhere)
    (out / "grafana").symlink_to(elsewhere)
    theirs = _bundle(elsewhere)
    _change(manifest)
    for args in ([], ["--json"]):
        r = run_ctx("build", str(manifest), "--out", str(out), "--all", *args, env=env)
        if args:
            assert r.returncode == 2 and '"exit_code": 2' in r.stdout, r.stderr[-2000:]
            continue
        line = one_line(2, r.returncode, r.stdout, r.stderr)
        assert f"{out / 'grafana'} is a link to {elsewhere}, outside the output folder" in line
        assert "blocked" not in r.stderr  # no false "blocked" lines: nothing ran
    assert _bundle(elsewhere) == theirs
    assert {k: v for k, v in _bundle(out).items() if not k.startswith("grafana")} == \
        {k: v for k, v in before.items() if not k.startswith("grafana")}


# --- the instance -----------------------------------------------------------------------------------------

def test_unusable_instance_exit_3_in_one_line(built):
    manifest, out, env, before = built
    index = Path(env["DAGSTER_HOME"]) / "history" / "runs" / "index.db"
    for wal in index.parent.glob("index.db-*"):
        wal.unlink()
    index.write_bytes(b"not a database" * 300)
    for command in ("status", "build"):
        r = run_ctx(command, str(manifest), "--out", str(out), env=env)
        lines = r.stderr.strip().splitlines()
        line = one_line(3, r.returncode, r.stdout, "\n".join(x for x in lines if not x.startswith(("ctx build",
                                                                                                   "  stage"))))
        assert f"Dagster instance at {Path(env['DAGSTER_HOME']).resolve()} is unusable" in line
        assert "file is not a database" in line
    assert _bundle(out) == before


# --- in process: a fault in the artifacts stage, and a failed gate ----------------------------------------

def _main(monkeypatch, tmp_path, capfd, *args: str) -> tuple[int, str, str]:
    isolate(monkeypatch, tmp_path)
    monkeypatch.setenv("CTX_OUT", "")
    code = main(list(args))
    out, err = capfd.readouterr()
    return code, out, err


def test_disk_full_in_the_artifacts_stage(built, monkeypatch, capfd):
    manifest, out, _, before = built  # built_once's bundle is the previous one: no first build of its own
    work = manifest.parent  # _main's isolate() on it is built_once's environment (cli_env)
    _change(manifest)
    room_again = disk_full_at(monkeypatch, "dashboards")
    code, stdout, stderr = _main(monkeypatch, work, capfd, "build", str(manifest), "--out", str(out), "--all")
    progress = [x for x in stderr.splitlines() if not x.startswith(("ctx build", "  stage"))]
    line = one_line(3, code, stdout, "\n".join(progress))
    assert line.startswith("ctx: error: artifacts: disk full: ") and str(out / "grafana/dashboards") in line
    assert _bundle(out) == before  # the export, seed and every other artifact were staged, never swapped in
    room_again()  # the disk has room again: the new bundle, whole
    assert _main(monkeypatch, work, capfd, "build", str(manifest), "--out", str(out), "--all")[0] == 0
    after = _bundle(out)
    assert set(after) == set(before) and [k for k in after if after[k] == before[k]] == [".ctx-project"]


def test_failed_gate_prints_the_gate_once_and_no_dagster_error_blocks(monkeypatch, tmp_path, capfd):
    manifest = small_manifest(tmp_path, n=2)
    monkeypatch.setattr("ctx_assets.core.artisan.registry", lambda: registry_breaking_prometheus_rule("svc-0001"))
    code, stdout, stderr = _main(monkeypatch, tmp_path, capfd, "build", str(manifest), "--out", str(tmp_path / "o"))
    assert code == 1
    assert stderr.count("artifact_schema") == 1 and "FAILED gate artifact_schema on svc-0001-prometheus-rule" in stderr
    for noise in ("Traceback", "Stack Trace", "dagster - ERROR", "STEP_FAILURE", "WARNING"):
        assert noise not in stderr, stderr
    assert "gates: " in stdout and "prometheus_rule" in stdout  # the table says what failed, truthfully
