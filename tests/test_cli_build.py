"""`ctx build`, `ctx status` and `ctx trace` as a user runs them (subprocess, temporary project home).

The whole user flow (build, status, an edit, the incremental, no-op and full rebuilds, a blocked build,
the trace) runs twice: as shipped, and on Dagster's public API alone (CTX_DAGSTER_PUBLIC_API=1: no private
Dagster call, Dagster's own SQLite storage; ctx_assets/dagster_compat) — there without `status --verbose`
and the `--all` rebuild, whose output and selection only ctx's own code decides. The narrower tests after it run
in the mode the environment sets (as shipped, unless CTX_DAGSTER_PUBLIC_API=1): what they check (output
folders, tables, a blocked status's cause, progress lines) is ctx's own code either way.
"""

from __future__ import annotations

import json

import pytest

from .conftest import run_ctx
from .dagster_env import cli_env, edit, small_manifest


@pytest.fixture(params=["private-fast-path", "public-api-only"])
def api_mode(request, monkeypatch):
    if request.param == "public-api-only":
        monkeypatch.setenv("CTX_DAGSTER_PUBLIC_API", "1")
    else:
        monkeypatch.delenv("CTX_DAGSTER_PUBLIC_API", raising=False)
    return request.param


def test_build_status_trace_and_a_failed_rebuild(tmp_path, api_mode):
    env, out = cli_env(tmp_path), tmp_path / "bundle"
    manifest = small_manifest(tmp_path, n=2)
    r = run_ctx("build", str(manifest), "--out", str(out), "--json", env=env)
    assert r.returncode == 0, r.stderr
    config = (tmp_path / ".ctx" / "dagster" / "dagster.yaml").read_text()  # the home's storage follows the mode
    if api_mode == "public-api-only":
        assert "sqlite:" in config and "ctx_assets" not in config
    else:
        assert "class: KeptSqliteStorage" in config
    s = json.loads(r.stdout)
    assert s["ok"] and s["run_id"] and len(s["trace_id"]) == 32
    assert len(s["materialized"]) == 14
    art = next(a for a in s["artifacts"] if a["id"] == "svc-0001-dashboard")
    assert art == {"id": "svc-0001-dashboard", "type": "dashboard", "target": "svc-0001",
                   "path": "grafana/dashboards/svc-0001-dashboard.json", "checksum": art["checksum"], "status": "built"}
    gate = next(g for g in s["gates"] if g["artifact_id"] == "svc-0001-dashboard" and g["name"] == "output_contract")
    assert gate["result"] == "passed" and gate["violations"] == []

    r = run_ctx("status", str(manifest), "--out", str(out), env=env)
    assert r.returncode == 0 and "15 fresh, 0 stale, 0 missing" in r.stdout
    # a header and a summary; each artifact only with --verbose (or when it is not fresh)
    assert r.stdout.splitlines()[0] == f"{manifest} -> {out}: 14 artifacts and provenance.json"
    assert "svc-0001-dashboard" not in r.stdout and "--verbose lists every artifact" in r.stdout
    public = api_mode == "public-api-only"  # there, the steps that only ctx's own code decides are skipped
    if not public:
        r = run_ctx("status", str(manifest), "--out", str(out), "--verbose", env=env)
        rows = [line.split() for line in r.stdout.splitlines()[1:-1]]
        assert rows[0] == ["ARTIFACT", "STATUS", "CAUSE"] and len(rows) == 16 and all(x[1] == "fresh" for x in rows[1:])
    edit(manifest, lambda d: d["spec"]["targets"][0].update(namespace="elsewhere"))
    r = run_ctx("status", str(manifest), "--out", str(out), "--json", env=env)
    rows = {a["id"]: a for a in json.loads(r.stdout)["artifacts"]}
    assert rows["svc-0000-runbook"]["status"] == "stale" and "parameters.namespace" in rows["svc-0000-runbook"]["cause"]
    assert rows["svc-0001-runbook"]["status"] == "fresh"

    r = run_ctx("build", str(manifest), "--out", str(out), "--json", env=env)  # incremental by default
    assert r.returncode == 0, r.stderr
    assert sorted(json.loads(r.stdout)["materialized"]) == sorted(a for a in rows if a.startswith("svc-0000"))
    r = run_ctx("build", str(manifest), "--out", str(out), "--json", env=env)
    assert json.loads(r.stdout)["materialized"] == []  # nothing stale: nothing rebuilt
    if not public:  # the selection of `--all` is ctx's own
        r = run_ctx("build", str(manifest), "--out", str(out), "--all", "--json", env=env)
        assert len(json.loads(r.stdout)["materialized"]) == 14

    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    edit(manifest, lambda d: d["metadata"]["links"].update(repository="https://ci:t0ps3cretpw@git.example.com/x"))
    r = run_ctx("build", str(manifest), "--out", str(out), env=env)
    assert r.returncode == 1
    assert "FAILED gate secret_scan on export" in r.stderr and "metadata.links.repository" in r.stderr
    assert "t0ps3cretpw" not in r.stdout + r.stderr
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before  # previous bundle intact

    r = run_ctx("trace", "--last", env=env)
    assert r.returncode == 0 and "gate secret_scan: failed (blocking)" in r.stdout and "result=failure" in r.stdout


def test_build_invalid_manifest_exit_2_and_unknown_target(tmp_path):
    env = cli_env(tmp_path)
    manifest = small_manifest(tmp_path, n=1)
    r = run_ctx("build", str(manifest), "--out", str(tmp_path / "o"), "--targets", "nope", env=env)
    assert r.returncode == 2 and "unknown target(s): nope" in r.stderr
    edit(manifest, lambda d: d["spec"].update(targets=[]))
    r = run_ctx("build", str(manifest), "--out", str(tmp_path / "o"), env=env)
    assert r.returncode == 2 and "spec.targets" in r.stderr and "Traceback" not in r.stderr
    assert not any(p.is_file() for p in (tmp_path / "o").rglob("*"))
    # issue 22: an invalid manifest writes nothing anywhere, the home's instance, spans and logs included
    # (run_build itself, the library call, still traces an invalid manifest: tests/test_tracing.py)
    assert not (tmp_path / ".ctx").exists() and not (tmp_path / "o").exists()


def test_default_out_is_the_manifest_name_no_op_build_has_no_table_and_counts_read_right(tmp_path):
    env = {**cli_env(tmp_path), "CTX_OUT": ""}
    manifest = small_manifest(tmp_path, n=1, name=".contextcore.yaml")  # the file name says nothing
    out = tmp_path / "out" / "online-boutique"  # metadata.name, as the README says
    r = run_ctx("build", str(manifest), cwd=tmp_path, env=env)
    assert r.returncode == 0, r.stderr
    assert "-> out/online-boutique" in r.stderr and (out / "export" / "provenance.json").is_file()
    assert "artifact type" in r.stdout and "materialized 7 artifacts into" in r.stdout
    r = run_ctx("build", str(manifest), cwd=tmp_path, env=env)  # nothing stale
    assert r.returncode == 0 and "artifact type" not in r.stdout and "materialized 0 artifacts" in r.stdout
    edit(manifest, lambda d: d["guidance"]["questions"][0].update(question="Which dashboard panels matter most?"))
    r = run_ctx("build", str(manifest), cwd=tmp_path, env=env)  # only the dashboard reads the questions
    assert "materialized 1 artifact into" in r.stdout and "dashboard " in r.stdout
    assert "valid (1 target," in run_ctx("validate", str(manifest)).stdout
    r = run_ctx("status", str(manifest), cwd=tmp_path, env=env)
    assert r.returncode == 0 and "8 fresh, 0 stale, 0 missing" in r.stdout


def test_status_of_a_blocked_export_names_the_gate_and_a_long_artifact_run_reports_each_chunk(tmp_path):
    """Also: one artifact run of many targets lasts minutes at 10,000: `ctx build` says how far it is, per
    chunk (CTX_CHUNK_TARGETS), between the run's start and its result (checked on the good build below,
    which needs a fresh home either way: one fresh build, ~6 s of CPU, fewer than two tests of their own)."""
    env, out = {**cli_env(tmp_path), "CTX_CHUNK_TARGETS": "2"}, tmp_path / "o"
    manifest = small_manifest(tmp_path, n=5)
    clean = manifest.read_text()
    edit(manifest, lambda d: d["metadata"]["links"].update(repository="https://ci:t0ps3cretpw@git.example.com/x"))
    blocked = manifest.read_text()
    r = run_ctx("status", str(manifest), "--out", str(out), env=env)
    assert r.returncode == 1 and "the export is blocked by a failing gate" in r.stderr
    assert "gate secret_scan: failed (blocking)" in r.stderr and "Traceback" not in r.stderr
    # a header, every artifact naming the gate, a summary line
    lines = r.stdout.splitlines()
    assert lines[0] == f"{manifest} -> {out}: 35 artifacts and provenance.json" and lines[1].split() == [
        "ARTIFACT", "STATUS", "CAUSE"]
    assert len(lines) == 39 and all(line.split(None, 1)[1] == "missing  blocked by secret_scan on export"
                                    for line in lines[2:-1])
    assert lines[-1].startswith("0 fresh, 0 stale, 36 missing; blocked by secret_scan on export")
    r = run_ctx("status", str(manifest), "--out", str(out), "--json", env=env)
    s = json.loads(r.stdout)
    assert r.returncode == 1 and s["ok"] is False and s["blocked"] is True
    assert [g["gate"] for g in s["gates"]] == ["secret_scan"] and s["blocked_by"] == "secret_scan on export"
    assert {(a["status"], a["cause"]) for a in s["artifacts"]} == {("missing", "blocked by secret_scan on export")}
    assert "t0ps3cretpw" not in r.stdout + r.stderr

    # after a good build, a blocked one: the files on disk are from the earlier manifest, and nothing rebuilds them
    manifest.write_text(clean)
    r = run_ctx("build", str(manifest), "--out", str(out), env=env)
    assert r.returncode == 0, r.stderr
    progress = [x.strip() for x in r.stderr.splitlines() if x.strip().startswith("stage artisan")]
    assert progress == ["stage artisan: run 1/1: 5 targets (svc-0000 … svc-0004), 7 types",
                        "stage artisan: 2/5 targets", "stage artisan: 4/5 targets", "stage artisan: 5/5 targets",
                        "stage artisan: 35/35 built"], r.stderr
    manifest.write_text(blocked)
    assert run_ctx("build", str(manifest), "--out", str(out), env=env).returncode == 1
    r = run_ctx("status", str(manifest), "--out", str(out), env=env)
    lines = r.stdout.splitlines()
    assert r.returncode == 1 and len(lines) == 39
    assert all(line.split(None, 1)[1].startswith("stale    blocked by secret_scan on export; ") for line in lines[2:-1])
    assert lines[-1].startswith("0 fresh, 36 stale, 0 missing; blocked by secret_scan on export")
