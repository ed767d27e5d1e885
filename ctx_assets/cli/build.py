"""`ctx build PATH|FOLDER`: the bundle through the Dagster asset graph on the embedded instance."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ctx_assets.core.faults import check_out_dir
from ctx_assets.core.text import plural

from . import many
from .common import (
    EXIT_GATE_FAILED,
    EXIT_INVALID_INPUT,
    EXIT_OK,
    CliError,
    claim_written,
    invalid_manifest,
    out_for,
    prepare_out,
    print_json,
    project_id,
)


def cmd_build(args: argparse.Namespace) -> int:
    if many.is_many(args.path):
        return _build_many(args)
    from ctx_assets.build.fresh import Checksums, noop_build
    from ctx_assets.core.validate import validate_file

    if (code := invalid_manifest(args.path, args.json)) is not None:
        return code
    out = out_for(args.path, args.out)
    check_out_dir(out)  # before any run: a bad --out is invalid input (exit 2), not a failed build
    targets = [t.strip() for t in args.targets.split(",") if t.strip()] if args.targets else None
    loaded, model, _ = validate_file(args.path)
    unknown = sorted(set(targets or []) - {t.name for t in model.spec.targets}) if model else []
    if unknown:  # a typo writes nothing, not even the folder's project record
        raise CliError(f"unknown target(s): {', '.join(unknown)}")
    prepare_out(out, project_id(args.path))
    say = (lambda m: None) if args.json else (lambda m: print(f"  {m}", file=sys.stderr))
    if not args.json:
        print(f"ctx build {args.path} -> {out}", file=sys.stderr)
    with Checksums():
        s = None
        if not args.all and not targets:  # nothing stale: answered without a run (build/fresh.py)
            s = noop_build(loaded, model.project_id, out, say)
        if s is None:
            from ctx_assets.build import run_build

            s = run_build(args.path, out, targets=targets, stale_only=not args.all, progress=say, debug=args.debug)
    claim_written(out, project_id(args.path))
    if s.problems:
        for p in s.problems:
            print(p, file=sys.stderr)
        if args.json:
            print_json({"ok": False, "trace_id": s.trace_id, "problems": [p.model_dump() for p in s.problems]})
        return EXIT_INVALID_INPUT
    if s.errors and not s.run_ids:  # refused before any run: bad arguments
        for e in s.errors:
            print(f"ctx: error: {e}", file=sys.stderr)
        return EXIT_INVALID_INPUT
    for e in s.errors:
        print(f"ctx: error: {e}", file=sys.stderr)
    if args.json:
        print_json(_summary_json(s))
    else:
        _print_build_table(s, out)
    return EXIT_OK if s.ok else EXIT_GATE_FAILED


def _summary_json(s: object) -> dict:
    return {"ok": s.ok, "run_id": s.run_ids[0] if s.run_ids else None, "run_ids": s.run_ids,
            "trace_id": s.trace_id, "materialized": s.materialized,
            "artifacts": sorted(s.artifacts.values(), key=lambda a: a["id"]), "gates": s.gates,
            "blocked": s.blocked}


def _code(s: object) -> int:
    if s.problems or (s.errors and not s.run_ids):
        return EXIT_INVALID_INPUT
    return EXIT_OK if s.ok else EXIT_GATE_FAILED


def _build_many(args: argparse.Namespace) -> int:
    """Every manifest of the folder into `<out>/<metadata.name>`, one instance, one set of definitions."""
    from ctx_assets.build import build_with, get_instance
    from ctx_assets.definitions import definitions_for

    if args.targets:
        raise CliError("--targets names targets of one manifest; give a manifest file, not a folder")
    projects = many.projects(args.path, args.out)
    for p in projects:
        check_out_dir(p.out_dir)
    defs, instance = definitions_for(projects), get_instance()  # once for every project
    totals, results = many.Totals(), []
    for p in projects:
        m, out = p.manifest, p.out_dir
        prepare_out(out, project_id(m))  # None for an invalid manifest: nothing claimed, nothing written
        s = build_with(lambda: defs, p, m, out, stale_only=not args.all, debug=args.debug, instance=instance)
        claim_written(out, project_id(m))
        code = _code(s)
        totals.add(code, **{"artifacts built": len(s.materialized)})
        results.append({"project": p.id, "manifest": str(m), "out": str(out), "exit_code": code, **_summary_json(s)})
        if not args.json:
            print(_line(p.id, s, out, code), flush=True)
    if args.json:
        print_json({"ok": totals.worst == 0, "exit_code": totals.worst, "projects": results})
    else:
        print(totals.line())
    return totals.worst


def _line(project: str, s: object, out: Path, code: int) -> str:
    if s.problems:
        return f"{project}: invalid manifest ({plural(len(s.problems), 'problem')}; `ctx validate` lists them)"
    passed = sum(1 for g in s.gates if g["result"] == "passed")
    failed = sorted({g["name"] for g in s.failed_gates})
    line = (f"{project}: {len(s.materialized)} built, {len(s.blocked)} blocked, gates {passed}/{len(s.gates)} "
            f"passed -> {out}")
    if failed:
        line += f"; FAILED {', '.join(failed)}"
    return line + "".join(f"; error: {e}" for e in s.errors)


def _print_build_table(s: object, out: Path) -> None:
    by_type: dict[str, list[int]] = {}
    for a in s.artifacts.values():
        row = by_type.setdefault(a["type"], [0, 0])
        row[0 if a["status"] == "built" else 1] += 1
    for b in s.blocked:
        by_type.setdefault(b["type"], [0, 0])
    if by_type:  # a no-op build has no rows: no table
        print(f"{'artifact type':<22}{'built':>7}{'failed':>8}{'blocked':>9}")
    for t, (ok, bad) in sorted(by_type.items()):
        blocked = sum(1 for b in s.blocked if b["type"] == t)
        print(f"{t:<22}{ok:>7}{bad:>8}{blocked:>9}")
    passed = sum(1 for g in s.gates if g["result"] == "passed")
    print(f"gates: {passed}/{len(s.gates)} passed; materialized {plural(len(s.materialized), 'artifact')} "
          f"into {out}")
    warned = [g for g in s.gates if g["result"] == "warned"]
    for label, group in (("FAILED", s.failed_gates), ("warning:", warned)):
        for g in group:
            print(f"{label} gate {g['name']} on {g['artifact_id'] or g['asset']}", file=sys.stderr)
            for v in g["violations"]:
                print(f"    - {v['field']}: {v['message']}", file=sys.stderr)
    for b in s.blocked:
        print(f"blocked {b['id']} (a gate upstream failed)", file=sys.stderr)
    print(f"trace: {s.trace_id}  (ctx trace --last)")
