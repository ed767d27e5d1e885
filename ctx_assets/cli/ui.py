"""`ctx ui [PATH …]`: the Dagster UI and daemon serving every manifest from ONE code location, as a tree
of processes ctx owns (a stop signal to ctx stops all of them: ctx_assets/processes.py).

Three Dagster processes, no more: one gRPC code server holding every project's definitions (with the
forkserver its runs are forked from: dagster_compat/codeserver.py), the webserver and the daemon, both
pointed at that server (`dagster dev` would add itself and a proxy per location). The sensor's runs
are children of the code server, at most one per core at once and one per project (the run queue of
the home ctx writes). Dagster's own output goes to `.ctx/logs/dagster-ui.log`
unless `ctx --debug`; the URL is printed once the webserver answers.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import socket
import sys
import urllib.request
from pathlib import Path

from ctx_assets.core.faults import EnvironmentFault, check_out_dir

from .common import EXIT_OK, CliError


def _free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def _answers(url: str) -> bool:
    with contextlib.suppress(OSError, ValueError), urllib.request.urlopen(url, timeout=2) as r:
        return r.status == 200
    return False


def _serving(host: str, port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=1):
        return True
    return False


def cmd_ui(args: argparse.Namespace) -> int:
    import yaml

    from ctx_assets.build import dagster_home, get_instance
    from ctx_assets.defs.owners import owner_env
    from ctx_assets.processes import Step, run_owned_steps
    from ctx_assets.settings import settings
    from ctx_assets.workspaces import LOCATION_NAME, WorkspaceError, manifests_in, write_workspace

    if args.out:
        check_out_dir(Path(args.out))
    get_instance().dispose()  # fails the runs a dead ctx left unfinished; one line if the instance is unusable
    home = dagster_home()
    env = {**os.environ, "DAGSTER_HOME": str(home), **owner_env()}  # the sensor's runs name this ctx as owner
    try:  # one code location for every manifest (ctx_assets/workspaces.py)
        manifests = manifests_in(args.paths or list(settings().manifests))
        loader_ws = write_workspace(manifests, Path(args.out) if args.out else None, home / "ui-workspace")
    except WorkspaceError as e:  # one line, exit 2, through main's error path like every other bad input
        raise CliError(str(e)) from e
    loader = yaml.safe_load(loader_ws.read_text())["load_from"][0]["python_file"]
    grpc_port = _free_port("127.0.0.1")
    served = home / "ui-workspace" / "served.yaml"  # what the webserver and the daemon load: the running server
    served.write_text(yaml.safe_dump({"load_from": [{"grpc_server": {
        "host": "127.0.0.1", "port": grpc_port, "location_name": LOCATION_NAME}}]}))
    bin_dir = Path(sys.executable).parent
    steps = [
        # Dagster's code server, its runs forked from a preloaded process (dagster_compat/codeserver.py)
        Step("code server", [sys.executable, "-m", "ctx_assets.dagster_compat.codeserver", "api", "grpc", "--host",
                             "127.0.0.1", "--port", str(grpc_port), "--python-file", loader["relative_path"],
                             "--attribute", "defs", "--location-name", LOCATION_NAME, "--working-directory",
                             loader["working_directory"]],
             ready=lambda: _serving("127.0.0.1", grpc_port), ready_timeout=600),
        Step("webserver", [str(bin_dir / "dagster-webserver"), "-h", args.host, "-p", str(args.port), "-w",
                           str(served)],
             ready=lambda: _answers(f"http://{args.host}:{args.port}/server_info"), ready_timeout=600),
        # Dagster's daemon with the sensor loop looking every second (dagster_compat/daemon.py)
        Step("daemon", [sys.executable, "-m", "ctx_assets.dagster_compat.daemon", "run", "-w", str(served)]),
    ]
    log_path = settings().home / "logs" / "dagster-ui.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    print(f"ctx ui: starting Dagster for {len(manifests)} manifest{'s' if len(manifests) != 1 else ''} "
          f"(its output: {'below' if args.debug else log_path})", file=sys.stderr)
    with (contextlib.nullcontext(None) if args.debug else log_path.open("ab")) as log:
        code, stopped, who = run_owned_steps(
            steps, env, output=log,
            on_ready=lambda: print(f"Dagster UI on http://{args.host}:{args.port}  (Ctrl-C to stop)",
                                   file=sys.stderr, flush=True))
    if stopped:
        print(f"ctx ui: stopped ({stopped}); Dagster and its processes have exited", file=sys.stderr)
        return EXIT_OK
    where = "above" if args.debug else f"in {log_path}"
    raise EnvironmentFault(f"Dagster's {who} exited with code {code} (its output is {where})")
