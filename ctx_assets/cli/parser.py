"""The `ctx` argument parser: every command, its options and the exit codes."""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Callable


def _command(name: str) -> Callable[[argparse.Namespace], int]:
    """`ctx_assets.cli.<name>.cmd_<name>`, imported when that command runs: `ctx validate`, `status` and
    `trace` then load none of Dagster's execution stack (issue 23: imports were ~2 s of every command)."""
    def run(args: argparse.Namespace) -> int:
        return int(getattr(importlib.import_module(f"ctx_assets.cli.{name}"), f"cmd_{name}")(args))
    run.__name__ = f"cmd_{name}"
    return run


OUT = "output folder (default: out/<manifest name>; with a folder: the parent of one folder per bundle)"
MANY = "a manifest, or a folder / glob of *.contextcore.yaml (one line per project, then the totals)"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="ctx",
        description="Turn a ContextCore manifest into a validated observability bundle.",
        epilog="Exit codes: 0 ok, 1 a blocking gate failed, 2 invalid input or arguments (a bad --out too), "
               "3 an environment fault during the run (disk full, permission, instance), 4 an internal error "
               "(a bug in ctx; --debug shows the traceback). With a folder: the worst of its projects'.",
    )
    p.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    s = sub.add_parser("init", help="write a .contextcore.yaml template")
    s.add_argument("path", nargs="?", default=".contextcore.yaml")
    s.add_argument("--name", help="project and first target name (default: folder name)")
    s.add_argument("--force", action="store_true", help="overwrite an existing file")
    s.set_defaults(func=_command("init"))

    s = sub.add_parser("validate", help="check a manifest as `ctx build` would (schema, then every gate that needs no "
                                        "output); every problem as FILE:LINE:COL")
    s.add_argument("path")
    s.add_argument("--json", action="store_true", help="machine-readable result")
    s.add_argument("--no-gates", action="store_true",
                   help="the schema and cross-field rules only (no secret scan, no export or artifact gates)")
    s.set_defaults(func=_command("validate"))

    s = sub.add_parser("schema", help="print the manifest's JSON Schema (for editors' YAML language server)")
    s.add_argument("--markdown", action="store_true", help="the field reference instead (docs/manifest.md)")
    s.set_defaults(func=_command("schema"))

    s = sub.add_parser("export", help="run Export and Plan ingestion without the orchestrator")
    s.add_argument("path", help=MANY)
    s.add_argument("--out", help=OUT)
    s.add_argument("--json", action="store_true", help="machine-readable summary")
    s.add_argument("--artifacts", action="store_true",
                   help="also generate and validate every artifact (the whole bundle, no orchestrator)")
    s.add_argument("--no-external", action="store_true", help="skip promtool/amtool")
    s.set_defaults(func=_command("export"))

    s = sub.add_parser("build", help="build the bundle through the Dagster asset graph")
    s.add_argument("path", help=MANY)
    s.add_argument("--out", help=OUT)
    s.add_argument("--json", action="store_true", help="machine-readable summary")
    s.add_argument("--targets", help="comma-separated targets to build (default: all)")
    s.add_argument("--stale-only", action="store_true",
                   help="rebuild only stale or missing artifacts (the default; see --all)")
    s.add_argument("--all", action="store_true", help="rebuild every artifact, fresh ones too")
    s.set_defaults(func=_command("build"))

    s = sub.add_parser("status", help="fresh / stale / missing per artifact, with the cause")
    s.add_argument("path", help=MANY)
    s.add_argument("--out", help=OUT)
    s.add_argument("--json", action="store_true")
    s.add_argument("--verbose", "-v", action="store_true", help="list every artifact, fresh ones too")
    s.set_defaults(func=_command("status"))

    s = sub.add_parser("trace", help="print a run's trace as a tree (default: the last run)")
    s.add_argument("run_id", nargs="?", help="Dagster run id, build id or trace id")
    s.add_argument("--last", action="store_true", help="the most recent run (default)")
    s.add_argument("--all-gates", action="store_true", help="also show passed gates")
    s.add_argument("--json", action="store_true", help="span objects (see docs/tracing.md)")
    s.add_argument("--artifact", metavar="ID", help="which runs produced this artifact id")
    s.add_argument("--checksum", metavar="SHA",
                   help="which runs produced a file with this content sha256 or contextcore.io/source-checksum")
    s.set_defaults(func=_command("trace"))

    s = sub.add_parser("migrate", help="convert a ContextCore v1.1 manifest (contextcore.io/v1alpha1) to v2")
    s.add_argument("path")
    s.add_argument("--out", required=True, help="the new v2 file (never overwritten)")
    s.set_defaults(func=_command("migrate"))

    s = sub.add_parser("ui", help="serve the Dagster UI (lineage, checks, sensor) on 127.0.0.1")
    s.add_argument("paths", nargs="*", metavar="PATH",
                   help="manifests, folders of *.contextcore.yaml or globs, all in one code location "
                        "(default: the bundled example or $CTX_MANIFEST)")
    s.add_argument("--out", help="output folder (with several manifests: the parent of one folder per bundle, "
                                 "<out>/<metadata.name>)")
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, default=3000)
    s.set_defaults(func=_command("ui"))
    return p
