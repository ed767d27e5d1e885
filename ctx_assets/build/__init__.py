"""The build client `ctx` uses: its Dagster home and instance (home.py), running a build's runs in
process (runs.py), the summary collected from their events (summary.py), and status (status.py)."""

from .home import dagster_home, get_instance
from .runs import QUIET, build_with, run_build
from .status import compute_status, statuses
from .summary import BuildSummary

__all__ = ["QUIET", "BuildSummary", "build_with", "compute_status", "dagster_home", "get_instance", "run_build",
           "statuses"]
