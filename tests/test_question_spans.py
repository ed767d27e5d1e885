"""Open guidance questions as spans linked both ways to the artifacts they constrain (issue 12, item 1)."""

from __future__ import annotations

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from ctx_assets.build import QUIET, get_instance, run_build
from ctx_assets.contracts import semconv as sc
from ctx_assets.defs.project import project_of
from ctx_assets.telemetry.providers import Telemetry
from ctx_assets.telemetry.questions import METADATA_KEY, QuestionSpans

from .dagster_env import isolate, project_defs, small_manifest


@pytest.fixture
def traced(monkeypatch, tmp_path):
    isolate(monkeypatch, tmp_path)
    exporter = InMemorySpanExporter()
    Telemetry.install(Telemetry(extra_exporters=[exporter]))
    yield exporter, tmp_path
    Telemetry.reset()


def _artifact_spans(spans):
    return {sp.attributes[sc.PIPELINE_ARTIFACT_ID]: sp for sp in spans if sp.name.startswith("artifact ")}


def _links(span, kind):
    return [ln for ln in span.links if ln.attributes[sc.LINK_TYPE] == kind]


def test_open_and_deferred_questions_are_spans_linked_both_ways(traced):
    exporter, tmp = traced
    s = run_build(small_manifest(tmp, n=2), tmp / "out")
    assert s.ok
    spans = exporter.get_finished_spans()
    questions = {sp.attributes[sc.QUESTION_ID]: sp for sp in spans if sp.name.startswith(sc.SPAN_QUESTION + " ")}
    assert set(questions) == {"Q-DASHBOARD-FORMAT", "Q-ALERT-ROUTING"}  # Q-JSON-MODE is answered: no span
    (root,) = [sp for sp in spans if sp.name == sc.SPAN_BUILD]
    dash_q = questions["Q-DASHBOARD-FORMAT"]
    # open until the build ends (links to every artifact), so a child of the build, not of plan_ingestion
    assert dash_q.parent.span_id == root.context.span_id and dash_q.context.trace_id == root.context.trace_id
    assert dash_q.attributes[sc.PIPELINE_STAGE_NAME] == "plan_ingestion"  # the stage that raised it
    assert {sc.QUESTION_STATUS: "open", sc.QUESTION_PRIORITY: "high", sc.QUESTION_ARTIFACTS: 2}.items() <= \
        dict(dash_q.attributes).items()
    assert dash_q.attributes[sc.QUESTION_TEXT].startswith("Should dashboards be one per service")
    assert questions["Q-ALERT-ROUTING"].attributes[sc.QUESTION_STATUS] == "deferred"

    artifacts = _artifact_spans(spans)
    for qid, q in questions.items():
        constrained = {aid for aid, sp in artifacts.items()
                       if any(ln.attributes[sc.QUESTION_ID] == qid for ln in _links(sp, sc.LINK_CONSTRAINED_BY))}
        forward = {ln.attributes[sc.PIPELINE_ARTIFACT_ID]: ln.context.span_id for ln in _links(q, sc.LINK_CONSTRAINS)}
        assert forward and set(forward) == constrained, qid
        assert all(artifacts[aid].context.span_id == sid for aid, sid in forward.items())
        for aid in constrained:  # the back-link points at this very question span
            (back,) = [ln for ln in _links(artifacts[aid], sc.LINK_CONSTRAINED_BY)
                       if ln.attributes[sc.QUESTION_ID] == qid]
            assert back.context.span_id == q.context.span_id
    assert {a for a in artifacts if a.endswith("-dashboard")} == {
        ln.attributes[sc.PIPELINE_ARTIFACT_ID] for ln in _links(dash_q, sc.LINK_CONSTRAINS)}
    assert not _links(artifacts["svc-0000-service-monitor"], sc.LINK_CONSTRAINED_BY)


def test_a_later_run_in_another_trace_links_back_through_the_seed_metadata(traced):
    exporter, tmp = traced
    manifest = small_manifest(tmp, n=1)
    assert run_build(manifest, tmp / "out").ok
    first = {sp.attributes[sc.QUESTION_ID]: sp for sp in exporter.get_finished_spans()
             if sc.QUESTION_ID in sp.attributes}
    instance = get_instance()
    project = project_of(manifest)
    meta = instance.get_latest_materialization_event(project.key("context_seed")).asset_materialization.metadata
    assert set(meta[METADATA_KEY].value) == set(first)
    exporter.clear()
    # A run the sensor or the UI would launch: one target, its own trace, no `ctx build` around it.
    _, defs = project_defs(manifest, tmp / "out")
    result = defs.resolve_implicit_global_asset_job_def().execute_in_process(
        instance=instance, partition_key="svc-0000", run_config=QUIET, asset_selection=[project.key("dashboard")])
    assert result.success
    (dash,) = _artifact_spans(exporter.get_finished_spans()).values()
    (back,) = _links(dash, sc.LINK_CONSTRAINED_BY)
    q = first["Q-DASHBOARD-FORMAT"]
    assert (back.context.trace_id, back.context.span_id) == (q.context.trace_id, q.context.span_id)
    assert dash.context.trace_id != q.context.trace_id


def test_question_text_is_redacted_and_unknown_ids_are_ignored(monkeypatch, tmp_path):
    isolate(monkeypatch, tmp_path)
    exporter = InMemorySpanExporter()
    tel = Telemetry.install(Telemetry(extra_exporters=[exporter]))  # the exporters' one redaction path
    secret = "ghp_" + "a1B2" * 9
    qs = QuestionSpans.start(tel.tracer, None, [
        {"id": "Q1", "question": f"Rotate the token {secret} before the dashboard ships?", "status": "open",
         "priority": "high"},
        {"id": "Q2", "question": "Answered already", "status": "answered", "priority": "low"}], [])
    qs.end()
    Telemetry.reset()
    (span,) = exporter.get_finished_spans()
    assert secret not in span.attributes[sc.QUESTION_TEXT] and "[REDACTED]" in span.attributes[sc.QUESTION_TEXT]
    back = QuestionSpans.from_ids({**qs.ids(), "Q-BAD": "not-hex"})
    assert set(back.refs) == {"Q1"} and back.refs["Q1"].span_id == span.context.span_id
    task = {"artifact_id": "a-dashboard", "design_constraints": [
        {"source": "guidance.questions", "id": "Q1"}, {"source": "guidance.questions", "id": "Q-GONE"},
        {"source": "guidance.constraints", "id": "C1"}]}
    assert [ln.attributes[sc.QUESTION_ID] for ln in back.links_for(task)] == ["Q1"]
