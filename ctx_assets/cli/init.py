"""`ctx init [PATH]`: a `.contextcore.yaml` template that validates and exports every artifact type."""

from __future__ import annotations

import argparse
import datetime as dt
import re
import shlex
from pathlib import Path

from ctx_assets.core.fsio import write_atomic
from ctx_assets.core.init_template import NEXT_STEPS, render_template
from ctx_assets.core.manifest_reference import SCHEMA_FILE, schema_text

from .common import EXIT_OK, CliError, ctx_command


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
    text = render_template(name, str(path), dt.date.today().isoformat(), SCHEMA_FILE)
    write_atomic(path, text.encode())
    print(f"wrote {path}")
    schema = path.parent / SCHEMA_FILE  # ctx's own generated file: rewritten, so it matches this ctx
    write_atomic(schema, schema_text().encode())
    print(f"wrote {schema}  (the manifest's JSON Schema, for editors; `ctx schema` prints it)")
    print(NEXT_STEPS.format(path=shlex.quote(str(path)), ctx=ctx_command()))
    return EXIT_OK
