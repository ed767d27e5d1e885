"""The manifest's reference and JSON Schema come from the model: docs/manifest.md cannot drift, an editor's
schema check accepts what ctx accepts and flags a wrong field, and the doc's own example is a valid manifest."""

from __future__ import annotations

import json
import re

import jsonschema
import yaml

from ctx_assets.core.manifest_reference import SCHEMA_FILE, json_schema, reference_markdown

from .conftest import EXAMPLE, MINIMAL, ROOT, SELF_EXAMPLE, run_ctx

DOC = ROOT / "docs" / "manifest.md"


def test_docs_manifest_md_is_the_generated_reference():
    assert DOC.read_text() == reference_markdown(), \
        "docs/manifest.md differs from the model: run `.venv/bin/ctx schema --markdown > docs/manifest.md`"


def test_every_field_has_a_description_and_every_value_field_an_example():
    schema = json_schema()
    models = {"ContextManifest": schema, **schema["$defs"]}
    for name, model in models.items():
        for field, prop in model.get("properties", {}).items():
            assert prop.get("description"), f"{name}.{field} has no description"
            composite = "$ref" in prop or prop.get("type") == "array" and "$ref" in prop.get("items", {}) \
                or prop.get("description") == "Passed through." or field in ("focus", "state", "insights")
            assert composite or prop.get("examples"), f"{name}.{field} has no example"


def test_the_reference_covers_every_field_dataSource_forms_and_target():
    text = DOC.read_text()
    for field in ("apiVersion", "kind", "targets", "namespace", "dataSource", "metricKey", "alertChannels"):
        assert f"`{field}`" in text, field
    assert "`$target`" in text and "`$namespace`" in text and "promql:<query>" in text


def _validator():
    return jsonschema.Draft202012Validator(json_schema())


def test_the_json_schema_accepts_the_examples_and_flags_wrong_fields():
    v = _validator()
    for path in (EXAMPLE, SELF_EXAMPLE):
        errors = list(v.iter_errors(yaml.safe_load(path.read_text())))
        assert not errors, (path, [e.message for e in errors][:3])
    wrong = yaml.safe_load(EXAMPLE.read_text())
    wrong["spec"]["business"]["criticality"] = "urgent"
    del wrong["spec"]["targets"][0]["kind"]
    wrong["apiVersion"] = "contextcore.io/v2"
    paths = {"/".join(str(x) for x in e.absolute_path) for e in v.iter_errors(wrong)}
    assert {"spec/business/criticality", "spec/targets/0", "apiVersion"} <= paths, paths


def _doc_example() -> str:
    section = DOC.read_text().split("## A two-target manifest", 1)[1]
    return re.search(r"```yaml\n(.*?)```", section, re.S).group(1)


def test_the_docs_two_target_example_validates_at_the_first_try(tmp_path):
    text = _doc_example()
    assert text.startswith(f"# yaml-language-server: $schema={SCHEMA_FILE}")
    data = yaml.safe_load(text)
    assert len(data["spec"]["targets"]) == 2 and "$target" in json.dumps(data)
    assert not list(_validator().iter_errors(data))
    path = tmp_path / "shop.contextcore.yaml"
    path.write_text(text)
    r = run_ctx("validate", str(path))
    assert r.returncode == 0 and "valid (2 targets" in r.stdout, r.stderr


def test_ctx_schema_prints_the_schema_and_init_points_the_manifest_at_it(tmp_path):
    r = run_ctx("schema")
    assert r.returncode == 0 and json.loads(r.stdout) == json_schema()
    assert run_ctx("init", str(tmp_path / "m.contextcore.yaml"), "--name", "demo").returncode == 0
    first = (tmp_path / "m.contextcore.yaml").read_text().splitlines()[0]
    assert first == f"# yaml-language-server: $schema={SCHEMA_FILE}"
    assert json.loads((tmp_path / SCHEMA_FILE).read_text()) == json_schema()
    assert not list(_validator().iter_errors(yaml.safe_load((tmp_path / "m.contextcore.yaml").read_text())))
    assert not list(_validator().iter_errors(MINIMAL))
