"""`ctx ui [PATH …]`: the Dagster UI and daemon serving every manifest from ONE code location, as a tree
of processes ctx owns (a stop signal to ctx stops all of them: ctx_assets/processes.py)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from ctx_assets.core.faults import EnvironmentFault, check_out_dir

from .common import EXIT_OK, CliError


def cmd_ui(args: argparse.Namespace) -> int:
    """`dagster dev` as a tree of processes ctx owns: a stop signal to ctx stops all of them (processes.py)."""
    from ctx_assets.build import dagster_home, get_instance
    from ctx_assets.defs.owners import owner_env
    from ctx_assets.processes import run_owned
    from ctx_assets.workspaces import WorkspaceError, manifests_in, write_workspace

    if args.out:
        check_out_dir(Path(args.out))
    get_instance().dispose()  # fails the runs a dead ctx left unfinished; one line if the instance is unusable
    home = dagster_home()
    env = {**os.environ, "DAGSTER_HOME": str(home), **owner_env()}  # the sensor's runs name this ctx as owner
    try:  # one code location for every manifest (ctx_assets/workspaces.py)
        from ctx_assets.settings import settings

        manifests = manifests_in(args.paths or list(settings().manifests))
        workspace = write_workspace(manifests, Path(args.out) if args.out else None, home / "ui-workspace")
    except WorkspaceError as e:  # one line, exit 2, through main's error path like every other bad input
        raise CliError(str(e)) from e
    argv = [sys.executable, "-m", "dagster", "dev", "-h", args.host, "-p", str(args.port), "-w", str(workspace)]
    print(f"Dagster UI on http://{args.host}:{args.port}  (Ctrl-C to stop)", file=sys.stderr)
    code, stopped = run_owned(argv, env)
    if stopped:
        print(f"ctx ui: stopped ({stopped}); Dagster and its processes have exited", file=sys.stderr)
        return EXIT_OK
    if code:
        raise EnvironmentFault(f"dagster dev exited with code {code} (its output is above)")
    return EXIT_OK


