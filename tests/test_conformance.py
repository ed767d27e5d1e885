"""Conformance of generated artifacts with the formats' own schemas in ../shared/schemas.

These protect users from deploying objects the API server, Grafana or an
OpenSLO tool would reject. Without ../shared they skip; under CI=true they fail.
"""

from __future__ import annotations

import json
from functools import cache

import pytest
import yaml

from .bundles import artifacts
from .conftest import SHARED, require

jsonschema = pytest.importorskip("jsonschema")
referencing = pytest.importorskip("referencing")
SCHEMAS = SHARED / "schemas"
BUNDLES = ["example", "seventeen", "low", "sources", "self"]


class _CrdLoader(yaml.SafeLoader):
    """alertmanagerconfigs.crd.yaml has a bare `=` in an enum, which the safe loader reads as the YAML
    value tag; this reads it as the string it is (../shared/schemas/README.md)."""


_CrdLoader.add_constructor("tag:yaml.org,2002:value", lambda loader, node: loader.construct_scalar(node))


@cache
def _crd_validator(name: str):
    crd = yaml.load((SCHEMAS / "prometheus-operator" / name).read_text(), Loader=_CrdLoader)  # noqa: S506
    return jsonschema.Draft7Validator(crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"])


def _errors(validator, doc) -> list[str]:
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(doc)]


@pytest.fixture(autouse=True)
def _schemas_present():
    require(SCHEMAS.is_dir(), f"upstream schemas at {SCHEMAS}")


@pytest.mark.parametrize("bundle_name", BUNDLES)
def test_prometheus_rules_match_crd(bundle_name):
    v = _crd_validator("prometheusrules.crd.yaml")
    for a in artifacts(bundle_name, "prometheus_rule"):
        assert _errors(v, yaml.safe_load(a.content)) == [], a.artifact_id


@pytest.mark.parametrize("bundle_name", BUNDLES)
def test_service_monitors_match_crd(bundle_name):
    v = _crd_validator("servicemonitors.crd.yaml")
    for a in artifacts(bundle_name, "service_monitor"):
        assert _errors(v, yaml.safe_load(a.content)) == [], a.artifact_id


@pytest.mark.parametrize("bundle_name", BUNDLES)
def test_alertmanager_configs_match_crd(bundle_name):
    v = _crd_validator("alertmanagerconfigs.crd.yaml")
    for a in artifacts(bundle_name, "notification_policy"):
        assert _errors(v, yaml.safe_load(a.content)) == [], a.artifact_id


def test_alertmanager_config_crd_catches_a_bad_matcher():
    v = _crd_validator("alertmanagerconfigs.crd.yaml")
    doc = yaml.safe_load(artifacts("example", "notification_policy")[0].content)
    doc["spec"]["route"]["matchers"][0]["matchType"] = "=="
    assert _errors(v, doc)


def test_crd_validation_catches_a_broken_object():
    v = _crd_validator("servicemonitors.crd.yaml")
    doc = yaml.safe_load(artifacts("example", "service_monitor")[0].content)
    doc["spec"]["endpoints"] = "not a list"
    assert _errors(v, doc)


@cache
def _openslo_validator():
    from referencing import Registry, Resource

    root = SCHEMAS / "openslo-v1"
    resources = []
    for path in [root / "openslo.schema.json", *sorted((root / "parts").glob("*.json"))]:
        schema = json.loads(path.read_text())
        resources.append((schema["$id"], Resource.from_contents(schema)))
    registry = Registry().with_resources(resources)
    entry = json.loads((root / "openslo.schema.json").read_text())
    return jsonschema.Draft7Validator(entry, registry=registry)


@pytest.mark.parametrize("bundle_name", BUNDLES)
def test_slos_match_openslo(bundle_name):
    v = _openslo_validator()
    for a in artifacts(bundle_name, "slo_definition"):
        assert _errors(v, yaml.safe_load(a.content)) == [], a.artifact_id


def test_openslo_validation_catches_a_bad_target():
    doc = yaml.safe_load(artifacts("example", "slo_definition")[0].content)
    doc["spec"]["objectives"][0]["target"] = 99.9  # a percentage, not a fraction
    assert _errors(_openslo_validator(), doc)


@cache
def _grafana_validator():
    return jsonschema.Draft7Validator(json.loads((SCHEMAS / "grafana" / "dashboard.jsonschema.json").read_text()))


@pytest.mark.parametrize("bundle_name", BUNDLES)
def test_dashboards_match_grafana_schema(bundle_name):
    v = _grafana_validator()
    for a in artifacts(bundle_name, "dashboard"):
        assert _errors(v, json.loads(a.content)) == [], a.artifact_id


def test_grafana_validation_catches_a_broken_dashboard():
    doc = json.loads(artifacts("example", "dashboard")[0].content)
    doc["panels"] = "not a list"
    assert _errors(_grafana_validator(), doc)
