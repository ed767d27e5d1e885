"""`ctx export PATH|FOLDER`: Export and Plan ingestion, or the whole bundle (`--artifacts`), without Dagster."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ctx_assets.core.checksums import sha256_hex
from ctx_assets.core.faults import check_out_dir
from ctx_assets.core.pipeline import build_without_orchestrator, export_and_plan
from ctx_assets.core.slices import slices_dir
from ctx_assets.core.text import plural
from ctx_assets.settings import settings

from . import many
from .common import (
    EXIT_GATE_FAILED,
    EXIT_INVALID_INPUT,
    EXIT_OK,
    claim_written,
    invalid_manifest,
    out_for,
    prepare_out,
    print_gates,
    print_json,
    project_id,
)


class _Progress:
    """One line per stage as artifacts finish: `dashboard: 11/11`."""

    def __init__(self, enabled: bool):
        self.enabled, self.counts, self.current = enabled, {}, None

    def __call__(self, result: object) -> None:
        kind = getattr(result, "artifact_type", "?")
        if kind != self.current:
            self.done()
            self.current = kind
        self.counts[kind] = self.counts.get(kind, 0) + 1

    def done(self) -> None:
        if self.enabled and self.current:
            print(f"  {self.current}: {plural(self.counts[self.current], 'artifact')}", file=sys.stderr)
        self.current = None


def _run(args: argparse.Namespace, path: str | Path, out: Path, show_progress: bool) -> object:
    if not args.artifacts:
        return export_and_plan(path, out, slices=slices_dir(settings().home, out))
    from ctx_assets.resources.validators import ExternalValidators

    validators = None if args.no_external else ExternalValidators().validate
    progress = _Progress(enabled=show_progress)
    run = build_without_orchestrator(path, out, validators=validators, on_result=progress)
    progress.done()
    return run


def cmd_export(args: argparse.Namespace) -> int:
    if many.is_many(args.path):
        return _export_many(args)
    if (code := invalid_manifest(args.path, args.json)) is not None:
        return code
    out = out_for(args.path, args.out)
    check_out_dir(out)
    prepare_out(out, project_id(args.path))
    run = _run(args, args.path, out, show_progress=not args.json)
    claim_written(out, project_id(args.path))
    if run.problems:
        for p in run.problems:
            print(p, file=sys.stderr)
        if args.json:
            print_json({"ok": False, "problems": [p.model_dump() for p in run.problems]})
        return EXIT_INVALID_INPUT
    if args.json:
        print_json(_summary_json(run, out))
    gates = run.all_gates()
    if run.blocked:
        print(f"ctx: blocked by a failing gate; nothing written to {out}", file=sys.stderr)
        print_gates(gates, only_failed=True)
        for a in run.artifacts:
            if a.status == "blocked":
                print(f"  blocked {a.artifact_id}: by {a.blocked_by}", file=sys.stderr)
        return EXIT_GATE_FAILED
    if not args.json:
        if len(run.written) <= 10:
            for rel in run.written:
                print(f"wrote {out / rel}")
        else:
            print(f"wrote {len(run.written)} files to {out}")
        passed = sum(1 for g in gates if g.result == "passed")
        print(f"gates: {passed}/{len(gates)} passed")
        print_gates(gates, only_failed=True)
    return EXIT_OK


def _summary_json(run: object, out: Path) -> dict:
    return {"ok": not run.blocked, "source_checksum": run.source_checksum,
            "files": {rel: {"path": str(out / rel), "checksum": sha256_hex(data)}
                      for rel, data in run.files.items() if rel in run.written},
            "artifacts": [{"id": a.artifact_id, "type": a.artifact_type, "target": a.target,
                           "path": a.output_path, "checksum": a.checksum, "status": a.status,
                           "blocked_by": a.blocked_by} for a in run.artifacts],
            "gates": [g.model_dump(mode="json") for g in run.all_gates()]}


def _export_many(args: argparse.Namespace) -> int:
    found = many.projects(args.path, args.out)
    for p in found:
        check_out_dir(p.out_dir)
    totals, projects = many.Totals(), []
    for m, out in ((p.manifest, p.out_dir) for p in found):
        prepare_out(out, project_id(m))  # None for an invalid manifest: nothing claimed
        run = _run(args, m, out, show_progress=False)
        claim_written(out, project_id(m))
        gates = run.all_gates()
        if run.problems:
            code, line = EXIT_INVALID_INPUT, f"invalid manifest ({plural(len(run.problems), 'problem')})"
        elif run.blocked:
            failed = sorted({g.gate.value for g in gates if g.blocks})
            code, line = EXIT_GATE_FAILED, f"blocked by {', '.join(failed)}; nothing written"
        else:
            passed = sum(1 for g in gates if g.result == "passed")
            code, line = EXIT_OK, f"{plural(len(run.written), 'file')}, gates {passed}/{len(gates)} passed -> {out}"
        totals.add(code, **({"files written": len(run.written)} if code == EXIT_OK else {}))
        projects.append({"manifest": str(m), "out": str(out), "exit_code": code,
                         **({"problems": [p.model_dump() for p in run.problems]} if run.problems
                            else _summary_json(run, out))})
        if not args.json:
            print(f"{out.name}: {line}", flush=True)
    if args.json:
        print_json({"ok": totals.worst == 0, "exit_code": totals.worst, "projects": projects})
    else:
        print(totals.line())
    return totals.worst
