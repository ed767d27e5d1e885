"""Tasks as spans: the Dagster resource that traces every run, without monkeypatching.

A run is a trace. Under `ctx build`, several Dagster runs (shared stages, one per
target, output) hang under one root span, the build (the epic); a run launched
from the UI or a sensor is its own root. Stages are child spans, artifacts are
spans under their stage with DESIGN and IMPLEMENT children, gates are
`gate.validation` events, dependencies are span links, blocked artifacts get
spans naming the gate that blocked them, and the root's progress follows the
artifacts as they finish.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterator
from typing import Any

from dagster import AssetKey, ConfigurableResource, InitResourceContext
from opentelemetry import baggage, trace
from opentelemetry import context as otel_context
from opentelemetry.trace import Link, Span, SpanContext, Status, StatusCode
from pydantic import PrivateAttr

from ctx_assets.contracts import semconv as sc
from ctx_assets.contracts.artifacts import ArtifactType, artifact_id
from ctx_assets.contracts.gates import GateOutcome, GateResult
from ctx_assets.core.artifact_types import TYPES, output_path
from ctx_assets.core.artisan import BLOCKED, BUILT, ArtifactResult, blocker
from ctx_assets.telemetry.build_trace import BuildTrace, Progress, end_root, gate_attributes
from ctx_assets.telemetry.providers import Telemetry, log
from ctx_assets.telemetry.questions import METADATA_KEY, QuestionSpans

ARTIFACT_TYPES = {t.value for t in TYPES}
_STAGE_OF_ASSET = {"manifest": "manifest", "export": "export", "context_seed": "plan_ingestion", "provenance": "output"}
_UPSTREAM = {"export": ["manifest"], "context_seed": ["export"], "provenance": ["context_seed"]}


class _RunState:
    def __init__(self) -> None:
        self.span: Span | None = None
        self.context: otel_context.Context | None = None
        self.build: BuildTrace | None = None
        self.progress: Progress | None = None
        self.failed: dict[str, str] = {}  # asset name -> "gate on artifact" that failed
        self.executed: set[str] = set()
        self.selected: list[str] = []
        self.partition: str | None = None
        self.spans: dict[str, SpanContext] = {}
        self.questions: QuestionSpans | None = None  # this run's, or read from the seed's metadata
        self.started = 0.0


class PipelineTracer(ConfigurableResource):
    """Traces each run; set `enabled: false` to measure the pipeline without tracing."""

    enabled: bool = True
    _state: _RunState = PrivateAttr(default_factory=_RunState)

    # -- run lifecycle ------------------------------------------------------------------------
    def setup_for_execution(self, context: InitResourceContext) -> None:
        st = self._state = _RunState()
        if not self.enabled:
            return
        tel = Telemetry.get()
        run = context.run
        st.started = time.monotonic()
        st.selected = sorted(k.path[-1] for k in (run.asset_selection or [])) if run else []
        st.partition = run.tags.get("dagster/partition") if run else None
        run_id = run.run_id if run else "unknown"
        st.build = BuildTrace.current
        attrs = {sc.CICD_PIPELINE_NAME: sc.PIPELINE_NAME, sc.CICD_PIPELINE_RUN_ID: run_id}
        if st.partition:
            attrs[sc.PIPELINE_TARGET] = st.partition
        if st.build:
            st.build.run_ids.append(run_id)
            st.span = tel.tracer.start_span(sc.SPAN_RUN, context=st.build.context, attributes={
                **attrs, sc.TASK_TYPE: sc.TASK_TYPE_STORY, sc.TASK_ID: run_id, sc.TASK_STATUS: sc.STATUS_IN_PROGRESS})
            st.context = trace.set_span_in_context(st.span, st.build.context)
            st.spans = st.build.spans
        else:  # a run from the UI or a sensor: the run is the trace
            st.span = tel.tracer.start_span(sc.SPAN_RUN, attributes={
                **attrs, sc.TASK_TYPE: sc.TASK_TYPE_EPIC, sc.TASK_ID: run_id, sc.TASK_STATUS: sc.STATUS_IN_PROGRESS,
                sc.TASK_PERCENT_COMPLETE: 0.0})
            st.context = trace.set_span_in_context(st.span)
            planned = sum(1 for k in st.selected if k in ARTIFACT_TYPES)  # a range run: plan_artifacts corrects it
            st.progress = Progress(st.span, planned)

    def teardown_after_execution(self, context: InitResourceContext) -> None:
        st = self._state
        if not self.enabled or st.span is None:
            return
        tel = Telemetry.get()
        for name in st.selected:  # selected but never executed: stopped by a blocking gate upstream
            if name not in st.executed:
                self._blocked_span(name)
        self.end_artisan_stage()
        if st.questions and not st.build:
            st.questions.end()
        ok = not st.failed
        if st.build:
            if not ok:
                st.build.failures += [f"{k}: {v}" for k, v in st.failed.items()]
            st.span.set_attribute(sc.TASK_STATUS, sc.STATUS_DONE if ok else sc.STATUS_FAILED)
            st.span.set_attribute(sc.CICD_PIPELINE_RESULT, sc.CICD_RESULT_SUCCESS if ok else sc.CICD_RESULT_FAILURE)
            if not ok:
                st.span.set_status(Status(StatusCode.ERROR, "; ".join(st.failed.values())[:500]))
            st.span.end()
        else:
            if st.progress:
                st.progress.end(ok)
            end_root(st.span, ok, list(st.failed.values()), tel, time.monotonic() - st.started)
            tel.flush()

    def _blocked_span(self, name: str) -> None:
        st = self._state
        deps = [d.value for d in TYPES[name].depends_on] if name in ARTIFACT_TYPES else _UPSTREAM.get(name, [])
        if name in ARTIFACT_TYPES:
            deps = deps + ["context_seed"]
        reason = next((st.failed[d] for d in deps if d in st.failed), None) or \
            next(iter(st.failed.values()), "an upstream step did not run")
        st.failed.setdefault(name, reason)
        attrs: dict[str, Any] = {sc.TASK_STATUS: sc.STATUS_BLOCKED, sc.TASK_BLOCKED_BY: reason,
                                 sc.TASK_TYPE: sc.TASK_TYPE_TASK}
        if name in ARTIFACT_TYPES and st.partition:
            aid = f"{st.partition}-{name.replace('_', '-')}"
            attrs.update({sc.PIPELINE_ARTIFACT_ID: aid, sc.PIPELINE_ARTIFACT_TYPE: name,
                          sc.PIPELINE_TARGET: st.partition, sc.PIPELINE_STAGE_NAME: "artisan"})
        else:
            attrs[sc.PIPELINE_STAGE_NAME] = _STAGE_OF_ASSET.get(name, name)
        span = Telemetry.get().tracer.start_span(f"blocked {name}", context=st.context, attributes=attrs)
        span.set_status(Status(StatusCode.ERROR, f"blocked by {reason}"))
        span.end()

    # -- stages and artifacts -----------------------------------------------------------------
    @contextlib.contextmanager
    def stage(self, context: Any, name: str) -> Iterator[Span]:
        st = self._state
        asset_name = context.asset_key.path[-1] if hasattr(context, "asset_key") else name
        st.executed.add(asset_name)
        if not self.enabled or st.context is None:
            yield trace.INVALID_SPAN
            return
        tel = Telemetry.get()
        started = time.monotonic()
        token = otel_context.attach(st.build.context if st.build else st.context)  # baggage for the stage
        try:
            with tel.tracer.start_as_current_span(name, context=st.context, attributes={
                    sc.PIPELINE_STAGE_NAME: name, sc.CICD_PIPELINE_TASK_NAME: name,
                    sc.TASK_TYPE: sc.TASK_TYPE_TASK}) as span:
                try:
                    yield span
                except Exception as e:
                    st.failed[asset_name] = f"exception in {name}: {type(e).__name__}"
                    raise
                failed = [g for g in getattr(span, "_ctx_gates", []) if g.blocks]
                log.info("stage %s %s", name, "failed" if failed else "done", extra={
                    sc.LOG_EVENT: sc.LOG_STAGE_END, "stage": name, "result": "failed" if failed else "done",
                    "duration_seconds": round(time.monotonic() - started, 4)})
                if failed:
                    st.failed[asset_name] = f"{failed[0].gate.value} on {name}"
                    span.set_status(Status(StatusCode.ERROR, f"gate {failed[0].gate.value} failed"))
                span.set_attribute(sc.TASK_STATUS, sc.STATUS_FAILED if failed else sc.STATUS_DONE)
        finally:
            otel_context.detach(token)
            tel.stage_duration.record(time.monotonic() - started, {sc.PIPELINE_STAGE_NAME: name})

    def gate(self, span: Span, g: GateResult) -> None:
        tel = Telemetry.get()
        if g.violations:
            tel.gate_violations.add(len(g.violations), {sc.GATE_NAME: g.gate.value, sc.GATE_RESULT: g.result.value})
        if g.details.get("calibration.mismatch"):
            tel.calibration_mismatch.add(1, {"artifact_type": g.details.get("artifact_type", "")})
        if not self.enabled or not span.is_recording():
            return
        gates = getattr(span, "_ctx_gates", None)
        if gates is None:
            gates = []
            span._ctx_gates = gates  # type: ignore[attr-defined]
        gates.append(g)
        span.add_event(sc.EVENT_GATE, gate_attributes(g))
        if g.violations:  # one JSON line per gate with violations: Loki derives the gate metrics from them
            log.log(logging.WARNING if g.result == GateOutcome.failed else logging.INFO, "gate %s %s%s: %s",
                    g.gate.value, g.result.value, f" on {g.artifact_id}" if g.artifact_id else "",
                    "; ".join(f"{v.field}: {v.message}" for v in g.violations[:3]),
                    extra={sc.LOG_EVENT: sc.EVENT_GATE, "gate": g.gate.value, "result": g.result.value,
                           "violations": len(g.violations), "artifact_type": g.details.get("artifact_type", "")})

    def checksums(self, span: Span, source: str, output: str) -> None:
        if span.is_recording():
            span.set_attribute(sc.PIPELINE_INPUT_CHECKSUM, source)
            span.set_attribute(sc.PIPELINE_OUTPUT_CHECKSUM, output)

    def set_manifest(self, context: Any, checksum: str, project_id: str | None) -> None:
        st = self._state
        if st.build:
            st.build.set_manifest(checksum, project_id)
        elif st.span is not None and self.enabled:
            st.span.set_attribute(sc.PIPELINE_MANIFEST_CHECKSUM, checksum)
            if project_id:
                st.span.set_attribute(sc.PROJECT_ID, project_id)
                st.context = baggage.set_baggage(sc.BAGGAGE_PROJECT_ID, project_id, st.context)
            st.context = baggage.set_baggage(sc.BAGGAGE_MANIFEST_CHECKSUM, checksum, st.context)

    def open_questions(self, questions: list[dict[str, Any]], tasks: list[dict[str, Any]]) -> dict[str, str]:
        """Question spans, started during plan ingestion; returns their ids for the context_seed
        materialization metadata, where runs in other processes find them. They stay open to link the
        artifacts built after them, so their parent is the trace's root (the build, or a UI/sensor run),
        which ends after them: under plan_ingestion they would outlive their parent."""
        st = self._state
        if not self.enabled or st.context is None:
            return {}
        root = st.build.context if st.build else st.context
        qs = QuestionSpans.start(Telemetry.get().tracer, root, questions, tasks)
        st.questions = qs
        if st.build:
            st.build.questions = qs
        return qs.ids()

    def _questions(self, context: Any, seed_key: AssetKey) -> QuestionSpans:
        """The question spans artifact spans link to: the build's, this run's, or the seed's metadata."""
        st = self._state
        if st.questions is None:
            st.questions = (st.build.questions if st.build else None) or QuestionSpans.from_ids(
                _seed_metadata(context, seed_key).get(METADATA_KEY))
        return st.questions

    def trace_id(self, context: Any) -> str | None:
        st = self._state
        span = st.build.span if st.build else st.span
        return f"{span.get_span_context().trace_id:032x}" if span is not None and self.enabled else None

    def artifacts(self, context: Any, results: list[ArtifactResult], source_checksum: str,
                  key_of: Callable[[str], AssetKey] = AssetKey,
                  tasks: dict[tuple[str, str], dict[str, Any]] | None = None) -> dict[str, dict[str, str]]:
        """Spans for artifacts already built (one range run builds many at once): each under the run's
        artisan stage with its real start and durations, DESIGN and IMPLEMENT children, gates as events,
        links to the spans it was built from and (`tasks`: seed tasks by (target, type)) to the open
        questions that constrain it, both ways; blocked ones name what blocked them.
        Returns {artifact id: {trace_id, span_id}} for the materialization metadata."""
        st = self._state
        ids: dict[str, dict[str, str]] = {}
        for r in results:
            st.executed.add(r.artifact_type)
            why = blocker(r)  # what it stops downstream: its failed gate, or what blocked it
            if why:
                st.failed.setdefault(r.artifact_type, why)
        if not self.enabled or st.context is None:
            for r in results:
                for g in r.gates:
                    self.gate(trace.INVALID_SPAN, g)
            return ids
        tel = Telemetry.get()
        stage = self._artisan_stage(min((r.started_ns for r in results if r.started_ns), default=None))
        questions = self._questions(context, key_of("context_seed"))
        for r in results:
            task = (tasks or {}).get((r.target, r.artifact_type), {})
            links = questions.links_for(task)  # constrained_by: the open questions that constrain it
            for dep in TYPES[r.artifact_type].depends_on:
                dep_id = f"{r.target}-{dep.slug}"
                ctx = st.spans.get(dep_id) or _materialized_span(context, key_of(dep.value), r.target)
                if ctx is not None:
                    links.append(Link(ctx, {sc.LINK_TYPE: sc.LINK_DEPENDS_ON, sc.PIPELINE_ARTIFACT_ID: dep_id}))
            base = {sc.PIPELINE_ARTIFACT_ID: r.artifact_id, sc.PIPELINE_ARTIFACT_TYPE: r.artifact_type,
                    sc.PIPELINE_TARGET: r.target}
            total = sum(r.seconds.values())
            start = r.started_ns or time.time_ns()
            attrs = {**base, sc.PIPELINE_STAGE_NAME: "artisan", sc.TASK_TYPE: sc.TASK_TYPE_TASK,
                     sc.PIPELINE_INPUT_CHECKSUM: source_checksum}
            if r.status == BLOCKED:  # never started: a moment, now, inside the artisan stage
                start = time.time_ns()
                attrs.update({sc.TASK_STATUS: sc.STATUS_BLOCKED, sc.TASK_BLOCKED_BY: r.blocked_by or ""})
                span = tel.tracer.start_span(f"blocked {r.artifact_id}", context=stage, links=links,
                                             attributes=attrs, start_time=start)
                span.set_status(Status(StatusCode.ERROR, f"blocked by {r.blocked_by}"))
                span.end(end_time=start)
            else:
                span = tel.tracer.start_span(f"artifact {r.artifact_id}", context=stage, links=links,
                                             attributes=attrs, start_time=start)
                last = _ArtifactSpan(self, span, base).finish(r, start)
                span.end(end_time=max(last, start + int(total * 1e9)))  # never before its children end
                tel.stage_duration.record(total, {sc.PIPELINE_STAGE_NAME: "artisan",
                                                  sc.PIPELINE_ARTIFACT_TYPE: r.artifact_type})
            ctx = span.get_span_context()
            questions.constrained(task, ctx)
            st.spans[r.artifact_id] = ctx
            ids[r.artifact_id] = {"trace_id": f"{ctx.trace_id:032x}", "span_id": f"{ctx.span_id:016x}"}
            if r.status == BUILT:  # percent complete counts what was made, not what failed or was blocked
                self._step()
        return ids

    def blocked_artifacts(self, context: Any, pairs: list[tuple[str, str]], by: str) -> None:
        """(target, artifact type) pairs that a gate of the shared stages blocked (`by`: "secret_scan on
        export"): a blocked span each, naming the gate, as for an artifact blocked by its own upstream."""
        results = [ArtifactResult(artifact_id=artifact_id(target, t), artifact_type=t, target=target,
                                  output_path=output_path(ArtifactType(t), target), status=BLOCKED, blocked_by=by)
                   for target, t in pairs]
        self.artifacts(context, results, "")

    def plan_artifacts(self, count: int) -> None:
        """How many artifacts this run makes, for the progress of a run that is its own trace (the UI, a
        sensor); under `ctx build` the build planned them all."""
        if self._state.progress is not None:
            self._state.progress.plan(count)

    def _artisan_stage(self, start_ns: int | None = None) -> otel_context.Context:
        """One `artisan` stage span per run, parent of the run's artifact spans. Spans are recorded after the
        work, so the stage starts when its first artifact did (`start_ns`), not when it is recorded."""
        st = self._state
        stage = getattr(st, "artisan", None)
        if stage is None:
            span = Telemetry.get().tracer.start_span("artisan", context=st.context, start_time=start_ns, attributes={
                sc.PIPELINE_STAGE_NAME: "artisan", sc.CICD_PIPELINE_TASK_NAME: "artisan",
                sc.TASK_TYPE: sc.TASK_TYPE_TASK})
            stage = st.artisan = (span, trace.set_span_in_context(span, st.context))  # type: ignore[attr-defined]
        return stage[1]

    def end_artisan_stage(self) -> None:
        span = getattr(self._state, "artisan", (None,))[0]
        if span is not None:
            seconds = (time.time_ns() - span.start_time) / 1e9 if span.start_time else 0.0
            with trace.use_span(span, end_on_exit=True):
                log.info("stage artisan done", extra={sc.LOG_EVENT: sc.LOG_STAGE_END, "stage": "artisan",
                                                      "result": "done", "duration_seconds": round(seconds, 4)})

    def _step(self) -> None:
        st = self._state
        if st.build:
            st.build.progress.step()
        elif st.progress:
            st.progress.step()


class _ArtifactSpan:
    """Records DESIGN and IMPLEMENT as child spans with their real durations, then the gates."""

    def __init__(self, tracer: PipelineTracer, span: Span, base: dict[str, Any]):
        self.tracer, self.span, self.base = tracer, span, base

    def finish(self, r: ArtifactResult, d_start: int) -> int:
        """Records the phases from `d_start`; returns when the last one ended (the artifact ends no earlier)."""
        tel = Telemetry.get()
        ctx = trace.set_span_in_context(self.span)
        design_s = r.seconds.get("design", 0.0)
        impl_s = r.seconds.get("implement", 0.0) + r.seconds.get("validate", 0.0)
        i_start = d_start + int(design_s * 1e9)
        t = i_start + int(impl_s * 1e9)
        pre = [g for g in r.gates if g.gate.value in ("size_estimate", "design_calibration")]
        post = [g for g in r.gates if g not in pre]
        design = tel.tracer.start_span(sc.PHASE_DESIGN, context=ctx, start_time=d_start,
                                       attributes={**self.base, sc.PIPELINE_STAGE_NAME: sc.PHASE_DESIGN})
        if r.design is not None:
            design.set_attribute("design.tier", r.design.tier.value)
            design.set_attribute("design.estimated_lines", r.design.estimated_lines)
        for g in pre:
            g.details.setdefault("artifact_type", r.artifact_type)
            self.tracer.gate(design, g)
        design.end(end_time=i_start)
        if r.design is not None:  # the size estimate is on record before IMPLEMENT starts
            self.span.add_event(sc.EVENT_SIZE_ESTIMATE, {
                "size.estimated_lines": r.design.estimated_lines, "size.estimated_tokens": r.design.estimated_tokens,
                "size.tier": r.design.tier.value}, timestamp=i_start)
        if r.content is not None:
            impl = tel.tracer.start_span(sc.PHASE_IMPLEMENT, context=ctx, start_time=i_start, attributes={
                **self.base, sc.PIPELINE_STAGE_NAME: sc.PHASE_IMPLEMENT, sc.PIPELINE_OUTPUT_CHECKSUM: r.checksum or "",
                sc.PIPELINE_ARTIFACT_LINES: r.lines, sc.PIPELINE_ARTIFACT_TOKENS: r.tokens,
                sc.PIPELINE_ARTIFACT_PATH: r.output_path})
            for g in post:
                self.tracer.gate(impl, g)
            if r.status != BUILT:
                impl.set_status(Status(StatusCode.ERROR, "a blocking gate failed"))
            impl.end(end_time=t)
        self.span.set_attribute(sc.PIPELINE_OUTPUT_CHECKSUM, r.checksum or "")
        self.span.set_attribute(sc.PIPELINE_ARTIFACT_LINES, r.lines)
        self.span.set_attribute(sc.PIPELINE_ARTIFACT_TOKENS, r.tokens)
        status = {BUILT: sc.STATUS_DONE, BLOCKED: sc.STATUS_BLOCKED}.get(r.status, sc.STATUS_FAILED)
        self.span.set_attribute(sc.TASK_STATUS, status)
        if r.status != BUILT:
            gate = r.failed_gate
            msg = f"gate {gate.gate.value} failed" if gate else "failed"
            self.span.set_status(Status(StatusCode.ERROR, msg))
            self.span.add_event("exception", {"exception.type": "GateFailed", "exception.message": (
                f"{msg}: " + "; ".join(f"{v.field}: {v.message}" for v in (gate.violations if gate else [])[:3]))})
        return t if r.content is not None else i_start


def _seed_metadata(context: Any, key: AssetKey) -> dict[str, Any]:
    """The latest context_seed materialization metadata (plain values); empty when there is none."""
    try:
        event = context.instance.get_latest_materialization_event(key)
        mat = event.asset_materialization if event else None
        return {k: getattr(v, "value", v) for k, v in mat.metadata.items()} if mat else {}
    except Exception:  # links are best effort; never fail a build over them
        return {}


def _materialized_span(context: Any, key: AssetKey, target: str) -> SpanContext | None:
    """The span of an upstream artifact built in an earlier run, from its materialization metadata."""
    try:
        from dagster import AssetRecordsFilter

        records = context.instance.fetch_materializations(
            AssetRecordsFilter(asset_key=key, asset_partitions=[target]), limit=1).records
        meta = records[0].asset_materialization.metadata if records else {}
        tid, sid = meta.get("trace_id"), meta.get("span_id")
        if tid and sid:
            return SpanContext(int(tid.value, 16), int(sid.value, 16), is_remote=True)
    except Exception:  # lineage links are best effort; never fail a build over them
        return None
    return None
