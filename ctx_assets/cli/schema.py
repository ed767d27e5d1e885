"""`ctx schema [--markdown]`: the manifest's JSON Schema (for editors), or its field reference (docs/manifest.md),
both from the model ctx validates with."""

from __future__ import annotations

import argparse
import sys

from ctx_assets.core.manifest_reference import reference_markdown, schema_text

from .common import EXIT_OK


def cmd_schema(args: argparse.Namespace) -> int:
    sys.stdout.write(reference_markdown() if args.markdown else schema_text())
    return EXIT_OK
