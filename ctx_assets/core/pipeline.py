"""Export + plan ingestion without the orchestrator: what `ctx export` and the CI hook call.

The Dagster assets call the same stage functions; this module only sequences
them and writes the files atomically when no blocking gate failed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from contracts.gates import GateResult, Problem

from .export import build_export
from .fsio import contained, write_atomic
from .plan import ingest_export
from .validate import validate_file


@dataclass
class StageRun:
    problems: list[Problem] = field(default_factory=list)  # invalid input
    gates: list[GateResult] = field(default_factory=list)
    files: dict[str, bytes] = field(default_factory=dict)
    written: list[str] = field(default_factory=list)
    source_checksum: str = ""

    @property
    def blocked(self) -> bool:
        return any(g.blocks for g in self.gates)


def export_and_plan(manifest_path: str | Path, out: Path | None, write: bool = True) -> StageRun:
    run = StageRun()
    loaded, model, problems = validate_file(manifest_path)
    if problems or model is None or loaded is None:
        run.problems = problems
        return run
    export = build_export(model, loaded.raw)
    run.source_checksum = export.source_checksum
    run.gates += export.gates
    run.files.update(export.files)
    if export.blocked:
        return run
    seed = ingest_export(export.files, loaded.raw)
    run.gates += seed.gates
    run.files.update(seed.files)
    if write and out is not None and not run.blocked:
        for rel, data in run.files.items():
            write_atomic(contained(out, rel), data)
            run.written.append(rel)
    return run
