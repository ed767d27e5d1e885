"""`ctx export` through a subprocess: files, JSON summary, exit codes, atomicity."""

from __future__ import annotations

import json

import yaml

from .conftest import EXAMPLE, MINIMAL, manifest_with_targets, run_ctx, write_manifest


def test_export_writes_three_files(tmp_path):
    r = run_ctx("export", str(EXAMPLE), "--out", str(tmp_path))
    assert r.returncode == 0, r.stderr
    for rel in ("export/artifact-manifest.yaml", "export/onboarding-metadata.json",
                "export/artisan-context-seed.json"):
        assert (tmp_path / rel).stat().st_size > 1000
    assert "gates: 6/6 passed" in r.stdout


def test_export_json_summary(tmp_path):
    r = run_ctx("export", str(EXAMPLE), "--out", str(tmp_path), "--json")
    out = json.loads(r.stdout)
    assert out["ok"] is True and len(out["files"]) == 3
    assert {g["gate"] for g in out["gates"]} >= {"field_preservation", "derivation_coverage",
                                                 "dependency_graph_acyclic", "secret_scan", "export_integrity",
                                                 "seed_completeness"}


def test_export_invalid_manifest_exit_2_nothing_written(tmp_path):
    bad = dict(MINIMAL, spec={"targets": []})
    r = run_ctx("export", str(write_manifest(tmp_path / "m.yaml", bad)), "--out", str(tmp_path / "out"))
    assert r.returncode == 2 and "spec.targets" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "out").exists()


def test_export_secret_fails_gate_and_keeps_previous_good_files(tmp_path):
    good = manifest_with_targets(2)
    path = write_manifest(tmp_path / "m.yaml", good)
    out = tmp_path / "out"
    assert run_ctx("export", str(path), "--out", str(out)).returncode == 0
    before = (out / "export/onboarding-metadata.json").read_bytes()
    good["metadata"]["links"]["repository"] = "https://bot:sup3rs3cret@git.example.com/x"
    write_manifest(path, good)
    r = run_ctx("export", str(path), "--out", str(out))
    assert r.returncode == 1
    assert "secret_scan" in r.stderr and "metadata.links.repository" in r.stderr
    assert "sup3rs3cret" not in r.stderr + r.stdout
    assert (out / "export/onboarding-metadata.json").read_bytes() == before


def test_export_seventeen_targets(tmp_path):
    path = write_manifest(tmp_path / "m.yaml", manifest_with_targets(17))
    assert run_ctx("export", str(path), "--out", str(tmp_path)).returncode == 0
    seed = json.loads((tmp_path / "export/artisan-context-seed.json").read_text())
    assert len(seed["tasks"]) == 119
    am = yaml.safe_load((tmp_path / "export/artifact-manifest.yaml").read_text())
    assert am["metadata"]["artifactCount"] == 119
