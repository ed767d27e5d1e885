"""The compact seed reader gives exactly what a plain JSON parse gives, sharing repeated task values.

It is what keeps a 10,000-target build's artisan stage within its memory goal, so both its result
and its sharing are checked on a seed written by plan ingestion itself.
"""

from __future__ import annotations

import orjson

from ctx_assets.core.pipeline import export_and_plan
from ctx_assets.core.plan import SEED_PATH
from ctx_assets.core.seed_reader import SHARED_FIELDS, load_seed

from .conftest import manifest_with_targets, write_manifest


def test_compact_read_equals_a_plain_parse_and_shares_repeated_values(tmp_path):
    manifest = write_manifest(tmp_path / "m.contextcore.yaml", manifest_with_targets(5))
    run = export_and_plan(manifest, tmp_path / "out")
    assert not run.blocked
    path = tmp_path / "out" / SEED_PATH
    seed = load_seed(path)
    assert seed == orjson.loads(path.read_bytes())
    dashboards = [t for t in seed["tasks"] if t["artifact_type"] == "dashboard"]
    assert len(dashboards) == 5
    for field in ("derivation_rules", "expected_output_contract", "design_calibration"):
        assert field in SHARED_FIELDS
        assert len({id(t[field]) for t in dashboards}) == 1, field  # one object, not five copies
    assert len({id(t["resolved_parameters"]) for t in dashboards}) == 5  # per-target values stay apart


def test_any_other_layout_is_parsed_whole(tmp_path):
    path = tmp_path / "seed.json"
    doc = {"tasks": [{"artifact_type": "dashboard", "target": "a"}], "provenance": {"chain": []}}
    path.write_bytes(orjson.dumps(doc))  # compact, not the indented layout plan ingestion writes
    assert load_seed(path) == doc
