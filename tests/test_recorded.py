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
