"""`ctx`: the command-line entry point (`app.py` runs a command in this process).

Kept light: a `ctx build` or `ctx status` that a warm process answers (build/server.py) imports the standard library and
this, not the commands' modules.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

_APP = {"run", "build_parser", "GC_THRESHOLDS"}
_COMMON = {"EXIT_ENVIRONMENT", "EXIT_GATE_FAILED", "EXIT_INTERNAL", "EXIT_INVALID_INPUT", "EXIT_OK", "CliError"}
__all__ = sorted({"main", *_APP, *_COMMON})


# The commands a warm process answers faster than this one can start (build/server.py), and how long to wait
# for its greeting: a build waits longer for a process that is finishing the last one; `status` runs itself.
_WARM = {"build": 2.0, "status": 0.5}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] and argv[0] in _WARM:
        from ctx_assets.build import server

        wanted = _server_wanted()
        try:
            code = server.delegate(argv, _WARM[argv[0]]) if wanted else None
        except KeyboardInterrupt:  # before the warm process had the command: nothing ran
            print("ctx: interrupted", file=sys.stderr)
            return 130
        if code is not None:
            return code
        code = _run(argv)
        if wanted and argv[0] == "build" and "dagster" in sys.modules:  # it ran Dagster: the next finds it warm
            server.start_background(argv)
        return code
    return _run(argv)


def _server_wanted() -> bool:
    from ctx_assets.settings import SettingsError, settings

    try:
        return settings().build_server
    except SettingsError:
        return False  # `run` reports the variable


def _run(argv: list[str]) -> int:
    from .app import run

    return run(argv)


def __getattr__(name: str) -> Any:
    if name in _APP or name in _COMMON:
        return getattr(importlib.import_module(f"{__name__}.{'app' if name in _APP else 'common'}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
