"""Incremental export and plan (issue 23): an edit recomputes only the slices it touches, and the result is
byte for byte a cold export and plan of the edited manifest.

What this protects: export and plan read each target's specs and each seed task from the slices of the
last run (core/slices.py) when nothing they are made from changed; a key that missed an input would
serve a stale slice, and these tests see it as a byte difference from the cold result. Each edit the
issue names is tried (one target, one question, one objective, the project block) plus a target added
and one removed, on every example and on a 1,000-target manifest; the miss counts prove the warm run
reused what it could (a one-target edit remakes one target's specs and its seven tasks, no more).
"""

from __future__ import annotations

import copy
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml

from ctx_assets.contracts.manifest import API_VERSION
from ctx_assets.core import fingerprints, plan, yamlout
from ctx_assets.core.checksums import pretty_json
from ctx_assets.core.derivation import Shared
from ctx_assets.core.export import _rules_as_dicts, artifact_specs, build_export, redact_manifest
from ctx_assets.core.export_paths import SEED_PATH
from ctx_assets.core.fingerprints import code_versions, compute_fingerprint, task_fingerprint
from ctx_assets.core.migrate import migrate_v1
from ctx_assets.core.plan import SeedResult, build_seed, ingest_export, seed_checksum
from ctx_assets.core.slices import SliceCache, slice_caches
from ctx_assets.core.validate import validate_bytes

from .conftest import ROOT, manifest_with_targets

EXAMPLES = sorted((ROOT / "examples").glob("*.contextcore.yaml"))


def _plan(data: dict[str, Any], home: Path | None) -> tuple[dict[str, bytes], SliceCache, SliceCache]:
    """Export and plan of `data`, through the slices kept in `home` (None: cold, no slices)."""
    raw = yaml.safe_dump(data, sort_keys=False).encode()
    _, model, problems = validate_bytes(raw, "m.contextcore.yaml")
    assert not problems, problems
    ex_cache = SliceCache(home / "export.bin" if home else None)
    plan_cache = SliceCache(home / "plan.bin" if home else None)
    export = build_export(model, raw, cache=ex_cache)
    seed = ingest_export(export.files, raw, cache=plan_cache)
    assert not export.blocked and not seed.blocked
    ex_cache.save()
    plan_cache.save()
    _PLANNED[:] = [seed]
    return {**export.files, **seed.files}, ex_cache, plan_cache


_PLANNED: list[SeedResult] = []  # the last _plan's seed result: what a build hands to its next steps


def _check_handoff(seed: SeedResult, seed_file: bytes) -> None:
    """A build's next steps take the plan's seed object instead of parsing the file, and the stale choice its
    kept fingerprints (core/plan.py): both must be what the file and a fresh hash give."""
    assert seed.seed == orjson.loads(seed_file)
    versions = code_versions()
    for task in seed.seed["tasks"]:
        cv = versions[task["artifact_type"]]
        assert task_fingerprint(task, cv) == compute_fingerprint(copy.deepcopy(task), cv), task["artifact_id"]


def _edit_target(d: dict[str, Any]) -> None:
    targets = d["spec"]["targets"]
    targets[len(targets) // 2]["namespace"] = "edited-namespace"


def _edit_question(d: dict[str, Any]) -> None:
    questions = d.setdefault("guidance", {}).setdefault("questions", [])
    if questions:
        questions[0]["question"] = "Should the dashboard alert on the p95 latency instead?"
    else:
        questions.append({"id": "Q-new", "question": "Should the dashboard alert on p95?", "priority": "high",
                          "status": "open"})


def _edit_objective(d: dict[str, Any]) -> None:
    objectives = d.setdefault("strategy", {}).setdefault("objectives", [])
    if objectives:
        objectives[0]["description"] = "Edited: keep checkout available"
    else:
        objectives.append({"id": "OBJ-new", "description": "Keep checkout available"})


def _edit_project(d: dict[str, Any]) -> None:
    d["spec"].setdefault("project", {})["description"] = "An edited project description"


def _add_target(d: dict[str, Any]) -> None:
    d["spec"]["targets"].append({"kind": "Deployment", "name": "added-target", "namespace": "extra"})


def _remove_target(d: dict[str, Any]) -> None:
    targets = d["spec"]["targets"]
    if len(targets) > 1:
        targets.pop(0)
    else:  # a manifest needs one: the only target renamed is one removed and another added
        targets[0]["name"] = "renamed-target"


EDITS: dict[str, Callable[[dict[str, Any]], None]] = {
    "one target": _edit_target, "one question": _edit_question, "one objective": _edit_objective,
    "the project block": _edit_project, "a target added": _add_target, "a target removed": _remove_target}


def _same_as_cold(base: dict[str, Any], edit: Callable[[dict[str, Any]], None], home: Path,
                  primed: Path | None = None, new_process: bool = False) -> tuple[SliceCache, SliceCache]:
    """`primed`: a folder holding the slices of `base` already (else they are made here). `new_process`: the
    warm plan starts without the previous plan's tasks in memory (a new `ctx build`, not the warm process)."""
    if primed is None:
        _plan(base, home)  # the slices of the manifest before the edit
    else:
        shutil.copytree(primed, home, dirs_exist_ok=True)
    edited = copy.deepcopy(base)
    edit(edited)
    if new_process:
        plan._LAST.clear()
        fingerprints._known.clear()
    warm, ex_cache, plan_cache = _plan(edited, home)
    warm_seed = _PLANNED[0]
    cold, _, _ = _plan(edited, None)
    assert warm.keys() == cold.keys()
    for rel in cold:
        assert warm[rel] == cold[rel], f"{rel}: the incremental result differs from a cold export and plan"
    _check_handoff(warm_seed, cold[SEED_PATH])
    return ex_cache, plan_cache


@pytest.mark.parametrize("new_process", [False, True], ids=["same process", "new process"])
@pytest.mark.parametrize("edit", list(EDITS), ids=list(EDITS))
@pytest.mark.parametrize("example", EXAMPLES, ids=[p.name.split(".")[0] for p in EXAMPLES])
def test_an_edit_of_an_example_plans_the_same_bytes_as_a_cold_run(example: Path, edit: str, new_process: bool,
                                                                  tmp_path: Path):
    base = yaml.safe_load(example.read_text())
    if base.get("apiVersion") != API_VERSION:  # what `ctx migrate` makes of it
        base = migrate_v1(base, "2026-01-01").manifest
    _same_as_cold(base, EDITS[edit], tmp_path, new_process=new_process)


@pytest.fixture(scope="module")
def primed_1000(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], Path]:
    """A 1,000-target manifest and the slices of its export and plan, made once for the edits below."""
    base, home = manifest_with_targets(1000), tmp_path_factory.mktemp("slices-1000")
    _plan(base, home)
    return base, home


# The four edits issue 23 names, at 1,000 targets (adding and removing one run on every example above).
AT_SCALE = ["one target", "one question", "one objective", "the project block"]


@pytest.mark.full  # ~25 s: a warm and a cold plan of 1,000 targets per edit (the fast lane runs the examples)
@pytest.mark.parametrize("edit", AT_SCALE)
def test_an_edit_of_1000_targets_plans_the_same_bytes_as_a_cold_run(edit: str, tmp_path: Path,
                                                                   primed_1000: tuple[dict[str, Any], Path]):
    base, primed = primed_1000
    ex_cache, plan_cache = _same_as_cold(base, EDITS[edit], tmp_path, primed)
    if edit == "one target":  # the slices it touches and nothing else
        assert (ex_cache.misses, ex_cache.hits) == (1, 999)
        # a pretty, a canonical and a fingerprint piece a task
        assert (plan_cache.misses, plan_cache.hits) == (21, 20979)
    if edit == "one question":  # the specs stand; every task carries the questions that concern it
        assert ex_cache.misses == 0


def test_adding_a_target_a_key_result_names_remakes_every_target(tmp_path: Path):
    """A key result's `boundTo` lists the targets its query names, and every target's dashboard carries the
    key results: adding the named target changes every target's specs, though no other target changed."""
    base = yaml.safe_load((ROOT / "examples" / "online-boutique.contextcore.yaml").read_text())
    base["strategy"]["objectives"][0]["keyResults"].append({
        "metricKey": "added_target_throughput", "unit": "rps", "target": 10, "window": "1d",
        "dataSource": 'promql:sum(rate(http_server_request_duration_seconds_count{job="added-target"}[5m]))'})
    ex_cache, _ = _same_as_cold(base, _add_target, tmp_path)
    assert ex_cache.hits == 0


def test_an_unchanged_manifest_reuses_every_slice(tmp_path: Path):
    base = manifest_with_targets(20)
    first, _, _ = _plan(base, tmp_path)
    again, ex_cache, plan_cache = _plan(base, tmp_path)
    assert again == first
    assert (ex_cache.misses, plan_cache.misses) == (0, 0) and (ex_cache.hits, plan_cache.hits) == (20, 420)


def test_a_damaged_slice_file_is_a_cold_run(tmp_path: Path):
    base = manifest_with_targets(5)
    first, _, _ = _plan(base, tmp_path)
    for name in ("export.bin", "plan.bin"):
        (tmp_path / name).write_bytes(b"ctx-slices 1\n{not json")
    again, ex_cache, _ = _plan(base, tmp_path)
    assert again == first and ex_cache.hits == 0


def test_a_stage_reads_only_its_own_slice_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """The export asset uses the export's slices only, the context_seed asset the plan's (defs/assets.py):
    neither reads the other's file (57 MB of plan pieces at 1,000 targets)."""
    _plan(manifest_with_targets(5), tmp_path)
    read: list[str] = []
    real = Path.read_bytes
    monkeypatch.setattr(Path, "read_bytes", lambda self: read.append(self.name) or real(self))
    export_slices, plan_slices = slice_caches(tmp_path)
    assert export_slices.get("no such key") is None
    export_slices.save()
    plan_slices.save()  # never asked: nothing read, nothing written
    assert read == ["export.bin"]
    assert plan_slices.get("no such key") is None and read == ["export.bin", "plan.bin"]


@pytest.mark.parametrize("example", EXAMPLES[:2], ids=[p.name.split(".")[0] for p in EXAMPLES[:2]])
def test_the_pieces_are_the_documents_written_whole(example: Path):
    """The artifact manifest joined from per-target pieces is yamlout's dump of the whole document (anchors
    written once), which PyYAML reads back as the document; the spliced seed is pretty_json of the whole seed
    and its checksum is seed_checksum's."""
    raw = example.read_bytes()
    _, model, _ = validate_bytes(raw, example.name)
    export = build_export(model, raw)
    m, _ = redact_manifest(model)
    shared = Shared(m)
    rules = _rules_as_dicts(shared)
    whole = {**export.artifact_manifest, "artifacts": artifact_specs(m, rules, shared)}
    anchors = {id(v): f"derivation-{k.replace('_', '-')}" for k, v in rules.items()} | shared.anchors()
    am = export.files["export/artifact-manifest.yaml"]
    assert am == yamlout.dump(whole, anchors=anchors)
    if len(model.spec.targets) > 1:  # anchors written once, referred to after
        assert am.count(b"&derivation-dashboard") == 1 and b"*derivation-dashboard" in am
    assert yaml.safe_load(am) == export.artifact_manifest

    seed = build_seed(export.onboarding)
    assert seed.files["export/artisan-context-seed.json"] == pretty_json(seed.seed)
    assert seed.seed["provenance"]["chain"][2]["seed_checksum"] == seed_checksum(seed.seed)
