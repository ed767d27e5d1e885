"""Commands that find nothing changed answer from the plan memo, without planning or Dagster (issue 23).

`ctx status` and a no-op `ctx build` of an unchanged manifest read the memo (core/plan_memo.py), the embedded
home's records (dagster_compat/recorded.py) and the persisted checksum index (core/checksums.py). What this
protects: the fast answers are the slow path's answers, every change the slow path would see (manifest,
code, export on disk, an artifact or bundle-level file edited or deleted) still reaches it, and the
commands that need no Dagster do not import it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ctx_assets.core import checksums
from ctx_assets.core.plan_memo import memo_path, read_memo

from .conftest import run_ctx
from .dagster_env import Snapshot, cli_env, edit, small_manifest


@pytest.fixture(scope="module")
def built_once(tmp_path_factory) -> Iterator[Snapshot]:
    """One `ctx build` of a 2-target manifest for the whole module: a fresh build is ~6 s of CPU, putting
    its folder back (dagster_env.Snapshot, same paths, so the memo and home still name them) a few ms."""
    work = tmp_path_factory.mktemp("built") / "work"
    work.mkdir()
    r = run_ctx("build", str(small_manifest(work, n=2)), "--out", str(work / "bundle"), env=cli_env(work))
    assert r.returncode == 0, r.stderr
    snapshot = Snapshot(work)
    yield snapshot
    snapshot.remove()


@pytest.fixture
def built(built_once) -> tuple[dict[str, str], Path, Path]:
    """(env, manifest, bundle) as the build left them, whatever the test before changed."""
    work = built_once.restore()
    return cli_env(work), work / "m.contextcore.yaml", work / "bundle"


def _status(manifest: Path, out: Path, env: dict[str, str]) -> list[dict[str, str]]:
    r = run_ctx("status", str(manifest), "--out", str(out), "--json", env=env)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)["artifacts"]


def _slow_status(manifest: Path, out: Path, env: dict[str, str]) -> list[dict[str, str]]:
    """The slow path's answer: export + plan + the opened instance (build.status.compute_status)."""
    code = ("import json, sys; from pathlib import Path; from ctx_assets.build import compute_status; "
            "print(json.dumps([r.as_dict() for r in compute_status(sys.argv[1], Path(sys.argv[2]))]))")
    p = subprocess.run([sys.executable, "-c", code, str(manifest), str(out)], env={**os.environ, **env},
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)


def test_a_build_leaves_a_memo_that_describes_its_plan(built):
    env, manifest, out = built
    home = Path(env["CTX_HOME"])
    memo = read_memo(home, out, manifest.read_bytes())
    assert memo is not None and len(memo.tasks) == 14
    assert {g["name"] for g in memo.gates} >= {"manifest_schema", "secret_scan", "seed_completeness"}
    assert all(g["result"] == "passed" for g in memo.gates)
    assert read_memo(home, out, manifest.read_bytes() + b"\n# edited\n") is None  # another manifest: a miss
    seed = out / "export" / "artisan-context-seed.json"
    seed.write_bytes(seed.read_bytes().replace(b'"svc-0000"', b'"svc-000X"', 1))  # the plan on disk changed
    assert read_memo(home, out, manifest.read_bytes()) is None
    assert memo_path(home, out).parent == home / "cache" / "plans"  # never inside the bundle


def test_a_noop_build_runs_nothing_and_reports_the_shared_gates(built):
    env, manifest, out = built
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()}
    r = run_ctx("build", str(manifest), "--out", str(out), "--json", env=env)
    assert r.returncode == 0, r.stderr
    s = json.loads(r.stdout)
    assert s["ok"] and s["run_ids"] == [] and s["materialized"] == [] and len(s["trace_id"]) == 32
    assert s["gates"] and all(g["result"] == "passed" for g in s["gates"])
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()} == before  # nothing rewritten
    r = run_ctx("trace", "--last", "--json", env=env)
    root = json.loads(r.stdout)["spans"][0]
    assert root["name"] == "ctx build" and any(e["name"] == "nothing stale" for e in root["events"])


def test_the_fast_status_is_the_slow_status(built):
    env, manifest, out = built
    assert _status(manifest, out, env) == _slow_status(manifest, out, env)
    dash = out / "grafana" / "dashboards" / "svc-0001-dashboard.json"
    dash.write_text(dash.read_text().replace("svc-0001", "svc-0001 "))  # edited by hand
    (out / "kustomization.yaml").unlink()  # a bundle-level file deleted
    fast = _status(manifest, out, env)
    assert fast == _slow_status(manifest, out, env)
    by_id = {r["id"]: r for r in fast}
    assert by_id["svc-0001-dashboard"]["status"] == "stale" and "differs" in by_id["svc-0001-dashboard"]["cause"]
    assert by_id["provenance"]["status"] == "stale" and "kustomization.yaml" in by_id["provenance"]["cause"]
    # not a no-op: the build repairs both, and then it is one
    r = run_ctx("build", str(manifest), "--out", str(out), "--json", env=env)
    assert r.returncode == 0 and json.loads(r.stdout)["run_ids"], r.stderr
    assert (out / "kustomization.yaml").is_file()
    assert all(row["status"] == "fresh" for row in _status(manifest, out, env))


def test_an_edit_of_one_target_leaves_the_others_bundle_files_untouched(built):
    env, manifest, out = built  # 2 targets: one edited, one other whose files must stay untouched
    plain = {t: out / "prometheus" / "plain" / f"{t}-rules.yaml" for t in ("svc-0000", "svc-0001")}
    cm = {t: out / "k8s" / "grafana" / f"{t}-dashboard-configmap.yaml" for t in ("svc-0000", "svc-0001")}
    before = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in [*plain.values(), *cm.values()]}
    edit(manifest, lambda d: d["spec"]["targets"][1].update(namespace="elsewhere"))
    r = run_ctx("build", str(manifest), "--out", str(out), "--json", env=env)
    assert r.returncode == 0, r.stderr
    assert sorted(json.loads(r.stdout)["materialized"])[0].startswith("svc-0001")
    for p in (plain["svc-0000"], cm["svc-0000"]):  # not edited: same bytes, not even rewritten
        assert (p.read_bytes(), p.stat().st_mtime_ns) == before[p]
    for p in (plain["svc-0001"], cm["svc-0001"]):
        assert p.read_bytes() != before[p][0]
    new_sum = checksums.sha256_hex(manifest.read_bytes())
    assert new_sum.encode() in plain["svc-0001"].read_bytes()  # it carries the manifest it was built from
    prov = json.loads((out / "export" / "provenance.json").read_text())
    assert prov["bundle_files"]["kustomization.yaml"] == checksums.sha256_hex((out / "kustomization.yaml").read_bytes())
    assert all(checksums.sha256_hex((out / rel).read_bytes()) == digest for rel, digest in prov["bundle_files"].items())


@pytest.mark.parametrize("command", [["status"], ["validate"], ["trace", "--last"]])
def test_read_only_commands_do_not_import_dagster(built, command):
    env, manifest, out = built
    args = [*command, str(manifest), "--out", str(out)] if command[0] == "status" else \
        [*command, str(manifest)] if command[0] == "validate" else command
    code = ("import sys; from ctx_assets.cli import main; rc = main(sys.argv[1:]); "
            "print('DAGSTER' if 'dagster' in sys.modules else 'NO-DAGSTER', file=sys.stderr); sys.exit(rc)")
    p = subprocess.run([sys.executable, "-c", code, *args], env={**os.environ, **env}, capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    assert p.stderr.strip().splitlines()[-1] == "NO-DAGSTER"


def test_the_checksum_index_outlives_the_process_but_not_a_change(tmp_path, monkeypatch):
    monkeypatch.setattr(checksums, "_FILES", {})
    monkeypatch.setattr(checksums, "_PATHS", {})
    f, index = tmp_path / "a.txt", tmp_path / "index.json"
    f.write_bytes(b"one")
    old = time.time_ns() - 10 * checksums.RACY_NS
    os.utime(f, ns=(old, old))
    assert checksums.file_checksum(f) == checksums.sha256_hex(b"one")
    checksums.save_index(index, now_ns=time.time_ns() + 10 * checksums.RACY_NS)
    saved = json.loads(index.read_bytes())["files"]
    assert list(saved) == [str(f.resolve())]
    # a new process: the saved digest is used while the stat is the same (proof: a planted digest is returned)
    monkeypatch.setattr(checksums, "_FILES", {})
    saved[str(f.resolve())][-1] = "planted"
    index.write_text(json.dumps({"version": 1, "files": saved}))
    checksums.load_index(index)
    assert checksums.file_checksum(f) == "planted"
    f.write_bytes(b"two")  # any change to the file's stat: hashed again
    assert checksums.file_checksum(f) == checksums.sha256_hex(b"two")


def test_racily_clean_entries_are_not_saved(tmp_path, monkeypatch):
    monkeypatch.setattr(checksums, "_FILES", {})
    monkeypatch.setattr(checksums, "_PATHS", {})
    f, index = tmp_path / "a.txt", tmp_path / "index.json"
    f.write_bytes(b"fresh")
    checksums.file_checksum(f)
    checksums.save_index(index, now_ns=f.stat().st_ctime_ns + 1)  # hashed in the same tick it changed
    assert json.loads(index.read_bytes())["files"] == {}
