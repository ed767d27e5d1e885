"""Spans nest in time (issue 20): every child starts and ends within its parent, read back from the trace
file a build writes: the bundled example built, built again with nothing stale, a build blocked by a gate,
and runs launched without `ctx build` (as the UI and the sensor launch them)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from ctx_assets.build import QUIET, get_instance, run_build
from ctx_assets.contracts import semconv as sc
from ctx_assets.defs.partitions import range_tags
from ctx_assets.telemetry.otlp_json import read_spans
from ctx_assets.telemetry.providers import Telemetry

from .conftest import EXAMPLE
from .dagster_env import edit, isolate, project_defs, settle

FAKE_KEY = "AKIAIOSFODNN7EXAMPLQ"  # a fake AWS access key id (tests/secret_corpus.py's form)


def _traces() -> dict[str, list[dict]]:
    """{trace id: spans} from the trace file, flushed and closed first (as the CLI does at exit)."""
    Telemetry.reset()
    out: dict[str, list[dict]] = {}
    for s in read_spans(Path(os.environ["CTX_TRACE_FILE"])):
        out.setdefault(s["traceId"], []).append(s)
    return out


def _pairs(spans: list[dict]) -> list[tuple[dict, dict]]:
    """(parent, child) for every span whose parent is in the trace; a span whose parent is missing fails."""
    by_id = {s["spanId"]: s for s in spans}
    pairs = []
    for s in spans:
        if s.get("parentSpanId"):
            assert s["parentSpanId"] in by_id, f"{s['name']}: its parent is not in the trace"
            pairs.append((by_id[s["parentSpanId"]], s))
    return pairs


def _assert_nested(spans: list[dict]) -> set[tuple[str, str]]:
    """Every child's [start, end] within its parent's; returns the (parent, child) kinds seen."""
    kinds = set()
    for parent, child in _pairs(spans):
        p0, p1 = int(parent["startTimeUnixNano"]), int(parent["endTimeUnixNano"])
        c0, c1 = int(child["startTimeUnixNano"]), int(child["endTimeUnixNano"])
        assert p0 <= c0 <= c1 <= p1, (f"{child['name']} [{c0}, {c1}] is not within {parent['name']} [{p0}, {p1}]: "
                                      f"starts {(p0 - c0) / 1e6:.3f} ms early, ends {(c1 - p1) / 1e6:.3f} ms late")
        kinds.add((parent["name"].split()[0], child["name"].split()[0]))
    return kinds


def _root(spans: list[dict]) -> dict:
    (root,) = [s for s in spans if not s.get("parentSpanId")]
    return root


@pytest.fixture
def example(monkeypatch, tmp_path):
    isolate(monkeypatch, tmp_path)
    manifest = tmp_path / EXAMPLE.name
    shutil.copy(EXAMPLE, manifest)
    settle(manifest)
    yield manifest, tmp_path / "out"
    Telemetry.reset()


def test_a_build_of_the_example_and_a_no_op_rebuild_nest_in_time(example):
    manifest, out = example
    first = run_build(manifest, out)
    assert first.ok and len(first.materialized) == 77
    spans = _traces()[first.trace_id]
    kinds = _assert_nested(spans)
    # the pairs that used to outlive their parent are all there, so the check above covered them
    assert {("ctx", "dagster"), ("dagster", "plan_ingestion"), ("dagster", "artisan"), ("artisan", "artifact"),
            ("artifact", "DESIGN"), ("artifact", "IMPLEMENT"), ("ctx", "question")} <= kinds
    root = _root(spans)
    questions = [s for s in spans if s["name"].startswith(sc.SPAN_QUESTION + " ")]
    assert len(questions) == 2 and all(q["parentSpanId"] == root["spanId"] for q in questions)
    # still linked both ways although they are no longer under plan_ingestion
    assert all(any(ln["attributes"][sc.LINK_TYPE] == sc.LINK_CONSTRAINS for ln in q["links"]) for q in questions)
    assert root["attributes"][sc.TASK_PERCENT_COMPLETE] == 100.0

    again = run_build(manifest, out, stale_only=True)  # as `ctx build` does: nothing stale, 100% not 0%
    assert again.ok and again.materialized == []
    spans = _traces()[again.trace_id]
    _assert_nested(spans)
    root = _root(spans)
    assert root["attributes"][sc.TASK_PERCENT_COMPLETE] == 100.0
    (event,) = [e for e in root["events"] if e["name"] == sc.EVENT_PROGRESS]
    assert event["attributes"]["artifacts.planned"] == 0


def test_a_blocked_build_nests_in_time_and_its_blocked_spans_name_the_gate(example):
    manifest, out = example
    edit(manifest, lambda d: d["spec"].setdefault("risks", []).append(
        {"type": "security", "description": "leaked keys", "priority": "P1", "mitigation": f"rotate {FAKE_KEY}"}))
    s = run_build(manifest, out)
    assert not s.ok and {g["name"] for g in s.failed_gates} == {"secret_scan"}
    spans = _traces()[s.trace_id]
    assert ("artisan", "blocked") in _assert_nested(spans)
    blocked = [sp for sp in spans if sp["attributes"].get(sc.PIPELINE_ARTIFACT_ID)]
    assert len(blocked) == 77 and {sp["attributes"][sc.TASK_BLOCKED_BY] for sp in blocked} == {"secret_scan on export"}
    assert _root(spans)["attributes"][sc.TASK_PERCENT_COMPLETE] == 0.0  # nothing was built


def test_runs_launched_without_ctx_build_nest_in_time(example):
    """A run from the UI or the sensor is its own trace: its question spans end within it, and its progress
    counts every target of a range run."""
    manifest, out = example
    p, defs = project_defs(manifest, out)
    job, instance = defs.resolve_implicit_global_asset_job_def(), get_instance()
    shared = job.execute_in_process(instance=instance, run_config=QUIET, asset_selection=p.stage_keys("shared"))
    targets = list(instance.get_dynamic_partitions(p.targets.name))
    ranged = job.execute_in_process(instance=instance, run_config=QUIET, tags=range_tags(targets),
                                    asset_selection=[p.key("service_monitor"), p.key("loki_rule")])
    assert shared.success and ranged.success
    traces = _traces()
    kinds = set()
    for spans in traces.values():
        kinds |= _assert_nested(spans)
    assert {("dagster", "question"), ("artisan", "artifact"), ("artifact", "IMPLEMENT")} <= kinds
    (run,) = [_root(spans) for spans in traces.values() if any(s["name"] == "artisan" for s in spans)]
    events = [e["attributes"] for e in run["events"] if e["name"] == sc.EVENT_PROGRESS]
    assert events[-1]["artifacts.planned"] == 2 * len(targets) and events[-1][sc.TASK_PERCENT_COMPLETE] == 100.0
