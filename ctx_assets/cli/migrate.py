"""`ctx migrate PATH --out NEW`: ContextCore v1.1 → v2; never overwrites, writes nothing that would not
validate."""

from __future__ import annotations

import argparse
import datetime as dt
import shlex
import sys
from pathlib import Path

from ctx_assets.core.fsio import write_atomic

from .common import EXIT_INVALID_INPUT, EXIT_OK, CliError, ctx_command


def cmd_migrate(args: argparse.Namespace) -> int:
    from ctx_assets.core.migrate import migrate_file

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
