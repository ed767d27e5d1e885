"""Decoding what the event log recorded (ctx_assets/dagster_compat/recorded.py): a process that asks again
decodes only the events that are new, and never mixes two databases."""

from __future__ import annotations

import orjson
import pytest

from ctx_assets.dagster_compat.recorded import decode


def _raw(**meta: str) -> bytes:
    return orjson.dumps([{"label": k, "entry_data": {"__class__": "TextMetadataEntryData", "text": v}}
                         for k, v in meta.items()])


def test_an_event_seen_before_is_not_decoded_again_and_callers_get_copies():
    rows = [('["a"]', "t1", _raw(checksum="c1"), 1), ('["a"]', "t2", _raw(checksum="c2"), 2)]
    first = decode(rows, source="db-1")
    assert first == {('["a"]', "t1"): {"checksum": "c1"}, ('["a"]', "t2"): {"checksum": "c2"}}
    first[('["a"]', "t1")]["checksum"] = "changed by a caller"
    # the same events again, their bytes unreadable: served from what was decoded; a new event is decoded
    again = decode([('["a"]', "t1", b"not json", 1), ('["a"]', "t2", _raw(checksum="c3"), 3)], source="db-1")
    assert again == {('["a"]', "t1"): {"checksum": "c1"}, ('["a"]', "t2"): {"checksum": "c3"}}


def test_another_database_or_no_source_decodes_everything():
    decode([('["a"]', "t1", _raw(checksum="c1"), 1)], source="db-1")
    with pytest.raises(orjson.JSONDecodeError):
        decode([('["a"]', "t1", b"not json", 1)], source="db-2")  # id 1 of another database is another event
    with pytest.raises(orjson.JSONDecodeError):
        decode([('["a"]', "t1", b"not json", 1)])


def test_a_process_that_decoded_a_database_before_fetches_the_entries_of_new_events_only():
    """The warm build process asks for 7,000 partitions' newest events after every edit: the ids come from
    one query, the metadata entries (most of its cost) only for events it has not decoded yet."""
    from ctx_assets.dagster_compat.recorded import newest

    asked: list[object] = []
    events = {1: _raw(checksum="c1"), 2: _raw(checksum="c2"), 3: _raw(checksum="c3")}

    def query(entries: bool) -> list[tuple[str, str, bytes | None, int]]:
        asked.append(("query", entries))
        latest = {"t1": 1, "t2": 2 if len(asked) == 1 else 3}  # t2 rebuilt between the two calls
        return [('["a"]', t, events[i] if entries else None, i) for t, i in latest.items()]

    def entries(ids: list[int]) -> list[tuple[int, bytes]]:
        asked.append(("entries", ids))
        return [(i, events[i]) for i in ids]

    assert newest(query, entries, "db-newest") == {('["a"]', "t1"): {"checksum": "c1"},
                                                   ('["a"]', "t2"): {"checksum": "c2"}}
    assert newest(query, entries, "db-newest") == {('["a"]', "t1"): {"checksum": "c1"},
                                                   ('["a"]', "t2"): {"checksum": "c3"}}
    assert asked == [("query", True), ("query", False), ("entries", [3])]
