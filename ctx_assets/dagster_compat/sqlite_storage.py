"""The embedded Dagster instance's storage: Dagster's SQLite storage, kept connected.

Dagster's SQLite storages open and dispose an engine for every group of statements
(NullPool). Closing the last connection to a WAL database checkpoints it and fsyncs,
so each event costs a checkpoint. Here every database file keeps one engine (and so
an open connection) per process, with `PRAGMA synchronous=NORMAL`: ~5x less
orchestration per target (docs/architecture.md has the numbers).

Durability (SQLite's own guarantees in WAL mode with synchronous=NORMAL): an
application crash or `kill -9` loses nothing that was committed; a power cut or
kernel crash can lose the last transactions committed before it (never corrupts
the database). For a build record that is the right trade: the bundle on disk is
written atomically, and a lost event only makes `ctx status` call an artifact stale.

The same directory layout as `storage: sqlite`, so an existing home keeps its history.
The override touches Dagster internals (`_connect`, `connect`, `has_table`): Dagster is
pinned exactly in pyproject.toml and tests/test_sqlite_storage.py covers the storage.
Every process that opens the instance (ctx, the webserver, the daemon) imports this
module through dagster.yaml's `storage: custom`.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import threading
from collections import OrderedDict
from collections.abc import Iterator
from typing import Any

from dagster import __version__ as dagster_version
from dagster._core.storage.event_log.sqlite.sqlite_event_log import INDEX_SHARD_NAME, SqliteEventLogStorage
from dagster._core.storage.runs.sqlite.sqlite_run_storage import SqliteRunStorage
from dagster._core.storage.schedules.sqlite.sqlite_schedule_storage import SqliteScheduleStorage
from dagster._core.storage.sql import create_engine
from dagster._core.storage.sqlite_storage import (
    DagsterSqliteStorage,
    _event_logs_directory,
    _runs_directory,
    _schedule_directory,
)
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import NullPool

from ctx_assets.dagster_compat.event_writes import INSERT_EVENT, BulkEventWrites

BUSY_TIMEOUT_SECONDS = 30
_KEPT_SHARDS = 8  # run shards kept connected besides the index (a run writes one shard)


def _kept_engine(conn_string: str) -> Engine:
    engine = create_engine(conn_string, connect_args={"timeout": BUSY_TIMEOUT_SECONDS, "check_same_thread": False},
                           pool_size=2, max_overflow=8)

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_conn: Any, _record: Any) -> None:
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()

    return engine


@contextlib.contextmanager
def init_lock(base_dir: str) -> Iterator[None]:
    """First use of a home creates its tables; two processes doing it at once race
    (`table alembic_version already exists`). One file lock serialises it."""
    os.makedirs(base_dir, exist_ok=True)
    with open(os.path.join(base_dir, ".init.lock"), "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


class KeptSqliteEventLogStorage(BulkEventWrites, SqliteEventLogStorage):
    def __init__(self, base_dir: str, inst_data: Any = None):
        self._engines: OrderedDict[str, Engine] = OrderedDict()
        self._tables: set[str] = set()
        self._engines_lock = threading.Lock()
        super().__init__(base_dir, inst_data)

    def _engine(self, shard: str) -> Engine:
        with self._engines_lock:
            engine = self._engines.get(shard)
            if engine is None:
                engine = self._engines[shard] = _kept_engine(self.conn_string_for_shard(shard))
                while len(self._engines) > _KEPT_SHARDS + 1:
                    old = next(k for k in self._engines if k != INDEX_SHARD_NAME)
                    self._engines.pop(old).dispose()
            self._engines.move_to_end(shard)
            return engine

    @contextlib.contextmanager
    def _connect(self, shard: str) -> Iterator[Connection]:
        with self._db_lock:
            if shard not in self._initialized_dbs and shard != INDEX_SHARD_NAME and \
                    self._new_shard_from_template(shard):
                self._initialized_dbs.add(shard)  # a copy of the migrated template: Dagster's check (~40 ms) is moot
            engine = self._engine(shard)
            if shard not in self._initialized_dbs:
                self._initdb(engine)
                self._initialized_dbs.add(shard)
            with engine.connect() as conn, conn.begin():
                yield conn

    def _store_run_rows(self, rows: list[dict[str, Any]]) -> None:
        for run_id in dict.fromkeys(r["run_id"] for r in rows):
            with self.run_connection(run_id) as conn:
                conn.execute(INSERT_EVENT, [r for r in rows if r["run_id"] == run_id])

    def _new_shard_from_template(self, shard: str) -> bool:
        """A new run's database is a copy of an empty, migrated one: creating its tables and indexes
        and stamping alembic costs ~0.3 s per run, a copy ~1 ms. The template is made once per
        Dagster version by Dagster's own _initdb (so it is exactly what Dagster would create).
        True when the shard is such a copy, False when it existed already."""
        path = self.path_for_shard(shard)
        if os.path.exists(path):
            return False
        template = os.path.join(self._base_dir, f".run-shard-template-{dagster_version}.db")
        if not os.path.exists(template):
            tmp = f"{template}.{os.getpid()}.tmp"
            engine = create_engine(f"sqlite:///{tmp}", poolclass=NullPool)
            self._initdb(engine)
            engine.dispose()
            os.replace(tmp, template)
        tmp = f"{path}.{os.getpid()}.tmp"
        shutil.copyfile(template, tmp)
        os.replace(tmp, path)
        return True

    def has_table(self, table_name: str) -> bool:
        # Tables appear (migrations) but never vanish while a process runs: cache the yes.
        if table_name not in self._tables and super().has_table(table_name):
            self._tables.add(table_name)
        return table_name in self._tables

    def dispose(self) -> None:
        super().dispose()
        with self._engines_lock:
            for engine in self._engines.values():
                engine.dispose()
            self._engines.clear()


class KeptSqliteRunStorage(SqliteRunStorage):
    def __init__(self, conn_string: str, inst_data: Any = None):
        super().__init__(conn_string, inst_data)
        self._engine = _kept_engine(conn_string)

    @contextlib.contextmanager
    def connect(self) -> Iterator[Connection]:
        with self._engine.connect() as conn, conn.begin():
            yield conn

    def dispose(self) -> None:
        super().dispose()
        self._engine.dispose()


class KeptSqliteStorage(DagsterSqliteStorage):
    """`storage: custom` with `module: ctx_assets.storage`, `class: KeptSqliteStorage`."""

    def __init__(self, base_dir: str, inst_data: Any = None):
        self.base_dir = base_dir
        with init_lock(base_dir):
            self._run_storage = KeptSqliteRunStorage.from_local(_runs_directory(base_dir))
            self._event_log_storage = KeptSqliteEventLogStorage(_event_logs_directory(base_dir))
            self._schedule_storage = SqliteScheduleStorage.from_local(_schedule_directory(base_dir))
        self._inst_data = inst_data
        super(DagsterSqliteStorage, self).__init__()

    @classmethod
    def from_config_value(cls, inst_data: Any, config_value: Any) -> KeptSqliteStorage:  # type: ignore[override]
        return cls(inst_data=inst_data, **dict(config_value))
