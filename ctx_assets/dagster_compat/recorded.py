"""What the instance recorded per artifact partition, read from the embedded SQLite home without importing
Dagster: `ctx status` and a no-op `ctx build` need only the newest materialization metadata of each
partition, and opening the instance costs ~2.5 s at 1,000 targets (Dagster's import ~1 s, the instance and
its storages ~1.5 s) of commands whose goal is 1.5–2 s (issue 23).

Private: Dagster's event-log table layout (`event_logs`, `asset_keys`) and its serialized event JSON. It
saves those seconds; the fallback, used for any other home (PostgreSQL, a user's storage), any error, and
under CTX_DAGSTER_PUBLIC_API=1, is `ctx_assets.defs.state.latest_artifact_metadata` on the opened instance.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import orjson

INSTANCE_MARKER = "# Written by ctx"  # the first line of every dagster.yaml ctx writes (build/home.py)


# Only the metadata entries of each event, extracted by the database: decoding 7,000 whole events took ~0.5 s.
_ENTRIES = {"sqlite": "json_extract(e.event, '$.dagster_event.event_specific_data.materialization.metadata_entries')",
            "postgresql": "(e.event::jsonb #> '{dagster_event,event_specific_data,materialization,metadata_entries}')"
                          "::text"}


def latest_sql(keys_in: str, dialect: str = "sqlite", entries: bool = True) -> str:
    """The metadata entries of the newest materialization of each (asset key, partition) of the asset keys
    `keys_in` lists (`IN (?, ?)`, or SQLAlchemy's expanding `IN :keys`), after any wipe. `entries` False:
    NULL in their place (the events' ids only; `entries_sql` then fetches the ones not decoded yet)."""
    return (f"SELECT e.asset_key, e.partition, {_ENTRIES[dialect] if entries else 'NULL'}, e.id FROM event_logs e"
            " JOIN (SELECT MAX(l.id) AS id FROM event_logs l LEFT JOIN asset_keys k ON k.asset_key = l.asset_key"
            f" WHERE l.dagster_event_type = 'ASSET_MATERIALIZATION' AND l.asset_key {keys_in}"
            " AND l.partition IS NOT NULL AND (k.wipe_timestamp IS NULL OR l.timestamp > k.wipe_timestamp)"
            " GROUP BY l.asset_key, l.partition) m ON e.id = m.id")


def entries_sql(ids_in: str, dialect: str = "sqlite") -> str:
    """The metadata entries of the events whose ids `ids_in` lists."""
    return f"SELECT e.id, {_ENTRIES[dialect]} FROM event_logs e WHERE e.id {ids_in}"


ENTRIES_BATCH = 500  # ids per `entries_sql` query (SQLite allows 32,766 parameters; this keeps it far off)
Rows = list[tuple[str, str, "str | bytes | None", int]]


def newest(query: Callable[[bool], Rows], entries: Callable[[list[int]], Iterable[tuple[int, str | bytes]]],
           source: str) -> dict[tuple[str, str], dict[str, Any]]:
    """`decode` of the newest materializations: `query(entries)` runs `latest_sql`. A process that decoded
    this database's events before (the warm build process) asks for the ids only and fetches the entries of
    the new events (an edit's seven), not all 7,000: extracting them is most of the query's time."""
    if not _DECODED.get(source):
        return decode(query(True), source)
    rows = query(False)
    known = _DECODED[source]
    missing = [event_id for _, _, _, event_id in rows if event_id not in known]
    fetched: dict[int, str | bytes] = {}
    for i in range(0, len(missing), ENTRIES_BATCH):
        fetched.update(entries(missing[i:i + ENTRIES_BATCH]))
    return decode([(k, p, fetched.get(event_id), event_id) for k, p, _, event_id in rows], source)


def decode(rows: Iterable[tuple[str, str, str | bytes | None, int]], source: str | None = None,
           ) -> dict[tuple[str, str], dict[str, Any]]:
    """{(asset key string, partition): {label: value}} from materialization events' metadata entries.

    An event row never changes, so a process that asks again (the warm build process, build/server.py)
    decodes only the events new since it asked last: by `source` (the database) and event id. Each call
    returns copies (callers may change them) and keeps only the events it returned."""
    known = _DECODED.get(source, {}) if source else {}
    out, kept = {}, {}
    for key, partition, raw, event_id in rows:
        meta = known.get(event_id)
        if meta is None:
            meta = {e["label"]: _entry_value(e["entry_data"]) for e in orjson.loads(raw)}  # type: ignore[arg-type]
        kept[event_id] = meta
        out[(key, partition)] = dict(meta)
    if source:
        _DECODED.clear()  # one database per process is what is asked for again
        _DECODED[source] = kept
    return out


_DECODED: dict[str, dict[int, dict[str, Any]]] = {}


def _entry_value(data: dict[str, Any]) -> Any:
    """A serialized metadata value's payload (text, value, data, path, url...): its one field."""
    return next((v for k, v in data.items() if k != "__class__"), None)


def asset_key_string(path: list[str]) -> str:
    """`AssetKey(path).to_string()`, as the event log stores it."""
    return json.dumps(path)


def read_embedded(home: Path, asset_keys: list[str]) -> dict[tuple[str, str], dict[str, Any]] | None:
    """The newest metadata per partition from a SQLite home ctx wrote; None when `home` is anything else
    (or cannot be read this way), so the caller opens the instance instead."""
    from . import public_api_only

    index = home / "history" / "runs" / "index.db"
    try:
        if public_api_only() or not (home / "dagster.yaml").read_text().startswith(INSTANCE_MARKER) \
                or not index.is_file():
            return None
        if orphans_left(home):
            return None  # opening the instance fails them (defs/owners.py), as every ctx command must
        con = sqlite3.connect(f"{index.resolve().as_uri()}?mode=ro", uri=True)
        try:
            keys_in = f"IN ({','.join('?' * len(asset_keys))})"
            return newest(lambda entries: con.execute(latest_sql(keys_in, entries=entries), asset_keys).fetchall(),
                          lambda ids: con.execute(entries_sql(f"IN ({','.join('?' * len(ids))})"), ids).fetchall(),
                          source=str(index.resolve()))
        finally:
            con.close()
    except (OSError, sqlite3.Error, ValueError, KeyError, TypeError):
        return None


# A run not finished yet, as DagsterRunStatus values (defs/owners.py makes its list from these)
UNFINISHED_STATUSES = ("NOT_STARTED", "STARTING", "STARTED", "CANCELING")


def orphans_left(home: Path) -> bool:
    """Whether the home holds an unfinished run of an exited `ctx` process on this host (a build killed
    mid-run). Raises sqlite3.Error when the run storage cannot be read this way."""
    import socket

    from ctx_assets.processes import HOST_TAG, owner_alive

    con = sqlite3.connect(f"{(home / 'history' / 'runs.db').resolve().as_uri()}?mode=ro", uri=True)
    try:
        rows = con.execute(
            "SELECT t.run_id, t.key, t.value FROM runs r JOIN run_tags t ON t.run_id = r.run_id"
            f" WHERE r.status IN ({','.join('?' * len(UNFINISHED_STATUSES))}) AND t.key LIKE 'ctx/%'",
            UNFINISHED_STATUSES).fetchall()
    finally:
        con.close()
    tags: dict[str, dict[str, str]] = {}
    for run_id, key, value in rows:
        tags.setdefault(run_id, {})[key] = value
    return any(t.get(HOST_TAG) == socket.gethostname() and not owner_alive(t) for t in tags.values())
