"""Export + plan ingestion without the orchestrator: what `ctx export` and the CI hook call.

The Dagster assets call the same stage functions; this module only sequences
them and writes the files atomically when no blocking gate failed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from ctx_assets.contracts.gates import GateName, GateResult, Problem

from .artisan import BUILT, ArtifactResult, BatchValidator, build_bundle
from .batching import gc_paused
from .checksums import pretty_json, sha256_hex
from .export import build_export
from .export_paths import PROVENANCE_PATH
from .fsio import contained
from .generators import registry
from .plan import ingest_export
from .project_bundle import project_files
from .slices import slice_caches
from .staging import write_all
from .validate import Validated, validate_file

SEED_GATES = (GateName.export_integrity, GateName.seed_completeness)  # plan ingestion's; the others are export's


def blocked_by(gates: list[GateResult]) -> tuple[str, str]:
    """Why nothing past the shared stages can be built, in the one wording the UI's checks, the sensor's
    ticks and `ctx status` share: ("secret_scan on export", the same with each gate's first violation,
    "secret_scan on export: spec.risks[0].mitigation: value looks like a credential …")."""
    failed = [g for g in gates if g.blocks]
    where = {g.gate: f"{g.gate.value} on {'plan_ingestion' if g.gate in SEED_GATES else 'export'}" for g in failed}
    why = "; ".join(where[g.gate] + (f": {g.violations[0].field}: {g.violations[0].message}" if g.violations
                                     else ": failed") for g in failed)
    return ", ".join(where[g.gate] for g in failed), why


@dataclass
class StageRun:
    problems: list[Problem] = field(default_factory=list)  # invalid input
    gates: list[GateResult] = field(default_factory=list)
    files: dict[str, bytes] = field(default_factory=dict)
    written: list[str] = field(default_factory=list)
    source_checksum: str = ""
    seed: dict[str, Any] = field(default_factory=dict)
    artifacts: list[ArtifactResult] = field(default_factory=list)
    project_files: dict[str, bytes] = field(default_factory=dict)  # bundle-level files (core/project_bundle.py)
    recipes: dict[str, str] = field(default_factory=dict)  # what each per-target bundle-level file is made from

    @property
    def blocked(self) -> bool:
        return any(g.blocks for g in self.gates) or any(a.status != BUILT for a in self.artifacts)

    def all_gates(self) -> list[GateResult]:
        return self.gates + [g for a in self.artifacts for g in a.gates]


def export_and_plan(manifest_path: str | Path, out: Path | None, write: bool = True,
                    validated: Validated | None = None, slices: Path | None = None) -> StageRun:
    """`validated`: what validate_file returned for it already (standard input is read once). `slices`: the
    folder of the output folder's slices (core/slices.py), read and updated; None plans from nothing."""
    with gc_paused():
        return _export_and_plan(manifest_path, out, write, validated, slices)


def _export_and_plan(manifest_path: str | Path, out: Path | None, write: bool,
                     validated: Validated | None, slices: Path | None) -> StageRun:
    run = StageRun()
    loaded, model, problems = validated or validate_file(manifest_path)
    if problems or model is None or loaded is None:
        run.problems = problems
        return run
    export_slices, plan_slices = slice_caches(slices)
    export = build_export(model, loaded.raw, cache=export_slices)
    export_slices.save()
    run.source_checksum = export.source_checksum
    run.gates += export.gates
    run.files.update(export.files)
    if export.blocked:
        return run
    seed = ingest_export(export.files, loaded.raw, cache=plan_slices)
    plan_slices.save()
    run.gates += seed.gates
    run.files.update(seed.files)
    run.seed = seed.seed
    if write and out is not None and not run.blocked:
        _write(run, out, run.files)
    return run


def _write(run: StageRun, out: Path, files: dict[str, bytes]) -> None:
    """All files or none: staged, then moved into the bundle together (core/staging.py)."""
    for rel in files:
        contained(out, rel)  # an unsafe path is refused before anything is written
    write_all(out, files)
    run.written += list(files)


def provenance_doc(seed: dict[str, Any], checksums: dict[str, str | None], run_id: str | None = None,
                   trace_id: str | None = None, bundle_files: dict[str, str] | None = None,
                   recipes: dict[str, str] | None = None) -> bytes:
    """export/provenance.json: the chain manifest → export → seed → artifacts, with the run and trace
    that made them, and the bundle-level files' checksums. The only file with a wall-clock time, so
    checksummed content stays deterministic."""
    chain = seed.get("provenance", {}).get("chain", [])
    reg = registry()
    return pretty_json({
        "generated_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), "run_id": run_id,
        "trace_id": trace_id, "source_checksum": chain[0]["checksum"] if chain else None, "chain": chain,
        "artifacts": {t["artifact_id"]: {"type": t["artifact_type"], "target": t["target"], "path": t["output_path"],
                                         "checksum": checksums.get(t["artifact_id"]),
                                         "code_version": reg[t["artifact_type"]].code_version}
                      for t in seed.get("tasks", [])},
        "bundle_files": dict(sorted((bundle_files or {}).items())),
        "bundle_recipes": dict(sorted((recipes or {}).items()))})


@dataclass
class PreviousBundle:
    """The bundle-level files the last provenance.json recorded: their checksums and recipes."""

    files: dict[str, str] = field(default_factory=dict)
    recipes: dict[str, str] = field(default_factory=dict)

    def unchanged(self, rel: str, recipe: str, checksum: Callable[[str], str | None]) -> bool:
        """`rel` was made from `recipe` and is on disk as it was written."""
        return self.recipes.get(rel) == recipe and rel in self.files and checksum(rel) == self.files[rel]


def previous_bundle(provenance: bytes | None) -> PreviousBundle:
    try:
        doc = orjson.loads(provenance or b"{}")
        return PreviousBundle(dict(doc.get("bundle_files") or {}), dict(doc.get("bundle_recipes") or {}))
    except (ValueError, AttributeError, TypeError):  # none yet, or edited by hand: everything is made again
        return PreviousBundle()


def build_without_orchestrator(manifest_path: str | Path, out: Path | None, write: bool = True,
                               validators: BatchValidator | None = None,
                               on_result: Callable[[ArtifactResult], None] | None = None,
                               validated: Validated | None = None) -> StageRun:
    """The whole bundle as plain function calls: for CI jobs and the pure-generation benchmark.

    Files are written only when every gate passed, so a failed run leaves the previous bundle intact.
    """
    run = export_and_plan(manifest_path, out, write=False, validated=validated)
    if run.problems or run.blocked:
        return run
    run.artifacts = build_bundle(run.seed["tasks"], run.source_checksum, validate_batch=validators,
                                 on_result=on_result)
    if not run.blocked:
        built = {a.output_path: a.content for a in run.artifacts if a.content is not None}
        documents = {a.output_path: a.document for a in run.artifacts if a.content is not None}
        run.project_files = project_files(run.seed, built.get, documents.get, recipes=run.recipes)
    if write and out is not None and not run.blocked:
        files = dict(run.files)
        files.update({a.output_path: a.content for a in run.artifacts if a.content is not None})
        files.update(run.project_files)
        files[PROVENANCE_PATH] = provenance_doc(run.seed, {a.artifact_id: a.checksum for a in run.artifacts},
                                                bundle_files={k: sha256_hex(v) for k, v in run.project_files.items()},
                                                recipes=run.recipes)
        _write(run, out, files)
    return run
