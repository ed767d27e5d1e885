"""Open guidance questions as spans (seed Part 3: "open questions invisible → question spans
linked to affected task spans").

Plan ingestion starts one span per open or deferred question; answered questions are not spans.
They stay open after the stage (to link what is built later), so they are children of the trace's
root, the build or the run, which ends after them: spans nest in time. An artifact is constrained
by a question when its seed task lists the question in `design_constraints`. Its artifact span
links back to the question span (`link.type=constrained_by`), and while the question span is still
open it gets a link to the artifact span (`link.type=constrains`): in a `ctx build` the question
spans stay open until the build ends, so every artifact the build makes is linked both ways.

Artifact spans may be made in another run or process than the question spans, so the
question span ids are recorded as plain strings (`QuestionSpans.ids()`, stored in the
context_seed materialization metadata under `question_spans`) and read back with
`QuestionSpans.from_ids`.
"""

from __future__ import annotations

from typing import Any

from opentelemetry.context import Context
from opentelemetry.trace import Link, Span, SpanContext, TraceFlags, Tracer

from ctx_assets.contracts import semconv as sc

QUESTION_SOURCE = "guidance.questions"  # DesignConstraint.source of a question (core/plan.py)
METADATA_KEY = "question_spans"


def constraining_questions(task: dict[str, Any]) -> list[str]:
    """Ids of the open or deferred questions that constrain a seed task."""
    return [c["id"] for c in task.get("design_constraints", []) if c.get("source") == QUESTION_SOURCE]


class QuestionSpans:
    """The question spans of one plan ingestion: the links artifact spans need, both ways."""

    def __init__(self, refs: dict[str, SpanContext], spans: dict[str, Span] | None = None):
        self.refs, self.spans = refs, spans or {}

    @classmethod
    def start(cls, tracer: Tracer, parent: Context | None, questions: list[dict[str, Any]],
              tasks: list[dict[str, Any]]) -> QuestionSpans:
        """One span per open or deferred question, a child of `parent` (the trace's root)."""
        counts: dict[str, int] = {}
        for t in tasks:
            for qid in constraining_questions(t):
                counts[qid] = counts.get(qid, 0) + 1
        spans = {}
        for q in questions:
            if q.get("status") not in ("open", "deferred"):
                continue
            spans[q["id"]] = tracer.start_span(f"{sc.SPAN_QUESTION} {q['id']}", context=parent, attributes={
                sc.QUESTION_ID: q["id"], sc.QUESTION_STATUS: q["status"], sc.QUESTION_PRIORITY: str(q.get("priority")),
                sc.QUESTION_TEXT: str(q.get("question", ""))[:500],  # redacted on export, like every attribute
                sc.QUESTION_ARTIFACTS: counts.get(q["id"], 0), sc.PIPELINE_STAGE_NAME: "plan_ingestion"})
        return cls({k: s.get_span_context() for k, s in spans.items()}, spans)

    def ids(self) -> dict[str, str]:
        """{question id: "trace_id-span_id"} (hex), for materialization metadata."""
        return {k: f"{c.trace_id:032x}-{c.span_id:016x}" for k, c in self.refs.items()}

    @classmethod
    def from_ids(cls, ids: dict[str, str] | None) -> QuestionSpans:
        refs = {}
        for qid, value in (ids or {}).items():
            try:
                tid, sid = value.split("-")
                refs[qid] = SpanContext(int(tid, 16), int(sid, 16), is_remote=True,
                                        trace_flags=TraceFlags(TraceFlags.SAMPLED))
            except (AttributeError, ValueError):  # a hand-edited or foreign value: no link, never a failure
                continue
        return cls(refs)

    def links_for(self, task: dict[str, Any]) -> list[Link]:
        """The artifact span's back-links to the questions that constrain its task."""
        return [Link(self.refs[q], {sc.LINK_TYPE: sc.LINK_CONSTRAINED_BY, sc.QUESTION_ID: q})
                for q in constraining_questions(task) if q in self.refs]

    def constrained(self, task: dict[str, Any], artifact: SpanContext) -> None:
        """Links each still-open question span to the artifact span of a task it constrains."""
        for q in constraining_questions(task):
            span = self.spans.get(q)
            if span is not None and span.is_recording():
                span.add_link(artifact, {sc.LINK_TYPE: sc.LINK_CONSTRAINS,
                                         sc.PIPELINE_ARTIFACT_ID: task["artifact_id"]})

    def end(self) -> None:
        for span in self.spans.values():
            span.end()
