"""Every use of Dagster's private API, behind one door, each with a public-API fallback.

Dagster's public API is enough to run the product: `CTX_DAGSTER_PUBLIC_API=1` runs on it alone
(slower), and tests/test_public_api.py builds that way. Each private use, what it saves, and what
replaces it:

- inprocess.py: `execute_in_process`'s internals and the instance's compute log manager. Saves a
  third of the peak memory at 10,000 targets (events streamed, not kept) and `tail -F` plus a
  watcher interpreter per stream and run (~0.4 s of an 11-target build). Replaced by
  `JobDefinition.execute_in_process`.
- sqlite_storage.py, postgres_storage.py, event_writes.py: the storages' connection and insert
  internals. Save ~5x of the orchestration per event (kept connections, batched event writes).
  Replaced by Dagster's stock SQLite / PostgreSQL storage (ctx's home is written with `sqlite`).
- events.py: the check evaluation's target materialization and the version / range tag names.
  Saves the UI's check status beside each partition's materialization. Replaced by an evaluation
  without a target, and the tags' literal names.
- daemon.py, codeserver.py (`ctx ui` only): the sensor daemon's loop constant, and the code server's
  multiprocessing context. Save ~2 s of waiting for a tick and ~3-4 s of interpreter start per run launch
  of a live rebuild (docs/architecture.md, "Live rebuilds"). Replaced by the stock `dagster-daemon` and
  `dagster api grpc`.
"""

from __future__ import annotations


def public_api_only() -> bool:
    """CTX_DAGSTER_PUBLIC_API=1: the product on Dagster's public API alone."""
    from ctx_assets.settings import settings

    return settings().public_api_only
