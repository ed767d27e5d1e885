"""OTLP/JSON lines: one ExportTraceServiceRequest per line (the embedded, backend-less trace store).

Encoded with the protobuf JSON mapping (camelCase fields), trace and span ids
as hex as the OTLP/JSON specification requires, so the Collector's file
receiver and `ctx trace` both read it.
"""

from __future__ import annotations

import base64
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import orjson
from google.protobuf.json_format import MessageToDict
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

_ID_KEYS = ("traceId", "spanId", "parentSpanId")


def _hex_ids(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: (base64.b64decode(v).hex() if k in _ID_KEYS and isinstance(v, str) else _hex_ids(v))
                for k, v in obj.items()}
    if isinstance(obj, list):
        return [_hex_ids(v) for v in obj]
    return obj


def encode_request(spans: Sequence[ReadableSpan]) -> bytes:
    return orjson.dumps(_hex_ids(MessageToDict(encode_spans(spans)))) + b"\n"


class JsonLinesSpanExporter(SpanExporter):
    """Appends each batch as one line; a line is written whole (one write call under a lock)."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._lock = threading.Lock()

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        line = encode_request(spans)
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.path, "ab") as f:
                f.write(line)
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        pass

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


def _value(v: dict[str, Any]) -> Any:
    for k in ("stringValue", "boolValue", "doubleValue"):
        if k in v:
            return v[k]
    if "intValue" in v:
        return int(v["intValue"])
    if "arrayValue" in v:
        return [_value(x) for x in v["arrayValue"].get("values", [])]
    return None


def attrs(items: list[dict[str, Any]] | None) -> dict[str, Any]:
    return {a["key"]: _value(a.get("value", {})) for a in items or []}


def read_spans(path: Path) -> Iterator[dict[str, Any]]:
    """Flat spans (attributes decoded, resource attributes under 'resource') from a JSON-lines file."""
    if not path.exists():
        return
    with open(path, "rb") as f:
        for line in f:
            if not line.strip():
                continue
            try:
                req = orjson.loads(line)
            except orjson.JSONDecodeError:
                continue  # a torn last line from a killed process
            for rs in req.get("resourceSpans", []):
                resource = attrs(rs.get("resource", {}).get("attributes"))
                for ss in rs.get("scopeSpans", []):
                    for s in ss.get("spans", []):
                        events = [{**e, "attributes": attrs(e.get("attributes"))} for e in s.get("events", [])]
                        links = [{**ln, "attributes": attrs(ln.get("attributes"))} for ln in s.get("links", [])]
                        yield {**s, "attributes": attrs(s.get("attributes")), "resource": resource,
                               "events": events, "links": links}
