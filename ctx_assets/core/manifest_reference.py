"""The manifest's JSON Schema and its field reference (docs/manifest.md), both generated from the pydantic model
in contracts/manifest.py, so neither can drift from what `ctx validate` accepts (tests/test_manifest_reference.py
compares docs/manifest.md with this output)."""

from __future__ import annotations

import json
from typing import Any

from ctx_assets.contracts.manifest import API_VERSION, ContextManifest

SCHEMA_ID = "https://contextcore.io/schemas/ctx-assets/context-manifest-v2.schema.json"
SCHEMA_FILE = "contextcore-manifest.schema.json"  # `ctx init` writes it beside the manifest


def json_schema() -> dict[str, Any]:
    """The manifest's JSON Schema (draft 2020-12): field names as written in YAML (camelCase), a description
    and examples per field. Unknown fields are allowed, as ContextCore's own manifests may carry them."""
    schema = ContextManifest.model_json_schema(by_alias=True, mode="validation")
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": SCHEMA_ID, **schema}


def schema_text() -> str:
    return json.dumps(json_schema(), indent=2, ensure_ascii=False) + "\n"


def _type(prop: dict[str, Any], defs: dict[str, Any]) -> str:
    if "$ref" in prop:
        return f"[{prop['$ref'].rsplit('/', 1)[-1]}](#{prop['$ref'].rsplit('/', 1)[-1].lower()})"
    if "anyOf" in prop:
        parts = [_type(p, defs) for p in prop["anyOf"] if p.get("type") != "null"]
        return " or ".join(parts) if parts else "any"
    if "enum" in prop:
        return " \\| ".join(f"`{v}`" for v in prop["enum"])
    kind = prop.get("type")
    if kind == "array":
        return f"list of {_type(prop.get('items', {}), defs)}"
    if kind == "object":
        extra = prop.get("additionalProperties")
        return "map of text" if isinstance(extra, dict) and extra.get("type") == "string" else "object"
    return {"string": "text", "number": "number", "integer": "integer", "boolean": "true/false"}.get(kind, "any")


def _resolve(prop: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    """An enum field's own type (pydantic puts enums in $defs)."""
    if "$ref" in prop:
        target = defs[prop["$ref"].rsplit("/", 1)[-1]]
        if "enum" in target:
            return {**target, **{k: v for k, v in prop.items() if k != "$ref"}}
    return prop


def _cell(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else value
    return "`" + text.replace("|", "\\|") + "`"


def _table(name: str, model: dict[str, Any], defs: dict[str, Any]) -> list[str]:
    required = set(model.get("required", []))
    lines = [f"### {name}", "", model.get("description", ""), "",
             "| field | type | required | default | description | example |", "| --- | --- | --- | --- | --- | --- |"]
    for field, raw in model.get("properties", {}).items():
        prop = _resolve(raw, defs)
        default = _cell(prop["default"]) if "default" in prop and prop["default"] not in ([], {}, None) else ""
        example = _cell(prop["examples"][0]) if prop.get("examples") else ""
        limits = [f"{k} {prop[k]}" for k in ("minimum", "maximum") if k in prop]
        if prop.get("minItems"):
            limits.append(f"at least {prop['minItems']}")
        desc = prop.get("description", "").replace("|", "\\|") + (f" ({', '.join(limits)})" if limits else "")
        lines.append(f"| `{field}` | {_type(prop, defs)} | {'yes' if field in required else ''} | {default} | "
                     f"{desc} | {example} |")
    return [*lines, ""]


INTRO = f"""# The context manifest: field reference

Generated from the model (`contracts/manifest.py`) by `ctx schema --markdown`; do not edit by hand
(tests/test_manifest_reference.py fails when this file and the model differ). `ctx schema` prints the
same model as a JSON Schema for editors; `ctx init` writes it beside the manifest as `{SCHEMA_FILE}` and
points the manifest's first line at it:

```yaml
# yaml-language-server: $schema={SCHEMA_FILE}
```

Field names are camelCase, as in ContextCore. Unknown fields and sections are kept and passed through
(a manifest ContextCore accepts is accepted unchanged), so a misspelled *optional* field is not an
error: compare with the tables below. `ctx validate FILE` checks everything `ctx build` checks before
writing anything (the schema, the rules below, the secret scan and every gate that needs no output).

## A two-target manifest

```yaml
# yaml-language-server: $schema={SCHEMA_FILE}
apiVersion: {API_VERSION}
kind: ContextManifest
metadata:
  name: shop
spec:
  business:
    criticality: high
  requirements:
    availability: "99.9"
    latencyP99: "300ms"
  targets:
    - kind: Deployment
      name: api
      namespace: shop
    - kind: Deployment
      name: web
      namespace: shop
  observability:
    alertChannels: ["#shop-alerts", "pagerduty:shop-primary"]
strategy:
  objectives:
    - id: OBJ-1
      description: The shop is available
      keyResults:
        - metricKey: availability
          unit: "%"
          target: 99.9
          window: 30d
          dataSource: 'promql:avg_over_time(up{{job="$target", namespace="$namespace"}}[30d])'
```

## Rules beyond the types

* `apiVersion` is `{API_VERSION}`; a ContextCore v1.1 manifest (`contextcore.io/v1alpha1`) is converted by
  `ctx migrate FILE --out NEW`.
* `spec.targets` has at least one target; every target needs `kind` and `name`. Target names, namespaces and
  the project id (`spec.project.id`, else `metadata.name`) are lowercase DNS labels (`[a-z0-9-]`, starting
  and ending with a letter or digit, at most 63 characters); target names are unique.
* `spec.requirements.availability` is a percentage (0–100); `latencyP50`/`latencyP99` are durations (`250ms`,
  `1s`); `spec.observability.metricsInterval` is a Prometheus duration.
* An availability key result (`metricKey` containing `availability` or `success_rate`) uses unit `%`; a
  latency one (`latency`, `duration`) uses `ms` or `s`. `window` is a duration such as `30d`. Tactics link
  only to existing objective ids.
* Dates (`lastUpdated`, changelog `date`, `answeredAt`) are real dates, `YYYY-MM-DD`.
* Free text has length limits (`description` 2,000 characters, any other text 8,192); numbers are finite.
* No credential anywhere: a value that looks like a token, key, password or a URL with user info fails the
  `secret_scan` gate, which blocks the whole project (reference secrets instead: `vault:PATH`, `env:NAME`,
  a `secretRef`).

## Key result `dataSource`: where an SLI comes from

* `promql:<query>` on the **first availability key result**: the SLI of every target. The query is the good
  fraction (0–1); the error ratio over a window w is `1 - (query with every range selector set to [w])`.
* `promql:<query>` on the **first latency key result**: the latency alert. The query returns seconds; the key
  result's `target` (in its unit) is the threshold.
* `promql:<query>` on **any other key result**: an alert of its own when the value is off `target` (compared
  by `targetOperator`).
* **any other text** (`prometheus`, `datadog:…`): documentation only, a project-level key result drawn on the
  overview dashboard.
* **absent**: the SLI comes from the OpenTelemetry HTTP conventions (`http_server_request_duration_seconds`).

In a query, `$target` and `$namespace` are each target's `name` and `namespace`, so one key result serves
every target; a query that names one target (`job="api"`) belongs to that target only. The query is parsed
with the Prometheus grammar at `ctx validate` and must be one expression (`promql:up[5m]`, a range vector, or
a query with unbalanced parentheses is refused with its location).

## Fields
"""


def reference_markdown() -> str:
    """docs/manifest.md: every model of the manifest as a table, top-level first."""
    schema = json_schema()
    defs = schema.get("$defs", {})
    order = ["ContextManifest", "Metadata", "Owner", "ChangelogEntry", "Spec", "Project", "Business",
             "Requirements", "Risk", "Target", "Observability", "Strategy", "Objective", "KeyResult", "Tactic",
             "Guidance", "Constraint", "Question"]
    models = {"ContextManifest": schema, **{k: v for k, v in defs.items() if "properties" in v}}
    order += sorted(set(models) - set(order))
    lines = [INTRO]
    for name in order:
        if name in models:
            lines += _table(name, models[name], defs)
    return "\n".join(lines).rstrip() + "\n"
