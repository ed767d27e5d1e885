"""After a blocked build the UI tells the truth: every target is a partition, every artifact of it a failed
partition naming the gate, read back through the webserver's GraphQL and seen by a headless Chromium."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import yaml

from .dagster_env import isolate, settle, webserver_on
from .test_one_run_build import _graphql
from .test_ui import ARTIFACT_ASSETS, _chromium, _port

FAKE_KEY = "AKIAIOSFODNN7EXAMPLQ"  # a fake AWS access key id (tests/secret_corpus.py's form)
TARGETS = ["api", "web"]


def _blocked_manifest(tmp: Path) -> Path:
    """A new user's two-target manifest with a credential in a risk mitigation (it feeds the runbook)."""
    data = {"apiVersion": "contextcore.io/v1alpha2", "kind": "ContextManifest", "metadata": {"name": "two"},
            "spec": {"targets": [{"kind": "Deployment", "name": t, "namespace": "shop"} for t in TARGETS],
                     "risks": [{"type": "security", "description": "leaked keys", "priority": "P1",
                                "mitigation": f"rotate key {FAKE_KEY} weekly"}]}}
    path = tmp / "two.contextcore.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    settle(path)
    return path


@pytest.fixture(scope="module")
def blocked_build(tmp_path_factory):
    from ctx_assets.build import run_build

    tmp = tmp_path_factory.mktemp("truth")
    mp = pytest.MonkeyPatch()
    isolate(mp, tmp)
    manifest = _blocked_manifest(tmp)
    summary = run_build(manifest, tmp / "out")
    yield tmp, manifest, summary
    mp.undo()


@pytest.fixture(scope="module")
def webserver(blocked_build):
    tmp, manifest, _ = blocked_build
    env = {"DAGSTER_HOME": str(tmp / ".ctx" / "dagster"), "CTX_HOME": str(tmp / ".ctx"),
           "CTX_MANIFEST": str(manifest), "CTX_OUT": str(tmp / "out")}
    with webserver_on(env, _port()) as url:
        _graphql(url, "mutation { setNuxSeen }")  # the newsletter dialog would cover the page
        yield url


def test_a_blocked_build_fails_and_says_which_gate(blocked_build):
    _, _, s = blocked_build
    assert not s.ok and not s.materialized
    assert {g["name"] for g in s.failed_gates} == {"secret_scan"}
    assert len(s.run_ids) == 2  # the shared stages, and the artifact run that records every target as failed


def test_every_target_is_a_failed_partition_of_every_artifact_naming_the_gate(webserver):
    nodes = " ".join(f'{name}: assetNodes(assetKeys: [{{path: ["two", "{name}"]}}]) {{ assetPartitionStatuses {{ '
                     "... on DefaultPartitionStatuses { materializedPartitions failedPartitions "
                     "materializingPartitions } } partitionStats { numPartitions numFailed numMaterialized } }"
                     for name in ARTIFACT_ASSETS)
    data = _graphql(webserver, "{ " + nodes + """
      checks: assetCheckExecutions(assetKey: {path: ["two", "runbook"]}, checkName: "artifact_gates", limit: 10) {
        partition status
        evaluation { success description metadataEntries { label ... on TextMetadataEntry { text } } } }
    }""")
    for name in ARTIFACT_ASSETS:
        (node,) = data[name]
        assert node["partitionStats"] == {"numPartitions": 2, "numFailed": 2, "numMaterialized": 0}, name
        status = node["assetPartitionStatuses"]
        assert sorted(status["failedPartitions"]) == TARGETS, name
        assert not status["materializedPartitions"] and not status["materializingPartitions"], name
    checks = {c["partition"]: c for c in data["checks"]}
    assert sorted(checks) == TARGETS
    for c in checks.values():
        assert c["status"] == "FAILED" and not c["evaluation"]["success"]
        assert c["evaluation"]["description"].startswith("blocked by secret_scan on export: spec.risks[0].mitigation")
        meta = {m["label"]: m.get("text") for m in c["evaluation"]["metadataEntries"]}
        assert meta["blocked_by"] == "secret_scan on export"
        assert meta["gate.violation.0.field"] == "spec.risks[0].mitigation"
    assert FAKE_KEY not in json.dumps(data)


def _chrome(url: str, tmp: Path, *flags: str) -> str:
    r = subprocess.run([_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                        "--disable-background-networking", "--disable-component-update", "--disable-sync",
                        f"--user-data-dir={tmp / 'profile'}", "--virtual-time-budget=30000",
                        "--window-size=1600,1000", *flags, url], capture_output=True, text=True, timeout=180,
                       cwd=tmp)
    return r.stdout


def test_the_partition_page_shows_the_targets_failed_and_the_check_names_the_gate(webserver, tmp_path):
    page = f"{webserver}/assets/two/runbook?view=partitions&partition=api"
    html = ""
    for _ in range(3):  # the first load may race the code location's start
        html = _chrome(page, tmp_path, "--dump-dom")
        if "Failed (2)" in html:
            break
    assert "Failed (2)" in html and "Missing (0)" in html and "Materialized (0)" in html
    assert "failed, and did not materialize this asset" in html
    checks = _chrome(f"{webserver}/assets/two/runbook?view=checks&checkDetail=artifact_gates", tmp_path, "--dump-dom")
    assert "blocked by secret_scan on export" in checks and FAKE_KEY not in checks
    shot = tmp_path / "partitions.png"
    _chrome(page, tmp_path, f"--screenshot={shot}")
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000
