"""Manifest v2 models and cross-field rules."""

from __future__ import annotations

import copy

import yaml

from ctx_assets.contracts.manifest import ContextManifest
from ctx_assets.core.loader import parse_manifest_bytes
from ctx_assets.core.validate import validate_loaded

from .conftest import EXAMPLE, MINIMAL


def _validate(data):
    loaded = parse_manifest_bytes(yaml.safe_dump(data, sort_keys=False).encode(), "m.yaml")
    return validate_loaded(loaded)


def test_example_parses_with_every_section():
    model, problems = _validate(yaml.safe_load(EXAMPLE.read_text()))
    assert problems == []
    assert [t.name for t in model.spec.targets][:2] == ["frontend", "cartservice"]
    assert len(model.spec.targets) == 11
    assert model.spec.observability.dashboard_placement == "featured"
    kr = model.strategy.objectives[0].key_results[0]
    assert (kr.target_operator, kr.window) == ("gte", "30d")


def test_defaults_as_listed():
    model, _ = _validate(MINIMAL)
    assert model.spec.business.criticality == "medium"
    assert model.spec.observability.dashboard_placement == "standard"
    assert model.spec.observability.metrics_interval == "30s"
    assert model.spec.targets[0].namespace == "shop"


def test_unknown_sections_and_fields_survive_load_dump():
    data = copy.deepcopy(MINIMAL)
    data["security"] = {"scanners": ["trivy"], "sbom": True}
    data["insights"] = [{"id": "INS-1", "type": "risk", "summary": "s", "confidence": 0.5,
                         "source": "scanner"}]
    data["state"] = {"syncStatus": "synced"}
    data["spec"]["targets"][0]["replicas"] = 3
    data["spec"]["customTeamField"] = {"x": [1, 2]}
    data["strategy"] = {"strategyGroups": [{"id": "S1", "horizon": "now"}]}
    model = ContextManifest.model_validate(data)
    dumped = model.dump()
    assert dumped["security"] == data["security"]
    assert dumped["insights"] == data["insights"]
    assert dumped["state"] == data["state"]
    assert dumped["spec"]["targets"][0]["replicas"] == 3
    assert dumped["spec"]["customTeamField"] == {"x": [1, 2]}
    assert dumped["strategy"]["strategyGroups"] == [{"id": "S1", "horizon": "now"}]


def _paths(problems):
    return {p.path: p.message for p in problems}


def test_cross_field_rules_all_reported_at_once():
    data = copy.deepcopy(MINIMAL)
    data["spec"]["targets"] = [
        {"kind": "Deployment", "name": "api"},
        {"kind": "Deployment", "name": "api"},
        {"kind": "Deployment", "name": "../../x"},
        {"kind": "Deployment", "name": "a" * 64},
    ]
    data["spec"]["requirements"] = {"availability": "150", "latencyP99": "fast"}
    data["spec"]["observability"] = {"alertChannels": ["pagerduty:two words", "#ok"], "metricsInterval": "soon"}
    data["strategy"] = {
        "objectives": [{"id": "O1", "description": "d", "keyResults": [
            {"metricKey": "availability", "unit": "ms", "target": 99},
            {"metricKey": "latency_p99", "unit": "%", "target": 200},
        ]}],
        "tactics": [{"id": "T1", "description": "d", "linkedObjectives": ["O1", "O-MISSING"]}],
    }
    model, problems = _validate(data)
    assert model is None
    paths = _paths(problems)
    assert "duplicate target name 'api'" in paths["spec.targets[1].name"]
    assert "safe file name" in paths["spec.targets[2].name"]
    assert "spec.targets[3].name" in paths
    assert "spec.requirements.availability" in paths
    assert "spec.requirements.latencyP99" in paths
    assert "spec.observability.alertChannels[0]" in paths
    assert "spec.observability.alertChannels[1]" not in paths
    assert "spec.observability.metricsInterval" in paths
    assert "unit '%'" in paths["strategy.objectives[0].keyResults[0].unit"]
    assert "time unit" in paths["strategy.objectives[0].keyResults[1].unit"]
    assert "O-MISSING" in paths["strategy.tactics[0].linkedObjectives[1]"]
    assert "strategy.tactics[0].linkedObjectives[0]" not in paths


def test_schema_errors_name_field_and_expected_values():
    data = copy.deepcopy(MINIMAL)
    data["spec"]["business"] = {"criticality": "urgent"}
    data["spec"]["risks"] = [{"type": "weather", "description": "d", "priority": "P9"}]
    _, problems = _validate(data)
    paths = _paths(problems)
    assert "'critical', 'high', 'medium' or 'low'" in paths["spec.business.criticality"]
    assert "spec.risks[0].type" in paths and "spec.risks[0].priority" in paths


def test_problem_points_at_line_and_column():
    text = (b"apiVersion: contextcore.io/v1alpha2\nkind: ContextManifest\nmetadata:\n  name: x\n"
            b"spec:\n  targets:\n    - kind: Deployment\n      name: Bad_Name\n")
    model, problems = validate_loaded(parse_manifest_bytes(text, "f.yaml"))
    assert model is None
    (p,) = problems
    assert (p.file, p.line, p.column, p.path) == ("f.yaml", 8, 13, "spec.targets[0].name")
    assert str(p).startswith("f.yaml:8:13: spec.targets[0].name: ")


def test_missing_field_points_at_parent():
    text = (b"apiVersion: contextcore.io/v1alpha2\nkind: ContextManifest\n"
            b"metadata:\n  owners: []\nspec:\n  targets: []\n")
    _, problems = validate_loaded(parse_manifest_bytes(text, "f.yaml"))
    paths = {p.path: p for p in problems}
    assert paths["metadata.name"].line == 4  # the metadata mapping's first line
    assert "at least one target" in paths["spec.targets"].message
