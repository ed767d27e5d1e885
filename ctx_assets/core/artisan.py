"""Artisan stage: seed task → DESIGN → gates → IMPLEMENT → gates → artifact (pure).

`build_artifact` is what one Dagster asset calls; `build_bundle` runs a whole
seed without the orchestrator, blocking the dependents of a failed artifact.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from ctx_assets.contracts.gates import GateResult

from .artifact_types import TYPE_ORDER
from .batching import gc_paused
from .checksums import sha256_hex
from .gates.artifact import (
    check_artifact_schema,
    check_artifact_secrets,
    check_design_calibration,
    check_output_contract,
    check_size_estimate,
)
from .generators import Design, Generator, registry

BUILT, FAILED, BLOCKED = "built", "failed", "blocked"


@dataclass
class ArtifactResult:
    artifact_id: str
    artifact_type: str
    target: str
    output_path: str
    status: str
    content: bytes | None = None
    checksum: str | None = None
    lines: int = 0
    tokens: int = 0
    gates: list[GateResult] = field(default_factory=list)
    blocked_by: str | None = None  # "gate on artifact" that stopped this one
    design: Design | None = None
    document: Any = None
    seconds: dict[str, float] = field(default_factory=dict)
    started_ns: int = 0  # wall clock at DESIGN start: spans are recorded after the fact with real times

    @property
    def failed_gate(self) -> GateResult | None:
        return next((g for g in self.gates if g.blocks), None)


def _result(task: dict[str, Any], status: str, **kw: Any) -> ArtifactResult:
    return ArtifactResult(artifact_id=task["artifact_id"], artifact_type=task["artifact_type"],
                          target=task["target"], output_path=task["output_path"], status=status, **kw)


def build_artifact(task: dict[str, Any], source_checksum: str, generator: Generator | None = None) -> ArtifactResult:
    gen = generator or registry()[task["artifact_type"]]
    started_ns = time.time_ns()
    t0 = time.perf_counter()
    design = gen.design(task, source_checksum)
    t1 = time.perf_counter()
    gates = [check_size_estimate(design, task["expected_output_contract"]),
             check_design_calibration(design, task["design_calibration"]["hint"])]
    if any(g.blocks for g in gates):
        return _result(task, FAILED, gates=gates, design=design, seconds={"design": t1 - t0}, started_ns=started_ns)
    rendered = gen.implement(design)
    t2 = time.perf_counter()
    gates += [check_output_contract(rendered, task["expected_output_contract"]),
              check_artifact_schema(gen.check_schema(rendered), rendered.warnings),
              check_artifact_secrets(rendered, task["output_path"])]
    t3 = time.perf_counter()
    out = gates[2].details
    status = FAILED if any(g.blocks for g in gates) else BUILT
    return _result(task, status, content=rendered.content, checksum=sha256_hex(rendered.content),
                   lines=out["lines"], tokens=out["tokens"], gates=gates, design=design, document=rendered.document,
                   seconds={"design": t1 - t0, "implement": t2 - t1, "validate": t3 - t2}, started_ns=started_ns)


def blocked_result(task: dict[str, Any], by: str) -> ArtifactResult:
    return _result(task, BLOCKED, blocked_by=by)


def blocker(dep: ArtifactResult) -> str | None:
    """Why a dependent of `dep` cannot be built, or None."""
    if dep.status == FAILED:
        gate = dep.failed_gate
        return f"{gate.gate if gate else 'error'} on {dep.artifact_id}"
    if dep.status == BLOCKED:
        return dep.blocked_by
    return None


BatchValidator = Callable[[str, list[ArtifactResult]], dict[str, GateResult]]


def apply_batch_gates(results: list[ArtifactResult], gates: dict[str, GateResult]) -> None:
    """Attach a stage's external-validator results; a blocking failure fails the artifact."""
    for r in results:
        g = gates.get(r.artifact_id)
        if g is not None:
            g.artifact_id = r.artifact_id
            r.gates.append(g)
            if g.blocks:
                r.status = FAILED


def build_bundle(tasks: Iterable[dict[str, Any]], source_checksum: str,
                 on_result: Callable[[ArtifactResult], None] | None = None,
                 validate_batch: BatchValidator | None = None) -> list[ArtifactResult]:
    """Every task, one artifact type (stage) at a time in dependency order, each stage's files
    validated in one batch. Dependents of a failed or blocked artifact are blocked, not built."""
    with gc_paused():
        return _build_bundle(tasks, source_checksum, on_result, validate_batch)


def _first_blocker(task: dict[str, Any], done: dict[str, ArtifactResult]) -> str | None:
    """Why `task` cannot be built: the first of its dependencies that failed or was blocked."""
    deps = (done.get(d.removeprefix("task:")) for d in task["depends_on"])
    return next((b for b in (blocker(d) for d in deps if d is not None) if b), None)


def _build_bundle(tasks: Iterable[dict[str, Any]], source_checksum: str,
                  on_result: Callable[[ArtifactResult], None] | None,
                  validate_batch: BatchValidator | None) -> list[ArtifactResult]:
    reg = registry()
    by_type: dict[str, list[dict[str, Any]]] = {}
    for task in tasks:
        by_type.setdefault(task["artifact_type"], []).append(task)
    done: dict[str, ArtifactResult] = {}
    pending = []
    # External validators run in worker threads (their subprocesses use the second core) while the
    # next waves are generated; nothing is written before their verdicts are in (below).
    with ThreadPoolExecutor(max_workers=2) as pool:
        for at in TYPE_ORDER:
            wave = []
            for task in by_type.get(at.value, []):
                why = _first_blocker(task, done)
                wave.append(blocked_result(task, why) if why else build_artifact(task, source_checksum, reg[at.value]))
            done.update((r.artifact_id, r) for r in wave)
            if validate_batch:
                pending.append((wave, pool.submit(validate_batch, at.value, wave)))
        for wave, verdicts in pending:
            apply_batch_gates(wave, verdicts.result())
    out = []
    for at in TYPE_ORDER:  # a dependency an external validator rejected blocks its dependents after all
        for task in by_type.get(at.value, []):
            res = done[task["artifact_id"]]
            why = _first_blocker(task, done)
            if why and res.status != BLOCKED:
                res = done[res.artifact_id] = blocked_result(task, why)
            out.append(res)
            if on_result:
                on_result(res)
    return out
