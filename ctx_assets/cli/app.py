"""`ctx <command>` in this process: parse, dispatch to the command's module (one per command; each parses
nothing and prints its own result), and turn every failure into one line and an exit code."""

from __future__ import annotations

import argparse
import gc
import os
import sys

from ctx_assets.core.faults import (
    EnvironmentFault,
    OutDirError,
    describe_os_error,
    instance_unusable,
    storage_error,
)
from ctx_assets.core.secrets import RedactingStream
from ctx_assets.settings import SettingsError

from .common import (
    EXIT_ENVIRONMENT,
    EXIT_INTERNAL,
    EXIT_INVALID_INPUT,
    EXIT_OK,
    CliError,
    print_json,
)
from .parser import build_parser


def _fail(args: argparse.Namespace, message: str, code: int) -> int:
    """One line on stderr; with --json also `{"ok": false, "error": ...}` on stdout, never a success summary."""
    if getattr(args, "json", False):
        print_json({"ok": False, "error": message, "exit_code": code})
    print(f"ctx: error: {message}", file=sys.stderr)
    return code


# Python collects its youngest generation every 700 new containers; a build allocates tens of millions
# (the seed's JSON, Dagster's events) and each collection cascade rescans them. Measured (docs/benchmarks.md):
# 1,000 targets ~34 → ~31.5 s, 3,000 105.6 → 98.9 s at +5% peak RSS, 10,000 within the same peak.
GC_THRESHOLDS = (50_000, 20, 10)


def run(argv: list[str]) -> int:
    """`ctx <argv>` in this process."""
    # Everything ctx prints passes the one redaction path, whatever printed it.
    if not isinstance(sys.stdout, RedactingStream):
        sys.stdout, sys.stderr = RedactingStream(sys.stdout), RedactingStream(sys.stderr)
    parser = build_parser()
    args = parser.parse_args(argv)
    gc.set_threshold(*GC_THRESHOLDS)
    try:
        return int(args.func(args))
    except (CliError, OutDirError, EnvironmentFault, SettingsError) as e:
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
            print_json({"ok": False, "error": message, "internal": True, "exit_code": EXIT_INTERNAL})
        print(f"ctx: {message} (run with --debug for details)", file=sys.stderr)
        return EXIT_INTERNAL


