"""`ctx`: the command-line entry point. Thin: parses arguments, calls the core."""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import json
import os
import re
import shlex
import shutil
import sys
from pathlib import Path

from ctx_assets.contracts.gates import GateResult

from .core.checksums import sha256_hex
from .core.faults import (
    EnvironmentFault,
    OutDirError,
    check_out_dir,
    describe_os_error,
    instance_unusable,
    storage_error,
)
from .core.fsio import write_atomic
from .core.init_template import NEXT_STEPS, render_template
from .core.pipeline import build_without_orchestrator, export_and_plan
from .core.secrets import RedactingStream, scrub
from .core.text import plural
from .core.validate import validate_file

EXIT_OK = 0
EXIT_GATE_FAILED = 1
EXIT_INVALID_INPUT = 2
EXIT_ENVIRONMENT = 3
EXIT_INTERNAL = 4  # a bug in ctx: never shared with a failed gate (1), so scripts can tell them apart


class CliError(Exception):
    """A user-facing error: printed as one line, no traceback."""

    def __init__(self, message: str, code: int = EXIT_INVALID_INPUT):
        super().__init__(message)
        self.code = code


def _print_json(obj: object) -> None:
    # Encoded and written ~1 MB at a time: a 10,000-target summary is ~100 MB of JSON, and
    # json.dumps holds every piece of it in a list before joining (~10 million strings). Indented
    # JSON keeps every string on one line, so a write never splits a secret (stdout redacts each
    # write; the values are scrubbed before, too).
    buf: list[str] = []
    size = 0
    for piece in json.JSONEncoder(indent=2).iterencode(scrub(obj)):
        buf.append(piece)
        size += len(piece)
        if size > 1 << 20:
            text = "".join(buf)
            cut = text.rfind("\n") + 1  # 0 (nothing written yet) when there is no line end
            sys.stdout.write(text[:cut])
            buf, size = [text[cut:]], len(text) - cut
    sys.stdout.write("".join(buf) + "\n")


def cmd_validate(args: argparse.Namespace) -> int:
    loaded, model, problems = validate_file(args.path)
    if args.json:
        _print_json({"file": args.path, "valid": not problems,
                     "problems": [p.model_dump() for p in problems]})
    elif problems:
        for p in problems:
            print(p, file=sys.stderr)
        print(f"{args.path}: invalid ({plural(len(problems), 'problem')})", file=sys.stderr)
    else:
        assert model is not None
        print(f"{args.path}: valid ({plural(len(model.spec.targets), 'target')}, "
              f"criticality {model.spec.business.criticality})")
    return EXIT_INVALID_INPUT if problems else EXIT_OK


def print_gates(gates: list[GateResult], only_failed: bool = False) -> None:
    for g in gates:
        if only_failed and g.result == "passed":
            continue
        where = f" [{g.artifact_id}]" if g.artifact_id else ""
        print(f"  gate {g.gate}{where}: {g.result}" + (" (blocking)" if g.blocks else ""), file=sys.stderr)
        for v in g.violations:
            print(f"    - {v.field}: {v.message}", file=sys.stderr)


def cmd_export(args: argparse.Namespace) -> int:
    out = Path(args.out)
    if (code := _invalid(args.path, args.json)) is not None:
        return code
    check_out_dir(out)
    _prepare_out(out, _project(args.path))
    if args.artifacts:
        from ctx_assets.resources.validators import ExternalValidators

        validators = None if args.no_external else ExternalValidators().validate
        progress = _Progress(enabled=not args.json)
        run = build_without_orchestrator(args.path, out, validators=validators, on_result=progress)
        progress.done()
    else:
        run = export_and_plan(args.path, out)
    if run.problems:
        for p in run.problems:
            print(p, file=sys.stderr)
        if args.json:
            _print_json({"ok": False, "problems": [p.model_dump() for p in run.problems]})
        return EXIT_INVALID_INPUT
    if args.json:
        _print_json({"ok": not run.blocked, "source_checksum": run.source_checksum,
                     "files": {rel: {"path": str(out / rel), "checksum": sha256_hex(data)}
                               for rel, data in run.files.items() if rel in run.written},
                     "artifacts": [{"id": a.artifact_id, "type": a.artifact_type, "target": a.target,
                                    "path": a.output_path, "checksum": a.checksum, "status": a.status,
                                    "blocked_by": a.blocked_by} for a in run.artifacts],
                     "gates": [g.model_dump(mode="json") for g in run.all_gates()]})
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


def _out_for(path: str, out: str | None) -> Path:
    from ctx_assets.resources.output_store import default_out

    return Path(out or default_out(path))


def _prepare_out(out: Path, project: str | None) -> None:
    """Before a run writes into `out` (issue 22): refuse a folder that holds another project's bundle
    (exit 2), claim it for this one, and remove temp files killed writers left behind."""
    from .core.fsio import OwnedByAnotherProject, claim, sweep_leftover_temps

    if project is None:
        return
    try:
        claim(out, project)
    except OwnedByAnotherProject as e:
        raise CliError(str(e)) from e
    sweep_leftover_temps(out)


def _invalid(path: str, as_json: bool) -> int | None:
    """Validate before anything is written (no instance, span or log line for an invalid manifest): exit 2
    with every problem, or None when the manifest is valid."""
    _, _, problems = validate_file(path)
    if not problems:
        return None
    for p in problems:
        print(p, file=sys.stderr)
    if as_json:
        _print_json({"ok": False, "problems": [p.model_dump() for p in problems]})
    return EXIT_INVALID_INPUT


def _project(path: str) -> str | None:
    _, model, _ = validate_file(path)  # memoized: the file was just validated
    return model.project_id if model else None


def cmd_build(args: argparse.Namespace) -> int:
    from ctx_assets.defs.runner import run_build

    if (code := _invalid(args.path, args.json)) is not None:
        return code
    out = _out_for(args.path, args.out)
    check_out_dir(out)  # before any run: a bad --out is invalid input (exit 2), not a failed build
    targets = [t.strip() for t in args.targets.split(",") if t.strip()] if args.targets else None
    _, model, _ = validate_file(args.path)
    unknown = sorted(set(targets or []) - {t.name for t in model.spec.targets}) if model else []
    if unknown:  # a typo writes nothing, not even the folder's project record
        raise CliError(f"unknown target(s): {', '.join(unknown)}")
    _prepare_out(out, _project(args.path))
    say = (lambda m: None) if args.json else (lambda m: print(f"  {m}", file=sys.stderr))
    if not args.json:
        print(f"ctx build {args.path} -> {out}", file=sys.stderr)
    s = run_build(args.path, out, targets=targets, stale_only=not args.all, tracing=not args.no_tracing,
                  progress=say, debug=args.debug)
    if s.problems:
        for p in s.problems:
            print(p, file=sys.stderr)
        if args.json:
            _print_json({"ok": False, "trace_id": s.trace_id, "problems": [p.model_dump() for p in s.problems]})
        return EXIT_INVALID_INPUT
    if s.errors and not s.run_ids:  # refused before any run: bad arguments
        for e in s.errors:
            print(f"ctx: error: {e}", file=sys.stderr)
        return EXIT_INVALID_INPUT
    for e in s.errors:
        print(f"ctx: error: {e}", file=sys.stderr)
    if args.json:
        _print_json({"ok": s.ok, "run_id": s.run_ids[0] if s.run_ids else None, "run_ids": s.run_ids,
                     "trace_id": s.trace_id, "materialized": s.materialized,
                     "artifacts": sorted(s.artifacts.values(), key=lambda a: a["id"]), "gates": s.gates,
                     "blocked": s.blocked})
    else:
        _print_build_table(s, out)
    return EXIT_OK if s.ok else EXIT_GATE_FAILED


def _print_build_table(s: object, out: Path) -> None:
    from ctx_assets.defs.runner import BuildSummary

    assert isinstance(s, BuildSummary)
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


def cmd_status(args: argparse.Namespace) -> int:
    from ctx_assets.defs.runner import compute_status

    out = _out_for(args.path, args.out)
    pre = export_and_plan(args.path, None, write=False)
    if pre.problems:
        for p in pre.problems:
            print(p, file=sys.stderr)
        return EXIT_INVALID_INPUT
    if pre.blocked:  # nothing to compare against: say which gate stops the export, as build would
        if args.json:
            _print_json({"ok": False, "out": str(out), "blocked": True,
                         "gates": [g.model_dump(mode="json") for g in pre.gates if g.blocks]})
        print(f"{args.path}: the export is blocked by a failing gate; nothing can be built", file=sys.stderr)
        print_gates(pre.gates, only_failed=True)
        return EXIT_GATE_FAILED
    rows = compute_status(args.path, out, pre=pre)
    if args.json:
        _print_json({"out": str(out), "artifacts": [r.as_dict() for r in rows]})
        return EXIT_OK
    width = max(len(r.artifact_id) for r in rows)
    for r in rows:
        print(f"{r.artifact_id:<{width}}  {r.status:<8} {r.cause}")
    counts = {k: sum(1 for r in rows if r.status == k) for k in ("fresh", "stale", "missing")}
    print(f"{counts['fresh']} fresh, {counts['stale']} stale, {counts['missing']} missing"
          + ("  (ctx build --stale-only rebuilds the rest)" if counts["stale"] + counts["missing"] else ""))
    return EXIT_OK


def cmd_trace(args: argparse.Namespace) -> int:
    from ctx_assets.resources.telemetry import trace_file

    from .trace_view import document, find_trace, load_traces, render, span_tree

    path = trace_file()
    traces = load_traces(path)
    if args.artifact or args.checksum:
        return _trace_lookup(traces, args, path)
    tid = find_trace(traces, None if args.last or not args.run_id else args.run_id)
    if tid is None:
        raise CliError(f"no trace {'for ' + args.run_id if args.run_id else 'yet'} in {path}; run `ctx build` first")
    spans = traces[tid]
    if args.json:
        _print_json(document(spans))
    else:
        print(f"trace {tid}")
        print(render(span_tree(spans), show_passed=args.all_gates))
    return EXIT_OK


def _trace_lookup(traces: dict, args: argparse.Namespace, path: Path) -> int:
    """`ctx trace --artifact ID` / `--checksum SHA`: which runs produced it, newest first."""
    from .trace_view import producers

    sha = (args.checksum or "").lower().removeprefix("sha256:")
    if args.checksum and not re.fullmatch(r"[0-9a-f]{8,64}", sha):
        raise CliError(f"--checksum {args.checksum!r}: expected 8 to 64 hex digits of a sha256")
    found = producers(traces, artifact_id=args.artifact or None, checksum=sha or None)
    what = f"artifact {args.artifact}" if args.artifact else f"checksum {args.checksum}"
    if args.json:
        _print_json({"query": {"artifact": args.artifact, "checksum": sha or None}, "produced_by": found})
        return EXIT_OK if found else EXIT_INVALID_INPUT
    if not found:
        raise CliError(f"no run in {path} produced {what}")
    for r in found:
        print(f"{r['artifact_id']}  {r['status'] or '?':<8} {r['start']}  run {r['run_id']}  trace {r['trace_id']}"
              f"  ({r['matched']} match, content sha256 {str(r['content_checksum'] or '')[:12]})")
    print(f"ctx trace {found[0]['trace_id']}   # the whole run that made the newest one")
    return EXIT_OK


def cmd_migrate(args: argparse.Namespace) -> int:
    """ContextCore v1.1 → v2; refuses to overwrite, and writes nothing that would not validate."""
    from .core.migrate import migrate_file

    out = Path(args.out)
    if out.exists() or out.resolve() == Path(args.path).resolve():
        raise CliError(f"{out}: already exists; choose a new file (ctx migrate never overwrites)")
    text, notes, problems = migrate_file(args.path, str(out), dt.date.today().isoformat())
    if problems:
        for p in problems:
            print(p, file=sys.stderr)
        print(f"ctx: the migrated manifest would not validate; nothing written to {out}", file=sys.stderr)
        return EXIT_INVALID_INPUT
    out.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(out, text.encode())
    print(f"wrote {out} (ContextCore v1.1 → v2)")
    for note in notes:
        print(f"  note: {note}")
    ctx, quoted = ctx_command(), shlex.quote(str(out))
    print(f"next: {ctx} validate {quoted}  then  {ctx} build {quoted}")
    return EXIT_OK


def cmd_ui(args: argparse.Namespace) -> int:
    """`dagster dev` as a tree of processes ctx owns: a stop signal to ctx stops all of them (processes.py)."""
    from ctx_assets.defs.owners import owner_env
    from ctx_assets.defs.runner import dagster_home, get_instance
    from ctx_assets.workspaces import WorkspaceError, manifests_in, write_workspace

    from .processes import run_owned

    if args.out:
        check_out_dir(Path(args.out))
    get_instance().dispose()  # fails the runs a dead ctx left unfinished; one line if the instance is unusable
    home = dagster_home()
    env = {**os.environ, "DAGSTER_HOME": str(home), **owner_env()}  # the sensor's runs name this ctx as owner
    workspace = Path(__file__).resolve().parent.parent / "workspace.yaml"
    try:
        manifests = manifests_in(args.paths)
        if len(manifests) > 1:  # one code location per manifest, each bundle in OUT/<project id>
            workspace = write_workspace(manifests, Path(args.out or "out"), home / "ui-workspace")
    except WorkspaceError as e:  # one line, exit 2, through main's error path like every other bad input
        raise CliError(str(e)) from e
    if len(manifests) == 1:
        env["CTX_MANIFEST"] = str(manifests[0])
        if args.out:
            env["CTX_OUT"] = args.out
    argv = [sys.executable, "-m", "dagster", "dev", "-h", args.host, "-p", str(args.port)]  # same env as ctx
    argv += ["-w", str(workspace)] if workspace.exists() else ["-m", "ctx_assets.definitions"]
    print(f"Dagster UI on http://{args.host}:{args.port}  (Ctrl-C to stop)", file=sys.stderr)
    code, stopped = run_owned(argv, env)
    if stopped:
        print(f"ctx ui: stopped ({stopped}); Dagster and its processes have exited", file=sys.stderr)
        return EXIT_OK
    if code:
        raise EnvironmentFault(f"dagster dev exited with code {code} (its output is above)")
    return EXIT_OK


def _default_name(path: Path) -> str:
    base = path.resolve().parent.name.lower()
    name = re.sub(r"[^a-z0-9-]+", "-", base).strip("-")[:63].strip("-")
    return name or "my-service"


def cmd_init(args: argparse.Namespace) -> int:
    path = Path(args.path)
    if path.is_dir():
        path = path / ".contextcore.yaml"
    if path.exists() and not args.force:
        raise CliError(f"{path}: already exists; use --force to overwrite")
    name = args.name or _default_name(path)
    if not re.match(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", name) or len(name) > 63:
        raise CliError(f"--name {name!r}: expected a lowercase DNS label ([a-z0-9-], ≤63 chars)")
    path.parent.mkdir(parents=True, exist_ok=True)
    text = render_template(name, str(path), dt.date.today().isoformat())
    write_atomic(path, text.encode())
    print(f"wrote {path}")
    print(NEXT_STEPS.format(path=shlex.quote(str(path)), ctx=ctx_command()))
    return EXIT_OK


def ctx_command() -> str:
    """`ctx` as it runs from the current folder: `ctx` when that is this program on PATH, else this
    program's path (`.venv/bin/ctx`), else `python -m ctx_assets.cli` with this interpreter."""
    argv0 = Path(sys.argv[0])
    script = argv0 if argv0.name == "ctx" else Path(sys.executable).with_name("ctx")
    found = shutil.which("ctx")
    if script.is_file() and found and Path(found).resolve() == script.resolve():
        return "ctx"
    if script.is_file():
        return _as_typed(script)
    return f"{_as_typed(Path(sys.executable))} -m ctx_assets.cli"


def _as_typed(path: Path) -> str:
    """A program path a shell runs from here: relative below the current folder, else absolute."""
    full = path.absolute()
    try:
        shown = str(full.relative_to(Path.cwd()))
    except ValueError:
        shown = str(full)
    return shlex.quote(shown if "/" in shown else f"./{shown}")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="ctx",
        description="Turn a ContextCore manifest into a validated observability bundle.",
        epilog="Exit codes: 0 ok, 1 a blocking gate failed, 2 invalid input or arguments (a bad --out too), "
               "3 an environment fault during the run (disk full, permission, instance), 4 an internal error "
               "(a bug in ctx; --debug shows the traceback).",
    )
    p.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    s = sub.add_parser("init", help="write a .contextcore.yaml template")
    s.add_argument("path", nargs="?", default=".contextcore.yaml")
    s.add_argument("--name", help="project and first target name (default: folder name)")
    s.add_argument("--force", action="store_true", help="overwrite an existing file")
    s.set_defaults(func=cmd_init)

    s = sub.add_parser("validate", help="check a manifest; every problem as FILE:LINE:COL")
    s.add_argument("path")
    s.add_argument("--json", action="store_true", help="machine-readable result")
    s.set_defaults(func=cmd_validate)

    s = sub.add_parser("export", help="run Export and Plan ingestion without the orchestrator")
    s.add_argument("path")
    s.add_argument("--out", default="out", help="output folder (default: ./out)")
    s.add_argument("--json", action="store_true", help="machine-readable summary")
    s.add_argument("--artifacts", action="store_true",
                   help="also generate and validate every artifact (the whole bundle, no orchestrator)")
    s.add_argument("--no-external", action="store_true", help="skip promtool/amtool")
    s.set_defaults(func=cmd_export)

    s = sub.add_parser("build", help="build the bundle through the Dagster asset graph")
    s.add_argument("path")
    s.add_argument("--out", help="output folder (default: out/<manifest name>)")
    s.add_argument("--json", action="store_true", help="machine-readable summary")
    s.add_argument("--targets", help="comma-separated targets to build (default: all)")
    s.add_argument("--stale-only", action="store_true",
                   help="rebuild only stale or missing artifacts (the default; see --all)")
    s.add_argument("--all", action="store_true", help="rebuild every artifact, fresh ones too")
    s.add_argument("--no-tracing", action="store_true", help=argparse.SUPPRESS)
    s.set_defaults(func=cmd_build)

    s = sub.add_parser("status", help="fresh / stale / missing per artifact, with the cause")
    s.add_argument("path")
    s.add_argument("--out", help="output folder (default: out/<manifest name>)")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_status)

    s = sub.add_parser("trace", help="print a run's trace as a tree (default: the last run)")
    s.add_argument("run_id", nargs="?", help="Dagster run id, build id or trace id")
    s.add_argument("--last", action="store_true", help="the most recent run (default)")
    s.add_argument("--all-gates", action="store_true", help="also show passed gates")
    s.add_argument("--json", action="store_true", help="span objects (see docs/tracing.md)")
    s.add_argument("--artifact", metavar="ID", help="which runs produced this artifact id")
    s.add_argument("--checksum", metavar="SHA",
                   help="which runs produced a file with this content sha256 or contextcore.io/source-checksum")
    s.set_defaults(func=cmd_trace)

    s = sub.add_parser("migrate", help="convert a ContextCore v1.1 manifest (contextcore.io/v1alpha1) to v2")
    s.add_argument("path")
    s.add_argument("--out", required=True, help="the new v2 file (never overwritten)")
    s.set_defaults(func=cmd_migrate)

    s = sub.add_parser("ui", help="serve the Dagster UI (lineage, checks, sensor) on 127.0.0.1")
    s.add_argument("paths", nargs="*", metavar="PATH",
                   help="manifests or folders of *.contextcore.yaml, one code location each "
                        "(default: the bundled example or $CTX_MANIFEST)")
    s.add_argument("--out", help="output folder (with several manifests: the parent of one folder per project)")
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, default=3000)
    s.set_defaults(func=cmd_ui)

    return p


def _fail(args: argparse.Namespace, message: str, code: int) -> int:
    """One line on stderr; with --json also `{"ok": false, "error": ...}` on stdout, never a success summary."""
    if getattr(args, "json", False):
        _print_json({"ok": False, "error": message, "exit_code": code})
    print(f"ctx: error: {message}", file=sys.stderr)
    return code


# Python collects its youngest generation every 700 new containers; a build allocates tens of millions
# (the seed's JSON, Dagster's events) and each collection cascade rescans them. Measured (docs/benchmarks.md):
# 1,000 targets ~34 → ~31.5 s, 3,000 105.6 → 98.9 s at +5% peak RSS, 10,000 within the same peak.
GC_THRESHOLDS = (50_000, 20, 10)


def main(argv: list[str] | None = None) -> int:
    # Everything ctx prints passes the one redaction path (SPEC §8), whatever printed it.
    if not isinstance(sys.stdout, RedactingStream):
        sys.stdout, sys.stderr = RedactingStream(sys.stdout), RedactingStream(sys.stderr)
    parser = build_parser()
    args = parser.parse_args(argv)
    gc.set_threshold(*GC_THRESHOLDS)
    try:
        return int(args.func(args))
    except (CliError, OutDirError, EnvironmentFault) as e:
        if args.debug:
            raise
        return _fail(args, str(e), EXIT_ENVIRONMENT if isinstance(e, EnvironmentFault) else
                     getattr(e, "code", EXIT_INVALID_INPUT))
    except BrokenPipeError:  # `ctx trace | head`: the reader left; stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # so the exit-time flush cannot fail
        return EXIT_OK
    except OSError as e:  # disk full, permission, read-only file system outside a Dagster run
        if args.debug:
            raise
        return _fail(args, describe_os_error(e), EXIT_ENVIRONMENT)
    except KeyboardInterrupt:
        print("ctx: interrupted", file=sys.stderr)
        return 130
    except Exception as e:  # last resort: one line, not a traceback
        if args.debug:
            raise
        reason = storage_error(e)
        if reason:  # the instance's database, read outside a run (ctx status)
            return _fail(args, str(instance_unusable(os.environ.get("DAGSTER_HOME"), reason)), EXIT_ENVIRONMENT)
        message = f"internal error: {type(e).__name__}: {e}"
        if getattr(args, "json", False):
            _print_json({"ok": False, "error": message, "internal": True, "exit_code": EXIT_INTERNAL})
        print(f"ctx: {message} (run with --debug for details)", file=sys.stderr)
        return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
