"""The root span of one `ctx build` (the epic), its progress, and the gate event's attributes.

The Dagster runs of a build become its children (resources/tracing.py's PipelineTracer finds it
through `BuildTrace.current`); a run launched from the UI or a sensor is its own root.
"""

from __future__ import annotations

import time
import uuid
from typing import Any, ClassVar

from opentelemetry import baggage, trace
from opentelemetry.trace import Span, SpanContext, Status, StatusCode

from ctx_assets.contracts import semconv as sc
from ctx_assets.contracts.gates import GateResult

from .providers import Telemetry, log
from .questions import QuestionSpans


def gate_attributes(g: GateResult) -> dict[str, Any]:
    out: dict[str, Any] = {sc.GATE_NAME: g.gate.value, sc.GATE_RESULT: g.result.value, sc.GATE_BLOCKING: g.blocking,
                           sc.GATE_VIOLATIONS: len(g.violations)}
    for i, v in enumerate(g.violations[:20]):
        out[sc.gate_violation_field(i)] = v.field
        out[sc.gate_violation_message(i)] = v.message[:500]
    for k, v in g.details.items():
        if k.startswith((sc.CALIBRATION_PREFIX, sc.CHECKSUM_PREFIX, sc.SIZE_PREFIX)) and isinstance(
                v, str | int | float | bool):
            out[k] = v
    return out


class Progress:
    """Epic progress derived from children: the percent of the planned artifacts that were built
    (`task.percent_complete`). One that failed a gate or was blocked is not complete; a build or run
    that plans no artifact (nothing stale) is complete once it ends well: 100%, not 0%."""

    def __init__(self, span: Span, planned: int):
        self.span, self.planned, self.done, self.last = span, planned, 0, -1.0

    def plan(self, planned: int) -> None:
        """The artifacts to build, once known (an incremental build builds only the stale ones)."""
        self.planned = planned

    def percent(self) -> float:
        return round(100 * min(self.done, self.planned) / self.planned, 1) if self.planned else 100.0

    def step(self) -> None:
        self.done += 1
        pct = self.percent()
        if int(pct) == int(self.last) and self.done < self.planned:  # an event per whole percent, not per artifact
            return
        self._report(pct)

    def end(self, ok: bool) -> None:
        """The exact figure at the end (steps report whole percents); nothing to build and no failure is 100%."""
        pct = self.percent()
        if pct != self.last and (self.done or (ok and not self.planned)):
            self._report(pct)

    def _report(self, pct: float) -> None:
        self.last = pct
        self.span.set_attribute(sc.TASK_PERCENT_COMPLETE, pct)
        self.span.add_event(sc.EVENT_PROGRESS, {sc.TASK_PERCENT_COMPLETE: pct, "artifacts.done": self.done,
                                                "artifacts.planned": self.planned})


class BuildTrace:
    """The root span of one `ctx build`; the Dagster runs of the build become its children."""

    current: ClassVar[BuildTrace | None] = None

    def __init__(self, planned_artifacts: int, build_id: str | None = None):
        self.telemetry = Telemetry.get()
        self.build_id = build_id or uuid.uuid4().hex
        self.span = self.telemetry.tracer.start_span(sc.SPAN_BUILD, attributes={
            sc.TASK_TYPE: sc.TASK_TYPE_EPIC, sc.TASK_ID: self.build_id, sc.TASK_STATUS: sc.STATUS_IN_PROGRESS,
            sc.TASK_PERCENT_COMPLETE: 0.0, sc.CICD_PIPELINE_NAME: sc.PIPELINE_NAME,
            sc.CICD_PIPELINE_RUN_ID: self.build_id})
        self.progress = Progress(self.span, planned_artifacts)
        self.context = trace.set_span_in_context(self.span)
        self.spans: dict[str, SpanContext] = {}  # artifact id -> span, for links across the build's runs
        self.failures: list[str] = []
        self.run_ids: list[str] = []
        self.questions: QuestionSpans | None = None  # open until the build ends (links to every artifact)
        self.started = time.monotonic()

    def set_manifest(self, checksum: str, project_id: str | None) -> None:
        self.span.set_attribute(sc.PIPELINE_MANIFEST_CHECKSUM, checksum)
        if project_id:
            self.span.set_attribute(sc.PROJECT_ID, project_id)
            self.context = baggage.set_baggage(sc.BAGGAGE_PROJECT_ID, project_id, self.context)
        self.context = baggage.set_baggage(sc.BAGGAGE_MANIFEST_CHECKSUM, checksum, self.context)

    @property
    def trace_id(self) -> str:
        return f"{self.span.get_span_context().trace_id:032x}"

    def __enter__(self) -> BuildTrace:
        BuildTrace.current = self
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc is not None:
            self.span.record_exception(exc)
            self.failures.append(f"{type(exc).__name__}: {exc}")
        self.finish()

    def finish(self) -> None:
        ok = not self.failures
        self.span.set_attribute("ctx.dagster.run_ids", self.run_ids)
        if self.questions:  # before the root: children end within their parent
            self.questions.end()
        self.progress.end(ok)
        end_root(self.span, ok, self.failures, self.telemetry, time.monotonic() - self.started)
        BuildTrace.current = None
        self.telemetry.flush()


def end_root(span: Span, ok: bool, failures: list[str], tel: Telemetry, seconds: float) -> None:
    result = sc.CICD_RESULT_SUCCESS if ok else sc.CICD_RESULT_FAILURE
    span.set_attribute(sc.CICD_PIPELINE_RESULT, result)
    span.set_attribute(sc.TASK_STATUS, sc.STATUS_DONE if ok else sc.STATUS_FAILED)
    if not ok:
        span.set_status(Status(StatusCode.ERROR, "; ".join(failures)[:500]))
    with trace.use_span(span):  # the log line carries the run's trace and span ids
        log.info("pipeline run %s", result, extra={sc.LOG_EVENT: sc.LOG_RUN_END, "result": result,
                                                   "duration_seconds": round(seconds, 3)})
    span.end()
    tel.runs.add(1, {"result": result})
    tel.run_duration.record(seconds, {"result": result, sc.CICD_PIPELINE_NAME: sc.PIPELINE_NAME})
