"""The build client `ctx` uses: its Dagster home and instance (home.py), running a build's runs in
process (runs.py), the summary collected from their events (summary.py), status (status.py), and what a
command can know without opening the instance (fresh.py). Imported on use: `ctx status` and a no-op
`ctx build` never load Dagster's execution stack."""

from __future__ import annotations

import importlib
from typing import Any

_WHERE = {"dagster_home": "home", "get_instance": "home", "QUIET": "runs", "build_with": "runs", "run_build": "runs",
          "compute_status": "status", "statuses": "status", "BuildSummary": "summary"}
__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
