"""`ctx validate PATH`: the manifest checked, every problem as FILE:LINE:COL: field.path: message."""

from __future__ import annotations

import argparse
import sys

from ctx_assets.core.text import plural
from ctx_assets.core.validate import validate_file

from .common import EXIT_INVALID_INPUT, EXIT_OK, print_json


def cmd_validate(args: argparse.Namespace) -> int:
    loaded, model, problems = validate_file(args.path)
    if args.json:
        print_json({"file": args.path, "valid": not problems, "problems": [p.model_dump() for p in problems]})
    elif problems:
        for p in problems:
            print(p, file=sys.stderr)
        print(f"{args.path}: invalid ({plural(len(problems), 'problem')})", file=sys.stderr)
    else:
        assert model is not None
        print(f"{args.path}: valid ({plural(len(model.spec.targets), 'target')}, "
              f"criticality {model.spec.business.criticality})")
    return EXIT_INVALID_INPUT if problems else EXIT_OK
