"""`ctx trace`: a run's trace as a tree, its spans as JSON, or which run produced an artifact."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from .common import EXIT_INVALID_INPUT, EXIT_OK, CliError, print_json


def cmd_trace(args: argparse.Namespace) -> int:
    from ctx_assets.telemetry.providers import trace_file
    from ctx_assets.telemetry.view import document, find_trace, load_traces, render, span_tree

    path = trace_file()
    traces = load_traces(path)
    if args.artifact or args.checksum:
        return _trace_lookup(traces, args, path)
    tid = find_trace(traces, None if args.last or not args.run_id else args.run_id)
    if tid is None:
        raise CliError(f"no trace {'for ' + args.run_id if args.run_id else 'yet'} in {path}; run `ctx build` first")
    spans = traces[tid]
    if args.json:
        print_json(document(spans))
    else:
        print(f"trace {tid}")
        print(render(span_tree(spans), show_passed=args.all_gates))
    return EXIT_OK


def _trace_lookup(traces: dict, args: argparse.Namespace, path: Path) -> int:
    """`ctx trace --artifact ID` / `--checksum SHA`: which runs produced it, newest first."""
    from ctx_assets.telemetry.view import producers

    sha = (args.checksum or "").lower().removeprefix("sha256:")
    if args.checksum and not re.fullmatch(r"[0-9a-f]{8,64}", sha):
        raise CliError(f"--checksum {args.checksum!r}: expected 8 to 64 hex digits of a sha256")
    found = producers(traces, artifact_id=args.artifact or None, checksum=sha or None)
    what = f"artifact {args.artifact}" if args.artifact else f"checksum {args.checksum}"
    if args.json:
        print_json({"query": {"artifact": args.artifact, "checksum": sha or None}, "produced_by": found})
        return EXIT_OK if found else EXIT_INVALID_INPUT
    if not found:
        raise CliError(f"no run in {path} produced {what}")
    for r in found:
        print(f"{r['artifact_id']}  {r['status'] or '?':<8} {r['start']}  run {r['run_id']}  trace {r['trace_id']}"
              f"  ({r['matched']} match, content sha256 {str(r['content_checksum'] or '')[:12]})")
    print(f"ctx trace {found[0]['trace_id']}   # the whole run that made the newest one")
    return EXIT_OK
