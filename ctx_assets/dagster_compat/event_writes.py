"""Bulk event writes shared by the instance storages (ctx_assets/dagster_compat/sqlite_storage.py, postgres_storage.py).

A build's bulk is materializations and check evaluations (14,000 at 1,000 targets). Dagster writes
each in two or three transactions of its own (and on PostgreSQL a new connection for each). Here
they take a shorter path that writes the very rows Dagster's store_event writes
(tests/test_sqlite_storage.py and tests/test_postgres.py compare both paths), and inside
`batched()` they are held and written together. Anything else goes through Dagster's own code.

The mixin sits before Dagster's storage class in the bases; hooks take what differs (SQLite keeps a
copy of each run's rows in the run's own database; PostgreSQL notifies listeners of each event).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator, Sequence
from typing import Any

import orjson
import sqlalchemy as db
from dagster import DagsterEventType
from dagster._core.event_api import EventLogEntry
from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus
from dagster._core.storage.event_log.schema import AssetCheckExecutionsTable, AssetKeyTable, SqlEventLogStorageTable
from dagster._serdes import serialize_value
from dagster._time import datetime_from_timestamp
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from .recorded import entries_sql, latest_sql, newest

BATCH_EVENTS = 2000  # held by `batched` before a write: bounds what a crash inside the block can lose

INSERT_EVENT = SqlEventLogStorageTable.insert()  # parameters apart: compiled once, not per event
INSERT_EVENT_RETURNING_ID = INSERT_EVENT.returning(SqlEventLogStorageTable.c.id, sort_by_parameter_order=True)


class BulkEventWrites:
    """Mixin for a SqlEventLogStorage subclass (listed before it in the bases)."""

    _asset_index_cols: bool | None = None

    def __init__(self, *args: Any, **kwargs: Any):
        self._held = threading.local()
        super().__init__(*args, **kwargs)

    def _store_run_rows(self, rows: list[dict[str, Any]]) -> None:
        """Rows a storage keeps apart from the index (SQLite's per-run databases); before the index write."""

    def _after_insert(self, conn: Connection, rows: list[dict[str, Any]], ids: list[int]) -> None:
        """What a storage does once the rows are in the index, in the same transaction."""

    @property
    def supports_partition_subset_in_asset_materialization_planned_events(self) -> bool:
        # One planned event per asset for a run over a range, not one per partition: a third of a
        # build's events at 1,000 targets. The artifact body adds one per partition it failed or
        # blocked (events.record_failed_partitions), so those still show as failed, not missing.
        return True

    def _has_asset_key_index_cols_on_connection(self, conn: Connection) -> bool:
        # Dagster inspects the table's columns on every asset event; a column never disappears.
        if self._asset_index_cols is None:
            self._asset_index_cols = super()._has_asset_key_index_cols_on_connection(conn)  # type: ignore[misc]
        return self._asset_index_cols

    @contextlib.contextmanager
    def batched(self) -> Iterator[None]:
        """Within this block, this thread's materializations and check evaluations are held and written
        together (at the end, or every BATCH_EVENTS): one index transaction per batch instead of two
        per event, and one asset row update per asset instead of one per partition. A reader (another
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
        held = getattr(self._held, "events", None)
        if not is_bulk(event):
            if held:  # the log keeps the order events came in
                self._store_bulk(held)
                held.clear()
            super().store_event(event)  # type: ignore[misc]
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
            if is_bulk(e):
                run.append(e)
                continue
            self._store_bulk(run)
            run = []
            super().store_event(e)  # type: ignore[misc]
        self._store_bulk(run)

    def _store_bulk(self, events: Sequence[EventLogEntry]) -> None:
        """The rows Dagster's store_event writes for these events, in as few statements as it takes:
        each event serialized once; the rows inserted in order with their ids returned; the asset row
        upserted once per asset (its newest materialization is what it keeps); check executions
        updated in one statement."""
        if not events:
            return
        rows = [self._event_to_row(e) for e in events]  # type: ignore[attr-defined]
        self._store_run_rows(rows)
        with self.index_transaction() as conn:  # type: ignore[attr-defined]
            ids = conn.execute(INSERT_EVENT_RETURNING_ID, rows).scalars().all()
            self._after_insert(conn, rows, ids)
            stored = list(zip(events, ids, (r["event"] for r in rows), strict=True))
            mats = [s for s in stored if s[0].dagster_event_type == DagsterEventType.ASSET_MATERIALIZATION]
            if mats:
                self._store_asset_event_tags(conn, [m[0] for m in mats], [m[1] for m in mats])  # type: ignore[attr-defined]
                newest = {m[0].get_dagster_event().asset_key: m for m in mats}
                self._upsert_asset_entries(conn, list(newest.values()))
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
                  "evaluation_event_timestamp": self._event_insert_timestamp(event),  # type: ignore[attr-defined]
                  "evaluation_event_storage_id": event_id}
        with self.index_connection() as conn:  # type: ignore[attr-defined]
            conn.execute(AssetCheckExecutionsTable.insert(), [{**common, "partition": k} for k in keys])

    def _upsert_asset_entries(self, conn: Connection, mats: list[tuple[EventLogEntry, int, str]]) -> None:
        # What _get_asset_entry_values gives for a materialization, without serializing the event again:
        # serdes writes sorted keys with default separators, so the record is the event's JSON wrapped.
        # One upsert for all assets: two builds on PostgreSQL may add the same asset at once.
        stamp = self._has_asset_key_index_cols_on_connection(conn)
        rows = []
        for event, event_id, serialized in mats:
            row: dict[str, Any] = {
                "asset_key": event.get_dagster_event().asset_key.to_string(),  # type: ignore[union-attr]
                "last_materialization": f'{{"__class__": "EventLogRecord", "event_log_entry": {serialized}, '
                                        f'"storage_id": {event_id}}}', "last_run_id": event.run_id}
            if stamp:
                row["last_materialization_timestamp"] = datetime_from_timestamp(event.timestamp)
            rows.append(row)
        insert = (postgresql if conn.dialect.name == "postgresql" else sqlite).insert(AssetKeyTable)
        conn.execute(insert.on_conflict_do_update(index_elements=[AssetKeyTable.c.asset_key],
                                                  set_={c: insert.excluded[c] for c in rows[0] if c != "asset_key"}),
                     rows)

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
                      "evaluation_event": serialized,
                      "evaluation_event_timestamp": self._event_insert_timestamp(entry),  # type: ignore[attr-defined]
                      "evaluation_event_storage_id": event_id,
                      "materialization_event_storage_id": target.storage_id if target else None,
                      "partition": evaluation.partition}
            cols = {**key, "partition": evaluation.partition} if partitioned else key
            where = {f"w_{k}": v for k, v in cols.items()}
            shapes.setdefault(partitioned, []).append({"key": key, "values": values, "params": {**where, **values}})
        table = AssetCheckExecutionsTable
        # a driver that cannot count the rows of a many-row UPDATE goes row by row from the start
        sane = conn.dialect.supports_sane_multi_rowcount
        for partitioned, items in shapes.items():
            where_cols = ("asset_key", "check_name", "run_id", *(("partition",) if partitioned else ()))
            stmt = _update(table, where_cols, items[0]["values"], null=None if partitioned else "partition")
            if sane and conn.execute(stmt, [x["params"] for x in items]).rowcount == len(items):
                continue
            for x in items:  # some had no planned row (or two evaluations of one): row by row, as Dagster
                if not conn.execute(stmt, x["params"]).rowcount:
                    conn.execute(table.insert(), {**x["key"], **x["values"]})

    def latest_materialization_metadata(self, asset_keys: list[str]) -> dict[tuple[str, str], dict[str, Any]]:
        """{(asset key string, partition): metadata of its newest materialization} in one query, decoded
        with orjson: what `fetch_materializations` over every partition gives (`ctx status`, the
        stale selection), without deserializing 7,000 full event records (5 s at 1,000 targets)."""
        with self.index_connection() as conn:  # type: ignore[attr-defined]
            dialect = conn.dialect.name

            def query(entries: bool) -> Any:
                sql = db.text(latest_sql("IN :keys", dialect, entries)).bindparams(db.bindparam("keys", expanding=True))
                return conn.execute(sql, {"keys": asset_keys}).fetchall()

            def entries(ids: list[int]) -> Any:
                sql = db.text(entries_sql("IN :ids", dialect)).bindparams(db.bindparam("ids", expanding=True))
                return conn.execute(sql, {"ids": ids}).fetchall()

            return newest(query, entries, source=repr(conn.engine.url))


def is_bulk(event: EventLogEntry) -> bool:
    """A materialization of an asset or a check evaluation, written by a run: what `_store_bulk` takes."""
    if not event.is_dagster_event or not event.run_id:
        return False
    kind = event.dagster_event_type
    return kind == DagsterEventType.ASSET_CHECK_EVALUATION or (
        kind == DagsterEventType.ASSET_MATERIALIZATION and event.get_dagster_event().asset_key is not None)


_UPDATES: dict[tuple[str, tuple[str, ...], tuple[str, ...], str | None], Any] = {}


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


def batched_writes(instance: Any) -> contextlib.AbstractContextManager[None]:
    """The instance's `batched` block when its storage is one of ours; another storage writes each
    event as it comes."""
    storage = instance.event_log_storage
    return storage.batched() if isinstance(storage, BulkEventWrites) else contextlib.nullcontext()
