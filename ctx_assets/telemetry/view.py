"""`ctx trace`: runs from the local OTLP/JSON-lines file as span objects, a text tree, and look-ups.

The span object (`span_object`) is the one structure: `ctx trace --json` prints it and
the text tree is rendered from it. Its shape is documented in docs/tracing.md
("The structured trace API") and versioned by `SCHEMA`.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from pathlib import Path
from typing import Any

from ctx_assets.contracts import semconv as sc
from ctx_assets.telemetry.otlp_json import read_spans

SCHEMA = "ctx-assets/trace/v1"
Span = dict[str, Any]  # a decoded OTLP span (ctx_assets.telemetry.otlp_json.read_spans)
_STATUS = {"STATUS_CODE_OK": "ok", "STATUS_CODE_ERROR": "error"}


def load_traces(path: Path) -> dict[str, list[Span]]:
    traces: dict[str, list[Span]] = defaultdict(list)
    for s in read_spans(path):
        traces[s["traceId"]].append(s)
    return traces


def _end(spans: list[Span]) -> int:
    return max(int(s.get("endTimeUnixNano", 0)) for s in spans)


def find_trace(traces: dict[str, list[Span]], ref: str | None) -> str | None:
    """The newest trace, or the one whose id, build id or Dagster run id is `ref`."""
    if not traces:
        return None
    if ref is None:
        return max(traces, key=lambda t: _end(traces[t]))
    for tid, spans in traces.items():
        if tid == ref or tid.startswith(ref):
            return tid
        for s in spans:
            a = s["attributes"]
            if ref in (a.get(sc.CICD_PIPELINE_RUN_ID), a.get(sc.TASK_ID), *(a.get("ctx.dagster.run_ids") or [])):
                return tid
    return None


def _iso(nanos: int) -> str:
    return dt.datetime.fromtimestamp(nanos / 1e9, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def span_object(s: Span) -> dict[str, Any]:
    """One span as the stable JSON object (without children)."""
    start, end = int(s.get("startTimeUnixNano", 0)), int(s.get("endTimeUnixNano", 0))
    status = s.get("status") or {}
    return {
        "name": s["name"], "trace_id": s["traceId"], "span_id": s["spanId"], "parent_id": s.get("parentSpanId") or None,
        "start": _iso(start), "start_unix_nano": start, "duration_ms": round((end - start) / 1e6, 3),
        "status": _STATUS.get(status.get("code", ""), "unset"), "status_message": status.get("message", ""),
        "attributes": s["attributes"],
        "events": [{"name": e["name"], "time": _iso(int(e.get("timeUnixNano", 0))), "attributes": e["attributes"]}
                   for e in s.get("events", [])],
        "links": [{"trace_id": ln.get("traceId"), "span_id": ln.get("spanId"), "attributes": ln["attributes"]}
                  for ln in s.get("links", [])],
        "children": []}


def span_tree(spans: list[Span]) -> list[dict[str, Any]]:
    """Span objects nested by parent (children by start time); spans whose parent is not in the
    trace file (e.g. still being written) become roots."""
    objs = {s["spanId"]: span_object(s) for s in spans}
    roots = []
    for o in sorted(objs.values(), key=lambda o: o["start_unix_nano"]):
        parent = objs.get(o["parent_id"] or "")
        (parent["children"] if parent else roots).append(o)
    return roots


def walk(tree: list[dict[str, Any]]) -> Any:
    for o in tree:
        yield o
        yield from walk(o["children"])


def _task_status(o: dict[str, Any]) -> str:
    return o["attributes"].get(sc.TASK_STATUS) or ("error" if o["status"] == "error" else "ok")


def render(tree: list[dict[str, Any]], show_passed: bool = False) -> str:
    lines: list[str] = []

    def one(o: dict[str, Any], depth: int) -> None:
        a, pad = o["attributes"], "  " * depth
        extra = f" {a[sc.TASK_PERCENT_COMPLETE]}%" if sc.TASK_PERCENT_COMPLETE in a and depth == 0 else ""
        if a.get(sc.CICD_PIPELINE_RESULT):
            extra += f" result={a[sc.CICD_PIPELINE_RESULT]}"
        if a.get(sc.TASK_BLOCKED_BY):
            extra += f" blocked by {a[sc.TASK_BLOCKED_BY]}"
        if sc.QUESTION_ID in a:
            extra += f" {a.get(sc.QUESTION_STATUS)}, priority {a.get(sc.QUESTION_PRIORITY)}"
        lines.append(f"{pad}{o['name']}  [{_task_status(o)}] {o['duration_ms']:.1f} ms{extra}")
        for e in o["events"]:
            ea = e["attributes"]
            if e["name"] == sc.EVENT_GATE and (show_passed or ea.get(sc.GATE_RESULT) != "passed"):
                lines.append(f"{pad}  gate {ea.get(sc.GATE_NAME)}: {ea.get(sc.GATE_RESULT)}"
                             + (" (blocking)" if ea.get(sc.GATE_BLOCKING) else ""))
                for i in range(int(ea.get(sc.GATE_VIOLATIONS, 0) or 0)):
                    if sc.gate_violation_field(i) in ea:
                        lines.append(f"{pad}    - {ea[sc.gate_violation_field(i)]}: "
                                     f"{ea.get(sc.gate_violation_message(i), '')}")
        by_type: dict[str, list[str]] = defaultdict(list)
        for ln in o["links"]:
            la = ln["attributes"]
            if la.get(sc.LINK_TYPE) in (sc.LINK_CONSTRAINED_BY, sc.LINK_CONSTRAINS):
                by_type[la[sc.LINK_TYPE]].append(la.get(sc.QUESTION_ID) or la.get(sc.PIPELINE_ARTIFACT_ID) or "?")
        for kind, ids in sorted(by_type.items()):
            shown = ", ".join(ids[:5]) + (f" (+{len(ids) - 5} more)" if len(ids) > 5 else "")
            lines.append(f"{pad}  {kind}: {shown}")
        for child in o["children"]:
            one(child, depth + 1)

    for root in tree:
        one(root, 0)
    return "\n".join(lines)


def document(spans: list[Span]) -> dict[str, Any]:
    """`ctx trace --json`: the run's summary and its spans as a tree of span objects."""
    tree = span_tree(spans)
    failed, blocked = [], []
    for o in walk(tree):
        a = o["attributes"]
        if a.get(sc.TASK_STATUS) == sc.STATUS_BLOCKED:
            blocked.append(a.get(sc.PIPELINE_ARTIFACT_ID) or o["name"])
        for e in o["events"]:
            ea = e["attributes"]
            if e["name"] == sc.EVENT_GATE and ea.get(sc.GATE_RESULT) == "failed":
                failed.append({"span": o["name"], "gate": ea.get(sc.GATE_NAME),
                               "artifact_id": a.get(sc.PIPELINE_ARTIFACT_ID),
                               "violations": [{"field": ea.get(sc.gate_violation_field(i)),
                                               "message": ea.get(sc.gate_violation_message(i))}
                                              for i in range(int(ea.get(sc.GATE_VIOLATIONS, 0) or 0))]})
    root = tree[0] if tree else None
    return {"schema": SCHEMA, "trace_id": root["trace_id"] if root else None, "root": root["name"] if root else None,
            "result": root["attributes"].get(sc.CICD_PIPELINE_RESULT) if root else None,
            "span_count": len(spans), "failed_gates": failed, "blocked": blocked, "spans": tree}


def _matches(a: dict[str, Any], artifact_id: str | None, checksum: str | None) -> str | None:
    """Why an artifact span answers the look-up: 'artifact', 'content' or 'source' checksum; else None."""
    if artifact_id is not None:
        return "artifact" if a.get(sc.PIPELINE_ARTIFACT_ID) == artifact_id else None
    assert checksum is not None
    if str(a.get(sc.PIPELINE_OUTPUT_CHECKSUM, "")).startswith(checksum):
        return "content"
    if str(a.get(sc.PIPELINE_INPUT_CHECKSUM, "")).startswith(checksum):
        return "source"
    return None


def producers(traces: dict[str, list[Span]], artifact_id: str | None = None,
              checksum: str | None = None) -> list[dict[str, Any]]:
    """The artifact spans (newest first) for an artifact id, or for a checksum found in a deployed file:
    its content sha256 or its `contextcore.io/source-checksum` (the manifest's). Each names the run
    (Dagster run id) and build (trace) that made it."""
    out = []
    for tid, spans in traces.items():
        by_id = {s["spanId"]: s for s in spans}
        for s in spans:
            a = s["attributes"]
            if not s["name"].startswith("artifact ") or not (why := _matches(a, artifact_id, checksum)):
                continue
            run_id, build_id, cur = None, None, s
            while cur is not None:  # up to the Dagster run span and the root
                ca = cur["attributes"]
                if cur["name"] == sc.SPAN_RUN and run_id is None:
                    run_id = ca.get(sc.CICD_PIPELINE_RUN_ID)
                build_id = ca.get(sc.TASK_ID) if ca.get(sc.TASK_TYPE) == sc.TASK_TYPE_EPIC else build_id
                cur = by_id.get(cur.get("parentSpanId") or "")
            start = int(s.get("startTimeUnixNano", 0))
            out.append({"artifact_id": a.get(sc.PIPELINE_ARTIFACT_ID), "matched": why, "trace_id": tid,
                        "span_id": s["spanId"], "run_id": run_id, "build_id": build_id, "start": _iso(start),
                        "status": a.get(sc.TASK_STATUS), "content_checksum": a.get(sc.PIPELINE_OUTPUT_CHECKSUM),
                        "source_checksum": a.get(sc.PIPELINE_INPUT_CHECKSUM), "start_unix_nano": start})
    return sorted(out, key=lambda r: -r["start_unix_nano"])
