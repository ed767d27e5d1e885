"""`ctx status PATH|FOLDER`: each artifact and provenance.json as fresh / stale / missing, with the cause."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ctx_assets.core.text import plural

from . import many
from .common import EXIT_GATE_FAILED, EXIT_INVALID_INPUT, EXIT_OK, out_for, print_gates, print_json

if TYPE_CHECKING:
    from ctx_assets.contracts.gates import GateResult

STATES = ("fresh", "stale", "missing")


def cmd_status(args: argparse.Namespace) -> int:
    if many.is_many(args.path):
        return _status_many(args)
    from ctx_assets.build.fresh import Checksums

    out = out_for(args.path, args.out)
    with Checksums():
        return _status_one(args, out)


def _status_one(args: argparse.Namespace, out: Path) -> int:
    from ctx_assets.build.fresh import memo_statuses
    from ctx_assets.core.validate import validate_file

    validated = validate_file(args.path)
    loaded, model, problems = validated
    hit = memo_statuses(loaded.raw, model.project_id, out) if model is not None and not problems else None
    if hit is not None:  # the manifest, code and plan are the last build's: no export, no plan, no instance
        return _print_status(args, out, hit[1])
    from ctx_assets.build import compute_status
    from ctx_assets.core.pipeline import export_and_plan
    from ctx_assets.core.slices import slices_dir
    from ctx_assets.settings import settings

    pre = export_and_plan(args.path, None, write=False, validated=validated, slices=slices_dir(settings().home, out))
    if pre.problems:
        for p in pre.problems:
            print(p, file=sys.stderr)
        return EXIT_INVALID_INPUT
    if pre.blocked:  # nothing to compare against: every artifact names the gate that stops the export, as build
        return _blocked(args, out, model, pre.gates)
    return _print_status(args, out, compute_status(args.path, out, pre=pre))


def _print_status(args: argparse.Namespace, out: Path, rows: list) -> int:
    if args.json:
        print_json({"out": str(out), "artifacts": [r.as_dict() for r in rows]})
        return EXIT_OK
    _print(args, out, rows)
    return EXIT_OK


def _blocked(args: argparse.Namespace, out: Path, model: Any, gates: list[GateResult]) -> int:
    """A manifest a gate of the shared stages blocks: each artifact missing or stale, naming the gate; exit 1."""
    from ctx_assets.build import get_instance
    from ctx_assets.build.status import blocked_statuses
    from ctx_assets.core.pipeline import blocked_by
    from ctx_assets.defs.project import project_of
    from ctx_assets.defs.state import latest_artifact_metadata

    by = blocked_by(gates)[0]
    targets = list(dict.fromkeys(t.name for t in model.spec.targets))
    rows = blocked_statuses(targets, out, latest_artifact_metadata(get_instance(), project_of(args.path)), by)
    if args.json:
        print_json({"ok": False, "out": str(out), "blocked": True, "blocked_by": by,
                    "gates": [g.model_dump(mode="json") for g in gates if g.blocks],
                    "artifacts": [r.as_dict() for r in rows]})
    else:
        _print(args, out, rows, f"; blocked by {by}: ctx build builds nothing until it passes (ctx validate)")
    print(f"{args.path}: the export is blocked by a failing gate; nothing can be built", file=sys.stderr)
    print_gates(gates, only_failed=True)
    return EXIT_GATE_FAILED


def _print(args: argparse.Namespace, out: Path, rows: list, note: str = "") -> None:
    """A header, the artifacts that are not fresh (every one with --verbose) and a summary line."""
    counts = _counts(rows)
    shown = rows if args.verbose else [r for r in rows if r.status != "fresh"]
    print(f"{args.path} -> {out}: {plural(len(rows) - 1, 'artifact')} and provenance.json")
    if shown:
        width = max(len(r.artifact_id) for r in shown + [_HEADER])
        for r in [_HEADER, *shown]:
            print(f"{r.artifact_id:<{width}}  {r.status:<8} {r.cause}")
    print(f"{counts['fresh']} fresh, {counts['stale']} stale, {counts['missing']} missing"
          + (note or ("  (ctx build rebuilds the rest)" if counts["stale"] + counts["missing"] else ""))
          + ("" if args.verbose or not counts["fresh"] else "; --verbose lists every artifact"))


class _Row:
    artifact_id, status, cause = "ARTIFACT", "STATUS", "CAUSE"


_HEADER = _Row()


def _counts(rows: list) -> dict[str, int]:
    return {k: sum(1 for r in rows if r.status == k) for k in STATES}


def _status_many(args: argparse.Namespace) -> int:
    from ctx_assets.build import compute_status, get_instance
    from ctx_assets.core.pipeline import blocked_by, export_and_plan
    from ctx_assets.core.slices import slices_dir
    from ctx_assets.settings import settings

    found = many.projects(args.path, args.out)
    instance = get_instance()
    totals, projects = many.Totals(), []
    for m, out in ((p.manifest, p.out_dir) for p in found):
        pre = export_and_plan(m, None, write=False, slices=slices_dir(settings().home, out))
        name = out.name
        if pre.problems or pre.blocked:
            code = EXIT_INVALID_INPUT if pre.problems else EXIT_GATE_FAILED
            why = f"invalid manifest ({len(pre.problems)} problems)" if pre.problems else \
                f"blocked by {blocked_by(pre.gates)[0]}"
            totals.add(code)
            projects.append({"manifest": str(m), "out": str(out), "exit_code": code, "error": why})
            if not args.json:
                print(f"{name}: {why}")
            continue
        rows = compute_status(m, out, instance, pre=pre)
        counts = _counts(rows)
        totals.add(EXIT_OK, **counts)
        projects.append({"manifest": str(m), "out": str(out), "exit_code": EXIT_OK,
                         "artifacts": [r.as_dict() for r in rows]})
        if not args.json:
            print(f"{name}: " + ", ".join(f"{counts[k]} {k}" for k in STATES) + f"  ({Path(out)})")
    if args.json:
        print_json({"exit_code": totals.worst, "projects": projects})
    else:
        print(totals.line())
    return totals.worst
