"""`ctx trace` as an API (issue 12, item 4): span objects, the tree rendered from them, look-ups by
artifact id and by a deployed file's checksum, and a quiet exit when the reader goes away."""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys

import pytest

from ctx_assets.build import run_build
from ctx_assets.contracts import semconv as sc
from ctx_assets.telemetry.providers import Telemetry
from ctx_assets.telemetry.view import SCHEMA, render, walk

from .conftest import ROOT, run_ctx
from .dagster_env import isolate, small_manifest

SPAN_KEYS = {"name", "trace_id", "span_id", "parent_id", "start", "start_unix_nano", "duration_ms", "status",
             "status_message", "attributes", "events", "links", "children"}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """Two builds of one manifest, the second forced (--all), written to the local spans file."""
    tmp = tmp_path_factory.mktemp("trace-api")
    mp = pytest.MonkeyPatch()
    isolate(mp, tmp)
    manifest = small_manifest(tmp, n=3)
    first = run_build(manifest, tmp / "out")
    second = run_build(manifest, tmp / "out", stale_only=False)
    Telemetry.reset()  # flush and close, as the CLI process does at exit
    assert first.ok and second.ok
    yield tmp, first, second, dict(os.environ)
    mp.undo()


def _ctx_json(env, *args):
    r = run_ctx("trace", *args, "--json", env=env)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def test_json_is_a_tree_of_span_objects_and_the_text_is_rendered_from_it(built):
    tmp, _, second, env = built
    doc = _ctx_json(env, "--last")
    assert doc["schema"] == SCHEMA and doc["trace_id"] == second.trace_id and doc["result"] == "success"
    (root,) = doc["spans"]
    assert root["name"] == sc.SPAN_BUILD and root["parent_id"] is None and root["status"] == "unset"
    spans = list(walk(doc["spans"]))
    assert len(spans) == doc["span_count"]
    for o in spans:
        assert set(o) == SPAN_KEYS, o["name"]
        assert re.fullmatch(r"[0-9a-f]{16}", o["span_id"]) and o["trace_id"] == second.trace_id
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", o["start"]) and o["duration_ms"] >= 0
        for child in o["children"]:
            assert child["parent_id"] == o["span_id"]
        starts = [c["start_unix_nano"] for c in o["children"]]
        assert starts == sorted(starts)
    dash = next(o for o in spans if o["name"] == "artifact svc-0001-dashboard")
    assert [c["name"] for c in dash["children"]] == ["DESIGN", "IMPLEMENT"]
    assert {ln["attributes"][sc.LINK_TYPE] for ln in dash["links"]} == {sc.LINK_DEPENDS_ON, sc.LINK_CONSTRAINED_BY}
    gates = [e for c in dash["children"] for e in c["events"] if e["name"] == sc.EVENT_GATE]
    assert {e["attributes"][sc.GATE_NAME] for e in gates} >= {"size_estimate", "output_contract"}
    question = next(o for o in spans if o["attributes"].get(sc.QUESTION_ID) == "Q-DASHBOARD-FORMAT")
    assert {ln["span_id"] for ln in question["links"]} == {o["span_id"] for o in spans
                                                            if o["name"].startswith("artifact svc-")
                                                            and o["name"].endswith("-dashboard")}
    r = run_ctx("trace", "--last", env=env)
    text = r.stdout.splitlines()
    assert text[0] == f"trace {second.trace_id}" and text[1:] == render(doc["spans"]).splitlines()
    named = [ln.strip().split("  [")[0] for ln in text[1:] if "  [" in ln]
    assert named == [o["name"] for o in spans]  # every span, in tree order
    assert any("constrained_by: Q-DASHBOARD-FORMAT" in ln for ln in text)


def test_artifact_lookup_names_the_run_that_produced_it(built):
    _, first, second, env = built
    found = _ctx_json(env, "--artifact", "svc-0002-runbook")["produced_by"]
    assert [r["trace_id"] for r in found] == [second.trace_id, first.trace_id]  # newest first
    assert found[0]["run_id"] in second.run_ids and found[0]["run_id"] != second.trace_id
    assert found[0]["build_id"] and found[0]["status"] == "done"
    r = run_ctx("trace", "--artifact", "svc-0002-runbook", env=env)
    assert r.returncode == 0 and found[0]["run_id"] in r.stdout.splitlines()[0]
    r = run_ctx("trace", "--artifact", "nope-dashboard", env=env)
    assert r.returncode == 2 and "no run" in r.stderr


def test_checksum_lookup_from_a_deployed_file(built):
    tmp, _, second, env = built
    path = tmp / "out" / second.artifacts["svc-0000-prometheus-rule"]["path"]
    content = hashlib.sha256(path.read_bytes()).hexdigest()
    found = _ctx_json(env, "--checksum", content)["produced_by"]
    assert {r["artifact_id"] for r in found} == {"svc-0000-prometheus-rule"}
    assert found[0]["matched"] == "content" and found[0]["trace_id"] == second.trace_id
    source = re.search(r"contextcore.io/source-checksum: ([0-9a-f]{64})", path.read_text()).group(1)
    by_source = _ctx_json(env, "--checksum", source[:12])["produced_by"]
    assert len(by_source) == 42 and {r["matched"] for r in by_source} == {"source"}  # 21 artifacts, 2 builds
    assert run_ctx("trace", "--checksum", "xyz", env=env).returncode == 2


def test_head_closing_the_pipe_is_quiet(built):
    _, _, _, env = built
    full = run_ctx("trace", "--last", "--json", env=env).stdout
    assert len(full) > 128 * 1024  # beyond the 64 KiB pipe buffer: the write does hit the closed pipe
    r = subprocess.run(f"set -o pipefail; {sys.executable} -m ctx_assets.cli trace --last --json | head -3",
                       shell=True, executable="/bin/bash", capture_output=True, text=True, env=env, cwd=ROOT,
                       timeout=120)
    assert r.returncode == 0 and r.stderr == "" and len(r.stdout.splitlines()) == 3
