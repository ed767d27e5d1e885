"""Export and plan ingestion: each problem of the statement, by section."""

from __future__ import annotations

import copy
import json

import pytest
import yaml

from ctx_assets.contracts.artifacts import ArtifactType
from ctx_assets.contracts.export import ArtifactManifest, OnboardingMetadata
from ctx_assets.contracts.seed import ContextSeed
from ctx_assets.core.export import ARTIFACT_MANIFEST_PATH, ONBOARDING_PATH, build_export
from ctx_assets.core.gates.export import metadata_checksum
from ctx_assets.core.loader import parse_manifest_bytes
from ctx_assets.core.plan import SEED_PATH, build_seed, ingest_export, seed_checksum
from ctx_assets.core.validate import validate_loaded

from .conftest import EXAMPLE, manifest_with_targets

TYPES = [t.value for t in ArtifactType]


def _run(data: dict | None = None, raw: bytes | None = None):
    raw = raw if raw is not None else yaml.safe_dump(data, sort_keys=False).encode()
    loaded = parse_manifest_bytes(raw, "m.yaml")
    model, problems = validate_loaded(loaded)
    assert problems == [], problems
    export = build_export(model, raw)
    seed = ingest_export(export.files, raw)
    return raw, export, seed


@pytest.fixture(scope="module")
def example():
    return _run(raw=EXAMPLE.read_bytes())


@pytest.fixture(scope="module")
def seventeen():
    data = manifest_with_targets(17)
    data["spec"]["targets"][3]["kind"] = "StatefulSet"
    data["guidance"]["questions"].append({"id": "Q-SVC-0005-SCRAPE", "question": "Does svc-0005 expose a "
                                          "metrics endpoint on port 9090?", "status": "open", "priority": "low"})
    return _run(data)


@pytest.mark.full  # an external tool or a Dagster run
def test_files_match_their_contracts(example):
    _, export, seed = example
    am = yaml.safe_load(export.files[ARTIFACT_MANIFEST_PATH])
    ArtifactManifest.model_validate(am)
    OnboardingMetadata.model_validate(json.loads(export.files[ONBOARDING_PATH]))
    ContextSeed.model_validate(json.loads(seed.files[SEED_PATH]))
    assert am == export.artifact_manifest  # the fast YAML writer reads back exactly
    assert am["kind"] == "ArtifactManifest" and len(am["artifacts"]) == 77


def test_s1_1_computed_fields_are_surfaced(example):
    """§1.1: derivation rules, objectives, dependency graph, resolved parameters, open questions and
    calibration hints all reach onboarding-metadata.json."""
    md = json.loads(example[1].files[ONBOARDING_PATH])
    for key in ("derivation_rules", "objectives", "artifact_dependency_graph", "resolved_artifact_parameters",
                "open_questions", "design_calibration_hints", "expected_output_contracts", "output_path_conventions",
                "semantic_conventions", "coverage", "artifact_types", "checksums", "schema_version"):
        assert md[key], key
    assert md["schema_id"] == "contextcore.io/onboarding-metadata/v1"
    assert md["artifact_dependency_graph"]["frontend-dashboard"] == ["frontend-prometheus-rule", "frontend-loki-rule"]
    assert md["artifact_dependency_graph"]["frontend-runbook"] == [
        "frontend-prometheus-rule", "frontend-notification-policy", "frontend-dashboard"]
    p = md["resolved_artifact_parameters"]["checkoutservice-prometheus-rule"]
    assert p["severity"] == "P1" and p["objective"] == 0.999 and p["latency_p99_seconds"] == 0.3
    assert p["namespace"] == "boutique"
    assert all(not str(v).startswith("spec.") for v in p.values())  # concrete values, not pointers


def test_s1_2_key_results_keep_operator_and_window_and_questions_exported(example):
    """§1.2: KeyResult operator/window and guidance questions survive the export models."""
    md = json.loads(example[1].files[ONBOARDING_PATH])
    krs = {kr["metricKey"]: kr for o in md["objectives"] for kr in o["keyResults"]}
    assert krs["checkout_availability"]["targetOperator"] == "gte"
    assert krs["checkout_availability"]["window"] == "30d"
    assert krs["checkout_latency_p99"]["targetOperator"] == "lte"  # inferred: latency
    assert krs["catalog_throughput"]["targetOperator"] == "eq"  # inferred: neither
    assert krs["frontend_latency_p50"]["window"] == "7d"
    open_ids = {q["id"]: q for q in md["open_questions"]}
    assert set(open_ids) == {"Q-DASHBOARD-FORMAT", "Q-ALERT-ROUTING"}  # answered Q-JSON-MODE excluded
    assert open_ids["Q-DASHBOARD-FORMAT"]["priority"] == "high"
    assert open_ids["Q-ALERT-ROUTING"]["status"] == "deferred"
    fp = md["field_preservation"]
    assert fp["fields_before"] == fp["fields_after"] and fp["values_before"] == fp["values_after"] > 0


def test_s1_3_loki_rule_has_derivation_rules(example):
    """§1.3: loki_rule carries derivedFrom like every other type (log selectors and log format)."""
    md = json.loads(example[1].files[ONBOARDING_PATH])
    assert set(md["derivation_rules"]) == set(TYPES)
    loki = {r["property"] for r in md["derivation_rules"]["loki_rule"]}
    assert {"log_selectors", "log_format"} <= loki
    for spec in example[1].artifact_manifest["artifacts"]:
        assert spec["derivedFrom"], spec["id"]


def test_s1_4_init_template_exports_every_type(tmp_path):
    """§1.4: the `ctx init` template validates and exports at least one artifact of each type."""
    from ctx_assets.core.init_template import render_template

    raw = render_template("demo", "x", "2026-01-01").encode()
    _, export, seed = _run(raw=raw)
    assert {a["type"] for a in export.artifact_manifest["artifacts"]} == set(TYPES)
    assert not seed.blocked
    md = export.onboarding
    assert md["open_questions"] and md["objectives"][0]["keyResults"][0]["targetOperator"] == "gte"


def test_s1_5_one_expected_output_contract_per_type(example):
    """§1.5: one unified contract per type: depth, line and token bounds, fields, markers."""
    md = json.loads(example[1].files[ONBOARDING_PATH])
    for t in TYPES:
        c = md["expected_output_contracts"][t]
        assert set(c) == {"expected_depth", "min_lines", "max_lines", "max_tokens", "required_fields",
                          "completeness_markers"}
        assert 0 < c["min_lines"] < c["max_lines"] and c["required_fields"] and c["completeness_markers"]
    hints = md["design_calibration_hints"]
    assert hints["service_monitor"]["expected_tier"] == "brief" and hints["service_monitor"]["loc_range"][1] <= 50
    assert hints["prometheus_rule"]["expected_tier"] == "standard"
    assert hints["prometheus_rule"]["loc_range"] == [51, 450]  # issue 19: Sloth meta records, absent alert
    assert hints["dashboard"]["expected_tier"] == "comprehensive" and hints["dashboard"]["loc_range"][0] > 150
    assert set(hints["runbook"]["allowed_tiers"]) == {"standard", "comprehensive"}


def test_s1_6_design_principles_answer_questions():
    """§1.6: Q-JSON-MODE → typed_over_prose, Q-CONTEXT-SUMMARIZATION → progressive disclosure."""
    data = manifest_with_targets(2)
    data["guidance"]["questions"] = [
        {"id": "Q-JSON-MODE", "question": "Should the artisan use JSON mode for typed output?", "status": "open"},
        {"id": "Q-CONTEXT-SUMMARIZATION", "question": "How do we summarize context across stages without "
                                                      "exceeding the token limit?", "status": "open"}]
    seed = _run(data)[2].seed
    answers = {p["id"]: p["answers_questions"] for p in seed["design_principles"]}
    assert "Q-JSON-MODE" in answers["typed_over_prose"]
    assert "Q-CONTEXT-SUMMARIZATION" in answers["progressive_disclosure"]
    assert "typed_over_prose" in seed["tasks"][0]["design_principles"]


def test_s2_1_seed_quality_gaps_closed(example):
    """§2.1: seed references the artifact manifest, maps type → generator, has the provenance chain,
    output paths and semantic conventions; plan and context agree."""
    raw, export, seed = example
    s = seed.seed
    assert s["artifact_manifest"] == {"path": ARTIFACT_MANIFEST_PATH,
                                      "checksum": export.onboarding["checksums"]["artifact_manifest_checksum"]}
    assert set(s["artifact_types"]) == set(TYPES) and all(v["generator"] for v in s["artifact_types"].values())
    assert s["output_path_conventions"]["dashboard"] == "grafana/dashboards/{target}-dashboard.json"
    assert s["semantic_conventions"]["metrics"]["requests"]
    chain = s["provenance"]["chain"]
    assert chain[0]["checksum"] == export.source_checksum
    assert chain[1]["metadata_checksum"] == export.onboarding["checksums"]["metadata_checksum"]
    assert chain[2]["seed_checksum"] == seed_checksum(s)
    comp = next(g for g in seed.gates if g.gate == "seed_completeness")
    assert comp.result == "passed" and comp.details["planned"] == comp.details["context"] == 77


def test_s2_4_tasks_carry_coverage_calibration_constraints_rules(example):
    """§2.4: coverage, artifact-type-aware calibration, open questions as constraints, per-task rules."""
    tasks = {t["artifact_id"]: t for t in example[2].seed["tasks"]}
    dash, sm = tasks["frontend-dashboard"], tasks["frontend-service-monitor"]
    assert dash["coverage"]["gaps"] and dash["coverage"]["namespace"] == "boutique"
    assert dash["design_calibration"]["expected_tier"] == "comprehensive"
    assert dash["design_calibration"]["matches"] is True
    assert sm["design_calibration"]["expected_tier"] == "brief"
    ids = lambda t: {c["id"] for c in t["design_constraints"]}  # noqa: E731
    assert "Q-DASHBOARD-FORMAT" in ids(dash) and "Q-DASHBOARD-FORMAT" not in ids(sm)
    assert "Q-ALERT-ROUTING" in ids(tasks["paymentservice-notification-policy"])
    assert "C-NO-PII-IN-LOGS" in ids(tasks["frontend-loki-rule"]) and "C-NO-PII-IN-LOGS" not in ids(sm)
    assert {r["property"] for r in tasks["frontend-loki-rule"]["derivation_rules"]} >= {"log_format"}
    assert dash["resolved_parameters"]["uid"].startswith("ctx-")


def test_seed_tasks_topological_one_per_artifact(seventeen):
    _, export, seed = seventeen
    tasks = seed.seed["tasks"]
    assert len(tasks) == 119  # 17 targets × 7 types
    position = {t["task_id"]: i for i, t in enumerate(tasks)}
    for t in tasks:
        assert all(position[d] < position[t["task_id"]] for d in t["depends_on"])
    assert len({t["artifact_id"] for t in tasks}) == 119
    assert export.onboarding["coverage"]["by_target"]["svc-0003"]["namespace"] == "team-3"


def test_question_about_one_target_constrains_only_that_target(seventeen):
    tasks = seventeen[2].seed["tasks"]
    hit = {t["artifact_id"] for t in tasks if any(c["id"] == "Q-SVC-0005-SCRAPE" for c in t["design_constraints"])}
    assert hit == {"svc-0005-service-monitor"}


def test_s2_6_determinism_no_wall_clock(example):
    """§2.6 stale cache: identical manifest → byte-identical files (checksums mean something)."""
    raw, export, seed = example
    _, export2, seed2 = _run(raw=raw)
    assert export.files == export2.files and seed.files == seed2.files


def test_s2_6_stale_and_hand_edited_export_detected(example):
    """§2.6: a stale export (manifest changed) and a hand-edited metadata file block plan ingestion."""
    raw, export, _ = example
    stale = ingest_export(export.files, raw + b"\n# edited\n")
    (gate,) = stale.gates
    assert gate.gate == "export_integrity" and gate.blocks
    assert "stale export" in gate.violations[0].message
    md = json.loads(export.files[ONBOARDING_PATH])
    md["resolved_artifact_parameters"]["frontend-prometheus-rule"]["severity"] = "P4"
    edited = dict(export.files, **{ONBOARDING_PATH: json.dumps(md).encode()})
    gate = ingest_export(edited, raw).gates[0]
    assert gate.blocks and any("hand-edited" in v.message for v in gate.violations)
    assert gate.details["checksum.metadata.expected"] != gate.details["checksum.metadata.actual"]
    am_edit = dict(export.files, **{ARTIFACT_MANIFEST_PATH: export.files[ARTIFACT_MANIFEST_PATH] + b"# x\n"})
    assert ingest_export(am_edit, raw).gates[0].blocks
    legacy = {k: v for k, v in md.items() if k != "schema_version"}
    legacy["checksums"]["metadata_checksum"] = metadata_checksum(legacy)
    gate = ingest_export(dict(export.files, **{ONBOARDING_PATH: json.dumps(legacy).encode()}), raw).gates[0]
    assert any(v.field == "schema_version" for v in gate.violations)


def test_s2_6_secrets_never_surface():
    """§2.6 secret leakage: credentials in the manifest are redacted everywhere and fail the gate."""
    data = manifest_with_targets(2)
    data["metadata"]["links"]["repository"] = "https://deploy:hunter2hunter2@git.example.com/x"
    data["spec"]["observability"]["runbook"] = "https://wiki.example.com/rb?token=abcd1234efgh"
    data["spec"]["observability"]["apiKey"] = "AKIAABCDEFGHIJKLMNOP"
    data["spec"]["observability"]["routingKey"] = "vault:pagerduty/boutique"  # a reference, fine
    _, export, seed = _run(data)
    gate = next(g for g in export.gates if g.gate == "secret_scan")
    assert gate.blocks
    fields = {v.field for v in gate.violations}
    assert {"metadata.links.repository", "spec.observability.runbook", "spec.observability.apiKey"} <= fields
    blob = b"".join(export.files.values()) + b"".join(seed.files.values())
    for secret in (b"hunter2hunter2", b"abcd1234efgh", b"AKIAABCDEFGHIJKLMNOP"):
        assert secret not in blob
    assert b"[REDACTED]" in blob


def test_thousand_targets_through_export_and_seed():
    """1,000 targets: 7,000 artifacts, one task each, all gates pass (time is in docs/benchmarks.md)."""
    _, export, seed = _run(manifest_with_targets(1000))
    assert not export.blocked and not seed.blocked
    assert len(seed.seed["tasks"]) == 7000
    assert export.onboarding["coverage"]["required"] == 7000


def test_build_seed_from_metadata_matches_ingest(example):
    _, export, seed = example
    assert build_seed(copy.deepcopy(export.onboarding)).files == seed.files
