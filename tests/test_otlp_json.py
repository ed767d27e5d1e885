"""The direct OTLP/JSON encoder gives exactly what the protobuf JSON mapping gives.

The local trace file (and any Collector reading it) expects the OTLP/JSON of an
ExportTraceServiceRequest; we build it without protobuf for speed, so it is compared
here, field for field, with the reference path on spans of every shape we emit.
"""

from __future__ import annotations

import base64

import orjson
from google.protobuf.json_format import MessageToDict
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Link, SpanContext, Status, StatusCode, set_span_in_context

from ctx_assets.telemetry.otlp_json import encode_request, read_spans

_IDS = ("traceId", "spanId", "parentSpanId")


def _reference(spans) -> dict:
    def hexed(obj):
        if isinstance(obj, dict):
            return {k: base64.b64decode(v).hex() if k in _IDS else hexed(v) for k, v in obj.items()}
        if isinstance(obj, list):
            return [hexed(v) for v in obj]
        return obj

    return hexed(MessageToDict(encode_spans(spans)))


def _spans():
    exporter = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "ctx-assets", "project.id": "p"}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("ctx_assets")
    remote = SpanContext(0xABC, 0xDEF, is_remote=True)
    root = tracer.start_span("ctx build", attributes={"task.percent_complete": 0.0, "n": 7, "ok": True,
                                                       "ids": ["a", "b"], "empty": [], "ratios": [0.5, 1.0]})
    child = tracer.start_span("artifact x", context=set_span_in_context(root),
                              links=[Link(remote, {"link.type": "depends_on"}), Link(root.get_span_context())])
    child.add_event("gate.validation", {"gate.name": "secret_scan", "gate.violations": 0})
    child.add_event("bare")
    child.set_status(Status(StatusCode.ERROR, "gate artifact_schema failed"))
    child.end()
    ok = tracer.start_span("ok", context=set_span_in_context(root))
    ok.set_status(Status(StatusCode.OK))
    ok.end()
    under_remote = tracer.start_span("remote child", context=set_span_in_context(
        __import__("opentelemetry").trace.NonRecordingSpan(remote)))
    under_remote.end()
    root.end()
    return exporter.get_finished_spans()


def test_direct_encoding_equals_the_protobuf_json_mapping():
    spans = _spans()
    assert orjson.loads(encode_request(spans)) == _reference(spans)


def test_the_reader_decodes_what_the_encoder_wrote(tmp_path):
    path = tmp_path / "spans.jsonl"
    path.write_bytes(encode_request(_spans()))
    by_name = {s["name"]: s for s in read_spans(path)}
    assert by_name["ctx build"]["attributes"] == {"task.percent_complete": 0.0, "n": 7, "ok": True,
                                                  "ids": ["a", "b"], "empty": [], "ratios": [0.5, 1.0]}
    assert by_name["artifact x"]["links"][0]["attributes"] == {"link.type": "depends_on"}
    assert by_name["ctx build"]["resource"]["project.id"] == "p"
