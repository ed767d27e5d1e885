"""seed_completeness: every planned artifact has exactly one task; plan and context agree."""

from __future__ import annotations

from collections import Counter
from typing import Any

from ctx_assets.contracts.gates import GateName, GateResult, Violation


def check_seed_completeness(metadata: dict[str, Any], seed: dict[str, Any]) -> GateResult:
    """The plan is the export's artifact graph (checksum-tied to the artifact manifest); the
    context is targets × artifact types; the seed must have exactly one task per planned artifact."""
    violations: list[Violation] = []
    planned = list(metadata.get("artifact_dependency_graph", {}))
    context_count = len(metadata.get("targets", [])) * len(metadata.get("artifact_types", {}))
    if len(planned) != context_count:
        violations.append(Violation(
            field="artifact_dependency_graph",
            message=f"plan vs context mismatch: plan has {len(planned)} artifacts, context "
                    f"({len(metadata.get('targets', []))} targets × {len(metadata.get('artifact_types', {}))} types) "
                    f"needs {context_count}"))
    tasks = seed.get("tasks", [])
    counts = Counter(t["artifact_id"] for t in tasks)
    for a_id in planned:
        if counts[a_id] != 1:
            violations.append(Violation(field=f"tasks[{a_id}]", message=f"{counts[a_id]} tasks for this artifact "
                                                                         "(expected exactly 1)"))
    planned_set = set(planned)
    for t in tasks:
        if t["artifact_id"] not in planned_set:
            violations.append(Violation(field=f"tasks[{t['task_id']}]", message="task for an artifact not in the plan"))
    seen: set[str] = set()
    for t in tasks:
        for dep in t["depends_on"]:
            if dep not in seen:
                violations.append(Violation(field=f"tasks[{t['task_id']}].depends_on",
                                            message=f"{dep} is missing or ordered after this task"))
        seen.add(t["task_id"])
    return GateResult.of(GateName.seed_completeness, violations, planned=len(planned), context=context_count,
                         tasks=len(tasks))
