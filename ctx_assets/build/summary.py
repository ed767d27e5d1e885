"""A build's summary, collected from its runs' events as they happen: artifacts, gates, blocked, errors."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ctx_assets.contracts.gates import GateName

if TYPE_CHECKING:  # BuildSummary is also the no-op build's result, made without Dagster (build/fresh.py)
    from dagster import AssetKey


@dataclass
class BuildSummary:
    problems: list[Any] = field(default_factory=list)
    run_ids: list[str] = field(default_factory=list)
    trace_id: str | None = None
    materialized: list[str] = field(default_factory=list)
    artifacts: dict[str, dict[str, Any]] = field(default_factory=dict)
    gates: list[dict[str, Any]] = field(default_factory=list)
    blocked: list[dict[str, str]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def failed_gates(self) -> list[dict[str, Any]]:
        return [g for g in self.gates if g["result"] == "failed" and g["blocking"]]

    @property
    def ok(self) -> bool:
        return not self.problems and not self.failed_gates and not self.blocked and not self.errors


def collect_event(event: Any, summary: BuildSummary) -> None:
    """A materialization or check evaluation of a run, into the build's summary."""
    if event.event_type_value == "ASSET_MATERIALIZATION":
        mat = event.event_specific_data.materialization
        meta = {k: getattr(v, "value", v) for k, v in mat.metadata.items()}
        if "artifact_id" in meta:
            summary.artifacts[meta["artifact_id"]] = {
                "id": meta["artifact_id"], "type": _type_of(mat.asset_key), "target": mat.partition,
                "path": meta["path"], "checksum": meta["checksum"], "status": "built"}
            summary.materialized.append(meta["artifact_id"])
        return
    from ctx_assets.defs.gates import ARTIFACT_GATES_CHECK

    ev = event.event_specific_data
    meta = {k: getattr(v, "value", v) for k, v in ev.metadata.items()}
    if ev.check_name == ARTIFACT_GATES_CHECK:
        _collect_artifact_gates(ev, meta, summary)
        return
    summary.gates.append({"name": ev.check_name, "asset": _type_of(ev.asset_key), "artifact_id": None,
                          "result": meta.get("gate.result", "passed" if ev.passed else "failed"),
                          "blocking": ev.severity.value == "ERROR", "violations": _violations(meta)})


def _type_of(key: AssetKey) -> str:
    return key.path[-1]


def _violations(meta: dict[str, Any]) -> list[dict[str, Any]]:
    n = int(meta.get("gate.violations", 0) or 0)
    return [{"field": meta.get(f"gate.violation.{i}.field"), "message": meta.get(f"gate.violation.{i}.message")}
            for i in range(min(n, 20))]


def _collect_artifact_gates(ev: Any, meta: dict[str, Any], summary: BuildSummary) -> None:
    """One `artifact_gates` evaluation → one summary entry per gate it carries."""
    from ctx_assets.defs.gates import NON_BLOCKING

    aid, failed = meta.get("artifact_id"), set(filter(None, str(meta.get("gate.failed", "")).split(", ")))
    violations = _violations(meta)
    for k, v in meta.items():
        if not k.startswith("gate.") or k.count(".") != 1 or k in ("gate.result", "gate.failed", "gate.violations"):
            continue
        name = k.removeprefix("gate.")
        summary.gates.append({"name": name, "asset": _type_of(ev.asset_key), "artifact_id": aid, "result": v,
                              "blocking": GateName(name) not in NON_BLOCKING,
                              "violations": violations if name in failed or (not failed and v != "passed") else []})
    if failed and aid and aid not in summary.artifacts:
        summary.artifacts[aid] = {"id": aid, "type": _type_of(ev.asset_key), "target": ev.partition,
                                  "path": None, "checksum": None, "status": "failed"}
