"""OpenTelemetry providers for the pipeline: where spans, metrics and logs go.

Always: spans to the local OTLP/JSON-lines file (`ctx trace` reads it). When the
standard OTEL_EXPORTER_OTLP_* variables name an endpoint: spans and metrics to
that backend too (http/protobuf by default, grpc when OTEL_EXPORTER_OTLP_PROTOCOL
says so). A backend that is down costs one bounded timeout and one warning.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from opentelemetry import baggage, trace
from opentelemetry.context import Context
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import (
    MetricExporter,
    MetricExportResult,
    MetricReader,
    PeriodicExportingMetricReader,
)
from opentelemetry.sdk.metrics.view import ExplicitBucketHistogramAggregation, View
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan, Span, SpanLimits, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.trace import Status

from ctx_assets.contracts import semconv as sc
from ctx_assets.core.secrets import redact_text, redactions, scrub
from ctx_assets.settings import settings

from .otlp_json import JsonLinesSpanExporter
from .pushgateway import PushgatewayReader

log = logging.getLogger("ctx_assets")
DEFAULT_OTLP_TIMEOUT_S = 3.0
# Stage and run durations in seconds: milliseconds for a stage of a small build to minutes for a large one.
SECONDS_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600)


def project_home() -> Path:
    """The project-local home (.ctx/ in the working folder) unless CTX_HOME says otherwise."""
    return settings().home


def trace_file() -> Path:
    return settings().trace_file


def otlp_endpoint(signal: str) -> str | None:
    return os.environ.get(f"OTEL_EXPORTER_OTLP_{signal.upper()}_ENDPOINT") or os.environ.get(
        "OTEL_EXPORTER_OTLP_ENDPOINT")


def _protocol(signal: str) -> str:
    return os.environ.get(f"OTEL_EXPORTER_OTLP_{signal.upper()}_PROTOCOL",
                          os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"))


def _timeout() -> float:
    raw = os.environ.get("OTEL_EXPORTER_OTLP_TIMEOUT")
    try:  # the variable is in milliseconds per the OTel spec
        return min(float(raw) / 1000, 8.0) if raw else DEFAULT_OTLP_TIMEOUT_S
    except ValueError:
        return DEFAULT_OTLP_TIMEOUT_S


# The OTLP exporters log every retry and every failed batch (2-5 lines per signal); the guards below
# report a backend that is down once, so the library's own chatter is silenced.
logging.getLogger("opentelemetry.exporter.otlp").setLevel(logging.CRITICAL)
_DOWN: set[str] = set()  # endpoints found unreachable in this process: one warning each, then no more tries


def _guarded(endpoint: str, export: Any, failure: Any) -> Any:
    """`export()` unless `endpoint` already failed; the first failure warns once for traces and metrics alike."""
    if endpoint in _DOWN:
        return failure
    try:
        result = export()
    except Exception as e:  # the exporter must never break the build
        result, why = failure, str(e).splitlines()[0] if str(e) else type(e).__name__
    else:
        why = "export failed"
    if result == failure and endpoint not in _DOWN:
        _DOWN.add(endpoint)
        log.warning("telemetry backend %s unreachable (%s); spans are still written to %s",
                    endpoint, why, trace_file())
    return result


class GuardedExporter(SpanExporter):
    """Wraps a network span exporter: after the first failure it warns once and stops trying, so a
    backend that is down never fails or slows a build beyond one timeout."""

    def __init__(self, inner: SpanExporter, what: str):
        self.inner, self.what = inner, what

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return _guarded(self.what, lambda: self.inner.export(spans), SpanExportResult.FAILURE)

    def shutdown(self) -> None:
        self.inner.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


def _clean_attributes(attrs: Any) -> dict[str, Any]:
    return {k: scrub(v) if isinstance(v, str | tuple | list) else v for k, v in (attrs or {}).items()}


def _texts(span: ReadableSpan) -> Iterator[str]:
    """Every string `redacted_span` looks at."""
    yield span.name
    if span.status.description:
        yield span.status.description
    for attrs in (span.attributes, *(e.attributes for e in span.events)):
        for v in (attrs or {}).values():
            if isinstance(v, str):
                yield v
            elif isinstance(v, tuple | list):
                yield from (x for x in v if isinstance(x, str))


def redacted_span(span: ReadableSpan) -> ReadableSpan:
    """The span as it may leave the process: every string attribute, event attribute (recorded exceptions
    included), status description and name through the one redaction path. Unchanged spans are returned
    as they are (the common case costs one prefilter pass per string)."""
    attrs = _clean_attributes(span.attributes)
    events = [Event(e.name, _clean_attributes(e.attributes), e.timestamp) for e in span.events]
    desc = span.status.description
    clean_desc = redact_text(desc) if desc else desc
    name = redact_text(span.name)
    if (attrs == dict(span.attributes or {}) and clean_desc == desc and name == span.name
            and all(a.attributes == dict(e.attributes or {}) for a, e in zip(events, span.events, strict=True))):
        return span
    return ReadableSpan(name=name, context=span.context, parent=span.parent, resource=span.resource,
                        attributes=attrs, events=events, links=span.links, kind=span.kind,
                        status=Status(span.status.status_code, clean_desc), start_time=span.start_time,
                        end_time=span.end_time, instrumentation_scope=span.instrumentation_scope)


class RedactingExporter(SpanExporter):
    """Every exporter (local file, OTLP) sits behind this: nothing unredacted leaves in a span."""

    def __init__(self, inner: SpanExporter):
        self.inner = inner

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        # A batch's strings repeat (gate names and results, types, stage names): each distinct one is
        # prefiltered once, in one pass, and only a span holding one that redaction changes is rebuilt.
        texts = [set(_texts(s)) for s in spans]
        changed = redactions(set().union(*texts)).keys()
        return self.inner.export([redacted_span(s) if changed and not changed.isdisjoint(ts) else s
                                  for s, ts in zip(spans, texts, strict=True)])

    def shutdown(self) -> None:
        self.inner.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self.inner.force_flush(timeout_millis)


class BaggageToAttributes(SpanProcessor):
    """Copies the baggage (project id, manifest checksum) onto every span, so a backend can filter on it."""

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        for key, value in baggage.get_all(parent_context).items():
            span.set_attribute(f"baggage.{key}", str(value))


def _otlp_span_exporter() -> SpanExporter | None:
    endpoint = otlp_endpoint("traces")
    if not endpoint or os.environ.get("OTEL_TRACES_EXPORTER", "otlp") == "none":
        return None
    if _protocol("traces") == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as Grpc

        return GuardedExporter(Grpc(timeout=_timeout()), endpoint)
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as Http

    traces = os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    url = traces or endpoint.rstrip("/") + "/v1/traces"
    return GuardedExporter(Http(endpoint=url, timeout=_timeout()), endpoint)


class GuardedMetricExporter(MetricExporter):
    """The metric exporter behind the same guard: one warning per unreachable backend, then no tries."""

    def __init__(self, inner: MetricExporter, what: str):
        super().__init__(preferred_temporality=inner._preferred_temporality,
                         preferred_aggregation=inner._preferred_aggregation)
        self.inner, self.what = inner, what

    def export(self, metrics_data: Any, timeout_millis: float = 10_000, **kwargs: Any) -> MetricExportResult:
        return _guarded(self.what, lambda: self.inner.export(metrics_data, timeout_millis=timeout_millis, **kwargs),
                        MetricExportResult.FAILURE)

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        return True

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        self.inner.shutdown(timeout_millis=timeout_millis, **kwargs)


def _otlp_metric_exporter() -> MetricExporter | None:
    endpoint = otlp_endpoint("metrics")
    if not endpoint or os.environ.get("OTEL_METRICS_EXPORTER", "otlp") == "none":
        return None
    if _protocol("metrics") == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter as GrpcM

        return GuardedMetricExporter(GrpcM(timeout=_timeout()), endpoint)
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter as HttpM

    url = os.environ.get("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT") or endpoint.rstrip("/") + "/v1/metrics"
    return GuardedMetricExporter(HttpM(endpoint=url, timeout=_timeout()), endpoint)


_QUEUE = {"max_queue_size": 1 << 18, "max_export_batch_size": 4096}


class Telemetry:
    """One tracer and meter provider per process (and per test, through `reset`)."""

    _lock = threading.Lock()
    _current: Telemetry | None = None

    def __init__(self, extra_exporters: Sequence[SpanExporter] = (), metric_reader: MetricReader | None = None,
                 project_id: str | None = None):
        resource = Resource.create({sc.SERVICE_NAME: sc.SERVICE_NAME_VALUE,
                                    **({sc.PROJECT_ID: project_id} if project_id else {})})
        _DOWN.clear()  # new providers try the backend again
        # A question that concerns every artifact links to all of them (ctx_assets/telemetry/questions.py).
        links = int(os.environ.get("OTEL_SPAN_LINK_COUNT_LIMIT", "10000"))
        self.tracer_provider = TracerProvider(resource=resource, span_limits=SpanLimits(max_links=links))
        self.tracer_provider.add_span_processor(BaggageToAttributes())
        # A 1,000-target build ends ~21,000 spans within seconds: the default queue (2,048) would drop most.
        self.tracer_provider.add_span_processor(BatchSpanProcessor(
            RedactingExporter(JsonLinesSpanExporter(trace_file())), schedule_delay_millis=1000, **_QUEUE))
        otlp = _otlp_span_exporter()
        if otlp:
            self.tracer_provider.add_span_processor(BatchSpanProcessor(
                RedactingExporter(otlp), export_timeout_millis=int(_timeout() * 1000) + 500, **_QUEUE))
        for exp in extra_exporters:
            from opentelemetry.sdk.trace.export import SimpleSpanProcessor

            self.tracer_provider.add_span_processor(SimpleSpanProcessor(RedactingExporter(exp)))
        readers: list[MetricReader] = [metric_reader] if metric_reader else []
        gateway = settings().pushgateway_url
        self.pusher = PushgatewayReader(gateway, project_home() / "metrics" / "pipeline.json", _timeout()) \
            if gateway else None
        readers += [self.pusher] if self.pusher else []
        m_exp = _otlp_metric_exporter()
        if m_exp:
            readers.append(PeriodicExportingMetricReader(m_exp, export_interval_millis=60000,
                                                         export_timeout_millis=int(_timeout() * 1000)))
        self.meter_provider = MeterProvider(resource=resource, metric_readers=readers, views=[
            View(instrument_name=name, aggregation=ExplicitBucketHistogramAggregation(SECONDS_BUCKETS))
            for name in (sc.METRIC_STAGE_DURATION, sc.METRIC_RUN_DURATION)])
        self.tracer = self.tracer_provider.get_tracer("ctx_assets")
        meter = self.meter_provider.get_meter("ctx_assets")
        self.stage_duration = meter.create_histogram(sc.METRIC_STAGE_DURATION, unit="s",
                                                     description="duration of each pipeline stage")
        self.gate_violations = meter.create_counter(sc.METRIC_GATE_VIOLATIONS,
                                                    description="gate violations by gate and result")
        self.runs = meter.create_counter(sc.METRIC_RUNS, description="pipeline runs by result")
        self.calibration_mismatch = meter.create_counter(sc.METRIC_CALIBRATION_MISMATCH,
                                                         description="designs whose tier mismatched their type")
        self.run_duration = meter.create_histogram(sc.METRIC_RUN_DURATION, unit="s",
                                                   description="duration of a pipeline run")
        if self.pusher:  # the totals so far (and the zero series) before this process counts anything
            self.pusher.push()

    @classmethod
    def get(cls) -> Telemetry:
        with cls._lock:
            if cls._current is None:
                cls._current = Telemetry()
            return cls._current

    @classmethod
    def install(cls, telemetry: Telemetry) -> Telemetry:
        """Use `telemetry` (tests pass in-memory exporters and readers)."""
        with cls._lock:
            cls._current = telemetry
        return telemetry

    @classmethod
    def reset(cls) -> None:
        with cls._lock:
            if cls._current is not None:
                cls._current.shutdown()
            cls._current = None

    def flush(self) -> None:
        if self.pusher:
            self.pusher.push()
        deadline = time.monotonic() + 9
        self.tracer_provider.force_flush(timeout_millis=int(max(0.5, deadline - time.monotonic()) * 1000))

    def shutdown(self) -> None:
        self.flush()
        self.tracer_provider.shutdown()
        self.meter_provider.shutdown(timeout_millis=3000)


class JsonLogFormatter(logging.Formatter):
    """Structured JSON logs that carry trace_id and span_id (ContextCore dual telemetry)."""

    def format(self, record: logging.LogRecord) -> str:
        ctx = trace.get_current_span().get_span_context()
        body = {"ts": round(record.created, 3), "level": record.levelname, "logger": record.name,
                "message": redact_text(record.getMessage())}
        if ctx.is_valid:
            body["trace_id"], body["span_id"] = f"{ctx.trace_id:032x}", f"{ctx.span_id:016x}"
        for key in sc.LOG_FIELDS:
            if hasattr(record, key):
                body[key] = getattr(record, key)
        return json.dumps(body)


class RedactingFormatter(logging.Formatter):
    """Plain-text log lines (stderr) through the one redaction path, tracebacks included."""

    def format(self, record: logging.LogRecord) -> str:
        return redact_text(super().format(record))


_handlers: dict[str, logging.Handler] = {}


def configure_logging(debug: bool = False) -> None:
    """JSON lines to <home>/logs/ctx.jsonl; warnings also to stderr as plain text."""
    path = (project_home() / "logs" / "ctx.jsonl").resolve()
    current = _handlers.get("file")
    if current is not None and getattr(current, "baseFilename", None) == str(path):
        return
    if current is not None:
        log.removeHandler(current)
        current.close()
    path.parent.mkdir(parents=True, exist_ok=True)
    file_handler = logging.FileHandler(path)
    file_handler.setFormatter(JsonLogFormatter())
    log.addHandler(file_handler)
    _handlers["file"] = file_handler
    if "stderr" not in _handlers:
        err = logging.StreamHandler(sys.stderr)
        err.setLevel(logging.DEBUG if debug else logging.WARNING)
        err.setFormatter(RedactingFormatter("ctx: %(levelname)s: %(message)s"))
        # A failed gate goes to the log file; on stderr the command's summary names it once.
        err.addFilter(lambda record: not hasattr(record, "gate"))
        log.addHandler(err)
        _handlers["stderr"] = err
    log.setLevel(logging.INFO)
    log.propagate = False
