"""The Dagster home `ctx` owns (.ctx/dagster) and its instance: written, opened, orphaned runs failed."""

from __future__ import annotations

import os
from pathlib import Path

from dagster import DagsterInstance

from ctx_assets.core.faults import EnvironmentFault, describe_os_error, instance_unusable, storage_error
from ctx_assets.dagster_compat import public_api_only
from ctx_assets.dagster_compat.events import batch_events_by_default
from ctx_assets.dagster_compat.recorded import INSTANCE_MARKER
from ctx_assets.defs.connections import keep_connections
from ctx_assets.defs.owners import fail_orphaned_runs
from ctx_assets.settings import settings
from ctx_assets.telemetry.providers import configure_logging

KEPT_SQLITE = """# A run's stdout/stderr are not copied to per-run files: that capture starts `tail -F` and a watcher
# interpreter per stream for every run (four processes per run under `ctx ui`); the UI keeps each run's
# events and logs. (`ctx build`'s in-process runs skip it too: dagster_compat/inprocess.py.)
compute_logs:
  module: dagster._core.storage.noop_compute_log_manager
  class: NoOpComputeLogManager
storage:
  custom:
    module: ctx_assets.storage
    class: KeptSqliteStorage
    config:
      base_dir: {home}
"""
STOCK_SQLITE = """storage:
  sqlite:
    base_dir: {home}
"""
DEFAULT_INSTANCE_YAML = INSTANCE_MARKER + """: embedded SQLite{kept}.
# Delete this file to get the current default back; see docs/scaling.md for Postgres.
{storage}# The runs the sensor launches under `ctx ui` queue: at most one per core at once, one per project at a
# time in the order requested (an edit's run, then its provenance), looked at every second.
run_queue:
  max_concurrent_runs: {cores}
  dequeue_interval_seconds: 1
  tag_concurrency_limits:
    - key: ctx/project
      value:
        applyLimitPerUniqueValue: true
      limit: 1
# The sensor ticks often; its skipped ticks (nothing edited) are kept a day, not Dagster's default week.
retention:
  sensor:
    purge_after_days:
      skipped: 1
telemetry:
  enabled: false
"""


def dagster_home() -> Path:
    home = settings().dagster_home.resolve()
    home.mkdir(parents=True, exist_ok=True)
    cfg = home / "dagster.yaml"
    public = public_api_only()  # Dagster's own SQLite storage; else ours, kept connected
    storage = (STOCK_SQLITE if public else KEPT_SQLITE).format(home=home)
    wanted = DEFAULT_INSTANCE_YAML.format(kept=" (Dagster's own storage)" if public else ", kept connected",
                                          storage=storage,
                                          cores=os.cpu_count() or 2)
    # A home ctx made keeps up with ctx's default (same files, same layout); a hand-written one is left alone.
    if not cfg.exists() or (cfg.read_text().startswith(INSTANCE_MARKER) and cfg.read_text() != wanted):
        tmp = cfg.with_suffix(f".tmp{os.getpid()}")
        tmp.write_text(wanted)
        tmp.replace(cfg)
    os.environ["DAGSTER_HOME"] = str(home)
    batch_events_by_default()  # ctx's runs, and the processes `ctx ui` starts, write event batches together
    return home


def get_instance() -> DagsterInstance:
    """The embedded instance, after failing the unfinished runs of `ctx` processes that died. An instance
    that cannot be opened or read is an environment fault (one line, exit 3)."""
    configure_logging()
    try:
        home = dagster_home()
    except OSError as e:
        raise EnvironmentFault(f"Dagster home unusable: {describe_os_error(e)}") from e
    try:
        instance = _open(home)
        fail_orphaned_runs(instance)
    except Exception as e:  # corrupt database, unreadable dagster.yaml, locked or full storage...
        reason = describe_os_error(e) if isinstance(e, OSError) else storage_error(e) or \
            (str(e).strip().splitlines() or [type(e).__name__])[0][:300]
        raise instance_unusable(home, reason) from e
    return instance


_kept: dict[tuple[str, int, int], DagsterInstance] | None = None


def keep_instances() -> None:
    """A process that builds again and again (build/server.py) opens each home's instance once, until its
    dagster.yaml changes: opening checks every storage's schema, a quarter of a second each time."""
    global _kept
    _kept = {} if _kept is None else _kept


def _open(home: Path) -> DagsterInstance:
    if _kept is None:
        instance = DagsterInstance.from_config(str(home))
        keep_connections(instance)
        return instance
    st = (home / "dagster.yaml").stat()
    key = (str(home), st.st_mtime_ns, st.st_size)
    if key not in _kept:
        for old in [k for k in _kept if k[0] == key[0]]:
            _kept.pop(old).dispose()
        _kept[key] = DagsterInstance.from_config(str(home))
        keep_connections(_kept[key])
    return _kept[key]


def forget_instance(home: Path) -> None:
    """Close and drop the kept instance of `home` (the warm build process's scratch home)."""
    for key in [k for k in (_kept or {}) if k[0] == str(home.resolve())]:
        _kept.pop(key).dispose()  # type: ignore[union-attr]
