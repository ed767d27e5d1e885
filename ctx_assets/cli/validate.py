"""`ctx validate PATH`: every check that needs no output folder, so it refuses what `ctx build` would refuse.

The schema and cross-field rules (exit 2, as build), then every gate that runs on the manifest in memory: the
export and plan gates (secret_scan among them: a credential anywhere blocks the whole project) and each
artifact's own gates without promtool/amtool (exit 1, as build). Every problem and violation is one line,
`FILE:LINE:COL: field.path: message` where it is a manifest field, never quoting a credential.
"""

from __future__ import annotations

import argparse
import sys

from ctx_assets.contracts.gates import GateResult
from ctx_assets.core.text import plural
from ctx_assets.core.validate import validate_file

from .common import EXIT_GATE_FAILED, EXIT_INVALID_INPUT, EXIT_OK, print_json

_MANIFEST_ROOTS = ("apiVersion", "kind", "metadata", "spec", "strategy", "guidance", "insights", "state")


def gate_lines(file: str, loaded: object, failed: list[tuple[GateResult, str | None]]) -> list[str]:
    """One line per violation of a failed blocking gate: a project gate's located at its manifest field,
    an artifact's gate named with the artifact (its fields are the artifact's, not the manifest's)."""
    lines = []
    for g, artifact in failed:
        for v in g.violations or [None]:
            field = v.field if v else ""
            message = v.message if v else "failed"
            if artifact is None and field.split(".")[0].split("[")[0] in _MANIFEST_ROOTS and loaded is not None:
                line, col = loaded.locate(field)
                lines.append(f"{file}:{line}:{col}: {field}: {message} (gate {g.gate.value})")
            else:
                where = f" [{artifact}]" if artifact else ""
                lines.append(f"{file}: gate {g.gate.value}{where}: {field + ': ' if field else ''}{message}")
    return lines


def cmd_validate(args: argparse.Namespace) -> int:
    loaded, model, problems = validate_file(args.path)
    if problems or model is None:
        if args.json:
            print_json({"file": args.path, "valid": False, "problems": [p.model_dump() for p in problems],
                        "gates": []})
        for p in problems:
            print(p, file=sys.stderr)
        print(f"{args.path}: invalid ({plural(len(problems), 'problem')})", file=sys.stderr)
        return EXIT_INVALID_INPUT
    gates: list[tuple[GateResult, str | None]] = []  # (gate, the artifact id of an artifact's gate)
    if not args.no_gates:
        from ctx_assets.core.pipeline import build_without_orchestrator

        run = build_without_orchestrator(args.path, None, write=False, validated=(loaded, model, problems))
        gates = [(g, None) for g in run.gates] + [(g, a.artifact_id) for a in run.artifacts for g in a.gates]
    failed = [(g, a) for g, a in gates if g.blocks]
    if args.json:
        print_json({"file": args.path, "valid": not failed, "problems": [],
                    "gates": [{**g.model_dump(mode="json"), "artifact_id": a} for g, a in failed]})
    elif failed:
        for line in gate_lines(loaded.path if loaded is not None else str(args.path), loaded, failed):
            print(line, file=sys.stderr)
        project = sorted({g.gate.value for g, a in failed if not a})
        targets = sorted({g.gate.value for g, a in failed if a})
        scope = ([f"{', '.join(project)} (blocks the whole project)"] if project else []) + \
            ([f"{', '.join(targets)} (blocks those artifacts' targets)"] if targets else [])
        print(f"{args.path}: `ctx build` would refuse it: failed {'; '.join(scope)}", file=sys.stderr)
    else:
        checked = "schema only (--no-gates)" if args.no_gates else \
            f"{plural(len(gates), 'gate')} passed or warned; promtool/amtool run at build"
        print(f"{args.path}: valid ({plural(len(model.spec.targets), 'target')}, "
              f"criticality {model.spec.business.criticality}; {checked})")
    return EXIT_GATE_FAILED if failed else EXIT_OK
