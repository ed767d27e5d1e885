"""A PostgreSQL-backed instance's storage: dagster-postgres with the bulk event writes of
ctx_assets/dagster_compat/event_writes.py.

dagster-postgres opens a new connection (a TCP connect and a SCRAM handshake) for every event it
writes, two or three per materialization: ~13 ms an event, 672 s for a 1,000-target build. Here a
build's materializations and check evaluations are written in batches, one transaction per batch,
with the rows dagster-postgres writes (tests/test_postgres.py compares them), and the event log keeps
its connections open (POOL_SIZE per process, checked before use, so a dropped one is replaced). Runs
and schedules are dagster-postgres's own (a few rows per run; keeping their connections gained nothing).

`storage: custom` with `module: ctx_assets.storage`, `class: KeptPostgresStorage` and the
config of `storage: postgres` (docs/scaling/dagster.yaml). Requires the [postgres] extra.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as db
from dagster._core.storage.base_storage import DagsterStorage
from dagster._core.storage.event_log.migration import ASSET_KEY_INDEX_COLS
from dagster._serdes import ConfigurableClassData
from dagster_postgres import DagsterPostgresStorage
from dagster_postgres.event_log import PostgresEventLogStorage
from dagster_postgres.event_log.event_log import CHANNEL_NAME
from dagster_postgres.run_storage import PostgresRunStorage
from dagster_postgres.schedule_storage import PostgresScheduleStorage
from dagster_postgres.utils import create_pg_engine, get_token_provider_from_config, pg_url_from_config
from sqlalchemy.engine import Connection
from sqlalchemy.pool import NullPool

from ctx_assets.dagster_compat.event_writes import BulkEventWrites

POOL_SIZE = 2  # connections kept per process: Dagster nests two (a read inside a write) on some paths
_NOTIFY = db.text(f"NOTIFY {CHANNEL_NAME}, :notify_id")
# One advisory-lock key for every ctx process that opens a database: "ctx-sch" as an integer.
SCHEMA_LOCK = int.from_bytes(b"ctx-sch", "big")


@contextmanager
def schema_lock(postgres_url: str, token_provider: Any = None) -> Iterator[None]:
    """Held while the storages check for and create Dagster's tables. dagster-postgres retries a
    duplicate table when two processes create the schema at once, but not a duplicate type (PostgreSQL
    adds one per table: `type "jobs" already exists`), so two builds starting on a fresh database
    could fail one of them; under this lock the second finds the tables made."""
    engine = create_pg_engine(postgres_url, token_provider, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(db.text("SELECT pg_advisory_lock(:key)"), {"key": SCHEMA_LOCK})
            try:
                yield
            finally:
                conn.execute(db.text("SELECT pg_advisory_unlock(:key)"), {"key": SCHEMA_LOCK})
    finally:
        engine.dispose()


class KeptPostgresEventLogStorage(BulkEventWrites, PostgresEventLogStorage):
    def __init__(self, postgres_url: str, should_autocreate_tables: bool = True,
                 inst_data: ConfigurableClassData | None = None, token_provider: Any = None):
        super().__init__(postgres_url, should_autocreate_tables, inst_data, token_provider)
        # kept connections (a few more under load), checked before use: dagster-postgres connects anew for
        # every statement group (NullPool)
        self._engine.dispose()
        self._engine = create_pg_engine(postgres_url, token_provider, isolation_level="AUTOCOMMIT",
                                        pool_size=POOL_SIZE, max_overflow=8, pool_pre_ping=True, pool_recycle=600)

    def dispose(self) -> None:
        super().dispose()
        self._engine.dispose()

    def _after_insert(self, conn: Connection, rows: list[dict[str, Any]], ids: list[int]) -> None:
        # dagster-postgres notifies each stored event (kept for watchers of older versions)
        conn.execute(_NOTIFY, [{"notify_id": f"{r['run_id']}_{i}"} for r, i in zip(rows, ids, strict=True)])

    def _has_asset_key_index_cols_on_connection(self, conn: Connection) -> bool:
        # what dagster-postgres asks before it stamps an asset row (cached by dagster-postgres)
        return self.has_secondary_index(ASSET_KEY_INDEX_COLS)


class KeptPostgresStorage(DagsterPostgresStorage):
    """dagster-postgres's storage with KeptPostgresEventLogStorage for the event log. Its own __init__ is not
    called: it would open and inspect the database for a PostgresEventLogStorage only to discard it."""

    def __init__(self, postgres_url: str, should_autocreate_tables: bool = True,
                 inst_data: ConfigurableClassData | None = None, token_provider: Any = None):
        self.postgres_url = postgres_url
        self.should_autocreate_tables = should_autocreate_tables
        self._inst_data = inst_data
        with schema_lock(postgres_url, token_provider):
            self._run_storage = PostgresRunStorage(postgres_url, should_autocreate_tables,
                                                   token_provider=token_provider)
            self._event_log_storage = KeptPostgresEventLogStorage(postgres_url, should_autocreate_tables,
                                                                  token_provider=token_provider)
            self._schedule_storage = PostgresScheduleStorage(postgres_url, should_autocreate_tables,
                                                             token_provider=token_provider)
        DagsterStorage.__init__(self)

    @classmethod
    def from_config_value(cls, inst_data: ConfigurableClassData | None,  # type: ignore[override]
                          config_value: Any) -> KeptPostgresStorage:
        return cls(postgres_url=pg_url_from_config(config_value), inst_data=inst_data,
                   should_autocreate_tables=config_value.get("should_autocreate_tables", True),
                   token_provider=get_token_provider_from_config(config_value))
