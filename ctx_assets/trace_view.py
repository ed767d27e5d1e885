"""`ctx trace`: a run from the local OTLP/JSON-lines file, as an indented tree."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

from contracts import semconv as sc
from resources.otlp_json import read_spans


def load_traces(path: Path) -> dict[str, list[dict[str, Any]]]:
    traces: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for s in read_spans(path):
        traces[s["traceId"]].append(s)
    return traces


def find_trace(traces: dict[str, list[dict[str, Any]]], ref: str | None) -> str | None:
    """The newest trace, or the one whose id, build id or Dagster run id is `ref`."""
    if not traces:
        return None
    if ref is None:
        return max(traces, key=lambda t: max(int(s.get("endTimeUnixNano", 0)) for s in traces[t]))
    for tid, spans in traces.items():
        if tid == ref or tid.startswith(ref):
            return tid
        for s in spans:
            a = s["attributes"]
            if ref in (a.get(sc.CICD_PIPELINE_RUN_ID), a.get(sc.TASK_ID), *(a.get("ctx.dagster.run_ids") or [])):
                return tid
    return None


def _ms(s: dict[str, Any]) -> float:
    return (int(s.get("endTimeUnixNano", 0)) - int(s.get("startTimeUnixNano", 0))) / 1e6


def render(spans: list[dict[str, Any]], show_passed: bool = False) -> str:
    by_parent: dict[str | None, list[dict[str, Any]]] = defaultdict(list)
    ids = {s["spanId"] for s in spans}
    for s in spans:
        parent = s.get("parentSpanId") or None
        by_parent[parent if parent in ids else None].append(s)
    lines: list[str] = []

    def walk(s: dict[str, Any], depth: int) -> None:
        a = s["attributes"]
        status = a.get(sc.TASK_STATUS) or ("error" if s.get("status", {}).get("code") == "STATUS_CODE_ERROR" else "ok")
        extra = ""
        if sc.TASK_PERCENT_COMPLETE in a and depth == 0:
            extra = f" {a[sc.TASK_PERCENT_COMPLETE]}%"
        if a.get(sc.CICD_PIPELINE_RESULT):
            extra += f" result={a[sc.CICD_PIPELINE_RESULT]}"
        if a.get(sc.TASK_BLOCKED_BY):
            extra += f" blocked by {a[sc.TASK_BLOCKED_BY]}"
        lines.append(f"{'  ' * depth}{s['name']}  [{status}] {_ms(s):.1f} ms{extra}")
        for e in s.get("events", []):
            ea = e["attributes"]
            if e["name"] == sc.EVENT_GATE and (show_passed or ea.get(sc.GATE_RESULT) != "passed"):
                lines.append(f"{'  ' * (depth + 1)}gate {ea.get(sc.GATE_NAME)}: {ea.get(sc.GATE_RESULT)}"
                             + (" (blocking)" if ea.get(sc.GATE_BLOCKING) else ""))
                for i in range(int(ea.get(sc.GATE_VIOLATIONS, 0) or 0)):
                    if sc.gate_violation_field(i) in ea:
                        lines.append(f"{'  ' * (depth + 2)}- {ea[sc.gate_violation_field(i)]}: "
                                     f"{ea.get(sc.gate_violation_message(i), '')}")
        for child in sorted(by_parent.get(s["spanId"], []), key=lambda c: int(c.get("startTimeUnixNano", 0))):
            walk(child, depth + 1)

    for root in sorted(by_parent[None], key=lambda c: int(c.get("startTimeUnixNano", 0))):
        walk(root, 0)
    return "\n".join(lines)


def summary(spans: list[dict[str, Any]]) -> dict[str, Any]:
    roots = [s for s in spans if not s.get("parentSpanId") or s["parentSpanId"] not in {x["spanId"] for x in spans}]
    failed = []
    for s in spans:
        for e in s.get("events", []):
            ea = e["attributes"]
            if e["name"] == sc.EVENT_GATE and ea.get(sc.GATE_RESULT) == "failed":
                failed.append({"span": s["name"], "gate": ea.get(sc.GATE_NAME),
                               "artifact_id": s["attributes"].get(sc.PIPELINE_ARTIFACT_ID),
                               "violations": [{"field": ea.get(sc.gate_violation_field(i)),
                                               "message": ea.get(sc.gate_violation_message(i))}
                                              for i in range(int(ea.get(sc.GATE_VIOLATIONS, 0) or 0))]})
    return {"trace_id": spans[0]["traceId"] if spans else None,
            "root": roots[0]["name"] if roots else None,
            "result": roots[0]["attributes"].get(sc.CICD_PIPELINE_RESULT) if roots else None,
            "spans": len(spans), "failed_gates": failed,
            "blocked": [s["attributes"].get(sc.PIPELINE_ARTIFACT_ID) or s["name"] for s in spans
                        if s["attributes"].get(sc.TASK_STATUS) == sc.STATUS_BLOCKED]}
