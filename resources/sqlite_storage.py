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
from collections.abc import Iterator, Sequence
from typing import Any

import orjson
import sqlalchemy as db
from dagster import DagsterEventType
from dagster import __version__ as dagster_version
from dagster._core.event_api import EventLogEntry
from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus
from dagster._core.storage.event_log.schema import AssetCheckExecutionsTable, AssetKeyTable, SqlEventLogStorageTable
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
from dagster._serdes import serialize_value
from dagster._time import datetime_from_timestamp
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import NullPool

BUSY_TIMEOUT_SECONDS = 30
_KEPT_SHARDS = 8  # run shards kept connected besides the index (a run writes one shard)
BATCH_EVENTS = 2000  # held by `batched` before a write: bounds what a crash inside the block can lose


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


class KeptSqliteEventLogStorage(SqliteEventLogStorage):
    def __init__(self, base_dir: str, inst_data: Any = None):
        self._engines: OrderedDict[str, Engine] = OrderedDict()
        self._tables: set[str] = set()
        self._index_cols: bool | None = None
        self._engines_lock = threading.Lock()
        self._held = threading.local()
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
            if shard not in self._initialized_dbs and shard != INDEX_SHARD_NAME:
                self._new_shard_from_template(shard)
            engine = self._engine(shard)
            if shard not in self._initialized_dbs:
                self._initdb(engine)
                self._initialized_dbs.add(shard)
            with engine.connect() as conn, conn.begin():
                yield conn

    @property
    def supports_partition_subset_in_asset_materialization_planned_events(self) -> bool:
        # One planned event per asset for a run over a range, not one per partition: a third of a
        # build's events at 1,000 targets. The price: partitions a failed run did not build show as
        # missing rather than failed (the failed gate itself is a failed check on the partition).
        return True

    def _has_asset_key_index_cols_on_connection(self, conn: Connection) -> bool:
        # Dagster inspects the table's columns on every asset event; a column never disappears.
        if self._index_cols is None:
            self._index_cols = super()._has_asset_key_index_cols_on_connection(conn)
        return self._index_cols

    @contextlib.contextmanager
    def batched(self) -> Iterator[None]:
        """Within this block, this thread's materializations and check evaluations are held and written
        together (at the end, or every BATCH_EVENTS): two transactions per batch instead of two per
        event, and one asset row update per asset instead of one per partition. A reader (another
        process, or this thread after the block) sees them when the batch is written; `kill -9` inside
        the block loses the events held so far, as a crash before the write would."""
        if getattr(self._held, "events", None) is not None:  # nested: the outer block writes
            yield
            return
        self._held.events = []
        try:
            yield
        finally:
            held, self._held.events = self._held.events, None
            self.store_event_batch(held)

    def store_event(self, event: EventLogEntry) -> None:
        """Materializations and check evaluations, a build's bulk (14,000 at 1,000 targets), take a
        shorter path than Dagster's SQLite store_event (`_store_bulk`); anything else goes through
        Dagster's own code."""
        held = getattr(self._held, "events", None)
        if not _is_bulk(event):
            if held:  # the log keeps the order events came in
                self._store_bulk(held)
                held.clear()
            super().store_event(event)
        elif held is None:
            self._store_bulk([event])
        else:
            held.append(event)
            if len(held) >= BATCH_EVENTS:
                self._store_bulk(held)
                held.clear()

    def store_event_batch(self, events: Sequence[EventLogEntry]) -> None:
        # Dagster's batch entry point (DAGSTER_EVENT_BATCH_SIZE) and `batched`: order kept
        run: list[EventLogEntry] = []
        for e in events:
            if _is_bulk(e):
                run.append(e)
                continue
            self._store_bulk(run)
            run = []
            super().store_event(e)
        self._store_bulk(run)

    def _store_bulk(self, events: Sequence[EventLogEntry]) -> None:
        """The rows Dagster's store_event writes for these events, in as few statements as it takes:
        each event serialized once; the run shard and the index each in one transaction; the index
        rows inserted in order with their ids returned; the asset row updated once per asset (its
        newest materialization is what it keeps); check executions updated in one statement. The
        rows are the same (tests/test_sqlite_storage.py compares both paths)."""
        if not events:
            return
        rows = [self._event_to_row(e) for e in events]
        for run_id in dict.fromkeys(e.run_id for e in events):
            with self.run_connection(run_id) as conn:
                conn.execute(_INSERT_EVENT, [r for r in rows if r["run_id"] == run_id])
        with self.index_connection() as conn:
            ids = conn.execute(_INSERT_EVENT_RETURNING_ID, rows).scalars().all()
            stored = list(zip(events, ids, (r["event"] for r in rows), strict=True))
            mats = [s for s in stored if s[0].dagster_event_type == DagsterEventType.ASSET_MATERIALIZATION]
            if mats:
                self._store_asset_event_tags(conn, [m[0] for m in mats], [m[1] for m in mats])
                newest = {m[0].get_dagster_event().asset_key: m for m in mats}
                for m in newest.values():
                    self._upsert_asset_entry(conn, *m)
            checks = [s for s in stored if s[0].dagster_event_type == DagsterEventType.ASSET_CHECK_EVALUATION]
            if checks:
                self._update_check_executions(conn, checks)

    def _store_asset_check_evaluation_planned(self, event: EventLogEntry, event_id: int | None) -> None:
        # Dagster writes the whole planned event, which holds the run's partition subset, into each of
        # its per-partition rows (serializing it once per row): quadratic in the targets, ~5 GB written
        # at 10,000. Each row here holds the event with the subset left out (the row has its own
        # partition; the full event stays in the event log), serialized once. Rows of an unpartitioned
        # check are exactly Dagster's.
        planned: Any = event.get_dagster_event().event_specific_data
        keys = planned.partitions_subset.get_partition_keys() if planned.partitions_subset else [None]
        serialized = serialize_value(event)
        if planned.partitions_subset is not None:
            doc = orjson.loads(serialized)
            doc["dagster_event"]["event_specific_data"]["partitions_subset"] = None
            serialized = orjson.dumps(doc).decode()
        common = {"asset_key": planned.asset_key.to_string(), "check_name": planned.check_name,
                  "run_id": event.run_id, "execution_status": AssetCheckExecutionRecordStatus.PLANNED.value,
                  "evaluation_event": serialized,
                  "evaluation_event_timestamp": self._event_insert_timestamp(event),
                  "evaluation_event_storage_id": event_id}
        with self.index_connection() as conn:
            conn.execute(AssetCheckExecutionsTable.insert(), [{**common, "partition": k} for k in keys])

    def _upsert_asset_entry(self, conn: Connection, event: EventLogEntry, event_id: int, serialized: str) -> None:
        # What _get_asset_entry_values gives for a materialization, without serializing the event again:
        # serdes writes sorted keys with default separators, so the record is the event's JSON wrapped.
        values: dict[str, Any] = {
            "last_materialization": f'{{"__class__": "EventLogRecord", "event_log_entry": {serialized}, '
                                    f'"storage_id": {event_id}}}', "last_run_id": event.run_id}
        if self._has_asset_key_index_cols_on_connection(conn):
            values["last_materialization_timestamp"] = datetime_from_timestamp(event.timestamp)
        key = event.get_dagster_event().asset_key.to_string()  # type: ignore[union-attr]
        if not conn.execute(_update(AssetKeyTable, ("asset_key",), values), {"w_asset_key": key, **values}).rowcount:
            conn.execute(AssetKeyTable.insert(), {"asset_key": key, **values})

    def _update_check_executions(self, conn: Connection, checks: list[tuple[EventLogEntry, int, str]]) -> None:
        """Each evaluation updates its run's planned row (per partition, or the one unpartitioned row)
        or, if there is none, inserts one: what Dagster's store_asset_check_event does."""
        shapes: dict[Any, list[dict[str, Any]]] = {}
        for entry, event_id, serialized in checks:
            evaluation: Any = entry.get_dagster_event().event_specific_data
            target = evaluation.target_materialization_data
            partitioned = evaluation.partition is not None
            key = {"asset_key": evaluation.asset_key.to_string(), "check_name": evaluation.check_name,
                   "run_id": entry.run_id}
            values = {"execution_status": (AssetCheckExecutionRecordStatus.SUCCEEDED if evaluation.passed
                                           else AssetCheckExecutionRecordStatus.FAILED).value,
                      "evaluation_event": serialized, "evaluation_event_timestamp": self._event_insert_timestamp(entry),
                      "evaluation_event_storage_id": event_id,
                      "materialization_event_storage_id": target.storage_id if target else None,
                      "partition": evaluation.partition}
            cols = {**key, "partition": evaluation.partition} if partitioned else key
            where = {f"w_{k}": v for k, v in cols.items()}
            shapes.setdefault(partitioned, []).append({"key": key, "values": values, "params": {**where, **values}})
        table = AssetCheckExecutionsTable
        for partitioned, items in shapes.items():
            where_cols = ("asset_key", "check_name", "run_id", *(("partition",) if partitioned else ()))
            stmt = _update(table, where_cols, items[0]["values"], null=None if partitioned else "partition")
            if conn.execute(stmt, [x["params"] for x in items]).rowcount == len(items):
                continue
            for x in items:  # some had no planned row (or two evaluations of one): row by row, as Dagster
                if not conn.execute(stmt, x["params"]).rowcount:
                    conn.execute(table.insert(), {**x["key"], **x["values"]})

    def latest_materialization_metadata(self, asset_keys: list[str]) -> dict[tuple[str, str], dict[str, Any]]:
        """{(asset key string, partition): metadata of its newest materialization} in one query, decoded
        with orjson: what `fetch_materializations` over every partition gives (`ctx status`, the
        stale selection), without deserializing 7,000 full event records (5 s at 1,000 targets)."""
        sql = db.text(
            "SELECT e.asset_key, e.partition, e.event FROM event_logs e JOIN ("
            " SELECT MAX(l.id) AS id FROM event_logs l LEFT JOIN asset_keys k ON k.asset_key = l.asset_key"
            " WHERE l.dagster_event_type = 'ASSET_MATERIALIZATION' AND l.asset_key IN :keys"
            " AND l.partition IS NOT NULL AND (k.wipe_timestamp IS NULL OR l.timestamp > k.wipe_timestamp)"
            " GROUP BY l.asset_key, l.partition) m ON e.id = m.id").bindparams(db.bindparam("keys", expanding=True))
        with self.index_connection() as conn:
            rows = conn.execute(sql, {"keys": asset_keys}).fetchall()
        out = {}
        for key, partition, raw in rows:
            mat = orjson.loads(raw)["dagster_event"]["event_specific_data"]["materialization"]
            out[(key, partition)] = {e["label"]: _entry_value(e["entry_data"]) for e in mat["metadata_entries"]}
        return out

    def _new_shard_from_template(self, shard: str) -> None:
        """A new run's database is a copy of an empty, migrated one: creating its tables and indexes
        and stamping alembic costs ~0.3 s per run, a copy ~1 ms. The template is made once per
        Dagster version by Dagster's own _initdb (so it is exactly what Dagster would create)."""
        path = self.path_for_shard(shard)
        if os.path.exists(path):
            return
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
    """`storage: custom` with `module: resources.sqlite_storage`, `class: KeptSqliteStorage`."""

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


_INSERT_EVENT = SqlEventLogStorageTable.insert()  # parameters apart: compiled once, not per event
_INSERT_EVENT_RETURNING_ID = _INSERT_EVENT.returning(SqlEventLogStorageTable.c.id, sort_by_parameter_order=True)


def _is_bulk(event: EventLogEntry) -> bool:
    """A materialization of an asset or a check evaluation, written by a run: what `_store_bulk` takes."""
    if not event.is_dagster_event or not event.run_id:
        return False
    kind = event.dagster_event_type
    return kind == DagsterEventType.ASSET_CHECK_EVALUATION or (
        kind == DagsterEventType.ASSET_MATERIALIZATION and event.get_dagster_event().asset_key is not None)


_UPDATES: dict[tuple[str, tuple[str, ...], tuple[str, ...]], Any] = {}


def _update(table: Any, where: tuple[str, ...], values: dict[str, Any], null: str | None = None) -> Any:
    """UPDATE table SET <values> WHERE <where> = :w_<col> [AND <null> IS NULL], built once per shape."""
    shape = (table.name, where, tuple(values), null)
    stmt = _UPDATES.get(shape)
    if stmt is None:
        clauses = [table.c[c] == db.bindparam(f"w_{c}") for c in where]
        if null:
            clauses.append(table.c[null].is_(None))
        stmt = _UPDATES[shape] = table.update().where(db.and_(*clauses)).values({c: db.bindparam(c) for c in values})
    return stmt


def _entry_value(data: dict[str, Any]) -> Any:
    """A serialized metadata value's payload (text, value, data, path, url...): its one field."""
    return next((v for k, v in data.items() if k != "__class__"), None)


def batched_writes(instance: Any) -> contextlib.AbstractContextManager[None]:
    """The instance's `batched` block when its storage is this one; other storages (PostgreSQL) write
    each event as it comes."""
    storage = instance.event_log_storage
    return storage.batched() if isinstance(storage, KeptSqliteEventLogStorage) else contextlib.nullcontext()
