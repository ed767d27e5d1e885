"""Every value from the manifest stays data in every output language (issue 22 item 1).

One manifest carries the hostile corpus in every free-text field that reaches an output: Go template
actions (`{{ with query … }}`), Markdown that would open a heading, HTML and an unclosed fence, DEL/C1
and Unicode line separators, table pipes, PromQL that is one well-formed expression with awkward
content. The whole bundle is built without the orchestrator and each output is parsed back with its
own language's parser: YAML (PyYAML), JSON, PromQL (promql-parser), LogQL (the structural checker),
Go templates (the only action left is the one that prints `{{`), Markdown (markdown-it-py, CommonMark).
Each value must come back as data, not as code.
"""

from __future__ import annotations

import copy
import json
import re

import promql_parser
import pytest
import yaml
from markdown_it import MarkdownIt

from ctx_assets.core.escape import go_template, go_template_printed, md_code, md_text
from ctx_assets.core.logql import check_logql

from .conftest import EXAMPLE, run_ctx

GO_TEMPLATE = 'x{{ with query "up" }}{{ . }}{{ end }}'
MARKDOWN = "ok\n# Injected heading\n<script>alert(1)</script>\n```\n| a | b |\n[link](javascript:alert(1))"
CONTROLS = "desc\x7f\x85\x9f\u2028\u2029\ufeffend"
HOSTILE_TEXTS = [GO_TEMPLATE, MARKDOWN, CONTROLS]


def _hostile_manifest() -> dict:
    d = yaml.safe_load(EXAMPLE.read_text())
    d["spec"]["targets"] = d["spec"]["targets"][:1]
    d["spec"]["project"]["description"] = CONTROLS + " " + GO_TEMPLATE
    d["spec"]["risks"] = [{"type": "security", "description": MARKDOWN, "priority": "P1",
                           "mitigation": MARKDOWN + "\n" + GO_TEMPLATE, "controls": [MARKDOWN, CONTROLS]}]
    d["metadata"]["owners"] = [{"team": "a | b <b>bold</b>", "slack": "#ops", "email": "x@example.com",
                                "oncall": GO_TEMPLATE}]
    obj = d["strategy"]["objectives"][0]
    for t in d["strategy"].get("tactics") or []:
        t["linkedObjectives"] = ["OBJ-{{ .Labels }}" if x == obj["id"] else x for x in t.get("linkedObjectives", [])]
    obj["id"] = "OBJ-{{ .Labels }}"
    obj["keyResults"].append({"metricKey": GO_TEMPLATE, "unit": "count", "target": 5, "targetOperator": "lte",
                              "window": "7d",
                              "dataSource": 'promql:sum(rate(errors_total{job="$target",msg="}} {{ x ` # no"}[5m]))'})
    d["x-notes"] = {"free": CONTROLS, "md": MARKDOWN, "go": GO_TEMPLATE}
    return d


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> dict[str, bytes]:
    """The files of the whole bundle (export + artifacts) of the hostile manifest."""
    from ctx_assets.core.pipeline import build_without_orchestrator

    path = tmp_path_factory.mktemp("hostile") / "m.contextcore.yaml"
    path.write_text(yaml.safe_dump(_hostile_manifest(), sort_keys=False, allow_unicode=True))
    run = build_without_orchestrator(path, None, write=False)
    assert not run.problems, run.problems
    failed = [g for g in run.all_gates() if not g.ok and g.blocks]
    assert not failed, failed
    files = dict(run.files)
    files.update({a.output_path: a.content for a in run.artifacts})
    assert len([a for a in run.artifacts if a.content]) == 7
    return files


def _yaml_files(bundle: dict[str, bytes]) -> dict[str, object]:
    return {rel: yaml.safe_load(data) for rel, data in bundle.items() if rel.endswith(".yaml")}


def _strings(obj: object) -> list[str]:
    if isinstance(obj, str):
        return [obj]
    if isinstance(obj, dict):
        return [s for k, v in obj.items() for s in (*_strings(k), *_strings(v))]
    if isinstance(obj, list):
        return [s for v in obj for s in _strings(v)]
    return []


def test_yaml_outputs_parse_and_carry_control_characters_as_data(bundle):
    docs = _yaml_files(bundle)  # raises on an unparseable file (DEL/C1 used to break the artifact manifest)
    assert {"export/artifact-manifest.yaml", "k8s/observability/frontend-service-monitor.yaml"} <= set(docs) or docs
    manifest = docs["export/artifact-manifest.yaml"]
    assert any(CONTROLS in s for s in _strings(manifest)), "the description comes back exactly, as data"
    for rel, data in bundle.items():
        if rel.endswith(".yaml"):
            raw = data.decode()
            assert not re.search(r"[\x7f-\x9f\u2028\u2029\ufeff]", raw), rel  # written escaped, never raw


def test_json_outputs_parse_and_escape_every_control_character(bundle):
    for rel, data in bundle.items():
        if rel.endswith(".json"):
            doc = json.loads(data)
            assert not re.search(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\ufeff]", data.decode().replace("\n", "")), rel
            assert doc is not None
    onboarding = json.loads(bundle["export/onboarding-metadata.json"])
    assert any(CONTROLS in s for s in _strings(onboarding))


def _prometheus_rules(bundle: dict[str, bytes]) -> list[dict]:
    return [r for rel, doc in _yaml_files(bundle).items() if rel.startswith("prometheus/")
            for g in doc["spec"]["groups"] for r in g["rules"]]


def test_every_promql_expression_parses_as_one_expression(bundle):
    rules = _prometheus_rules(bundle)
    assert len(rules) > 10
    for r in rules:
        promql_parser.parse(r["expr"])  # raises ValueError on a broken expression
    kr = next(r for r in rules if r.get("labels", {}).get("key_result"))
    assert 'msg="}} {{ x ` # no"' in kr["expr"].replace("\\", "")  # the label value survives as a string
    slo = next(doc for rel, doc in _yaml_files(bundle).items() if rel.startswith("slo/"))
    ratio = slo["spec"]["indicator"]["spec"]["ratioMetric"]
    for side in ("good", "total"):
        promql_parser.parse(ratio[side]["metricSource"]["spec"]["query"])
    dash = json.loads(next(v for k, v in bundle.items() if k.startswith("grafana/")))
    for panel in dash["panels"]:
        for t in panel.get("targets", []):
            expr = t.get("expr", "").replace("$__rate_interval", "5m").replace("$__auto", "5m")  # Grafana's
            if "{" in expr and ("|=" in expr or "|~" in expr or "| json" in expr):
                assert check_logql(expr) == [], expr
            elif expr:
                promql_parser.parse(expr)


def test_logql_outputs_parse(bundle):
    doc = next(doc for rel, doc in _yaml_files(bundle).items() if rel.startswith("loki/"))
    for g in doc["groups"]:
        for r in g["rules"]:
            assert check_logql(r["expr"], require_metric=True) == [], r["expr"]


def _go_template_actions(text: str) -> list[str]:
    """The actions a Go template would execute: everything between `{{` and `}}`, except the escape."""
    return re.findall(r"\{\{.*?\}\}", text.replace('{{ "{{" }}', "\0"))


def test_alert_labels_and_annotations_cannot_open_a_go_template(bundle):
    rules = _prometheus_rules(bundle) + [r for rel, doc in _yaml_files(bundle).items() if rel.startswith("loki/")
                                         for g in doc["groups"] for r in g["rules"]]
    texts = [v for r in rules for part in ("labels", "annotations") for v in (r.get(part) or {}).values()]
    assert texts
    for t in texts:
        assert _go_template_actions(str(t)) == [], t
    kr = next(r for r in _prometheus_rules(bundle) if r.get("labels", {}).get("key_result"))
    assert go_template_printed(kr["labels"]["key_result"]) == GO_TEMPLATE  # printed as the user wrote it
    assert GO_TEMPLATE in go_template_printed(kr["annotations"]["summary"])


def _markdown(bundle: dict[str, bytes]) -> str:
    return next(v for k, v in bundle.items() if k.startswith("runbooks/")).decode()


def test_runbook_markdown_has_only_its_own_headings_no_html_and_no_fence(bundle):
    text = _markdown(bundle)
    tokens = MarkdownIt("commonmark").enable("table").parse(text)
    kinds = {t.type for t in tokens}
    assert "fence" not in kinds and "code_block" not in kinds
    inline = [c for t in tokens if t.type == "inline" for c in (t.children or [])]
    assert [c.content for c in inline if c.type == "html_inline"] == []
    html = "".join(t.content for t in tokens if t.type == "html_block")
    assert html == text[:len(html)] and html.count("<!--") == html.count("-->") == 4  # the provenance header only
    headings = [tokens[i + 1].content for i, t in enumerate(tokens) if t.type == "heading_open"]
    assert "Injected heading" not in headings
    for section in ("Overview", "Risks", "Escalation", "Procedures", "Alerts"):
        assert section in headings, headings  # the unclosed fence no longer swallows what follows
    assert not any(c.type == "link_open" for c in inline if "javascript" in str(c.attrs))
    rendered = " ".join(c.content for c in inline if c.type in ("text", "code_inline"))
    assert "<script>alert(1)</script>" in rendered and "# Injected heading" in rendered  # shown as text
    assert GO_TEMPLATE in rendered


def test_escaping_helpers_round_trip_through_their_parsers():
    md = MarkdownIt("commonmark")
    for value in [*HOSTILE_TEXTS, "`tick` ``double``", "a\\b", "*x* _y_ ~z~", "1. not a list", "- nor this"]:
        one = value.replace("\n", " ")
        for rendered, kind in ((md_text(value), "text"), (md_code(value), "code_inline")):
            tokens = md.parse(f"para {rendered}")
            assert [t.type for t in tokens] == ["paragraph_open", "inline", "paragraph_close"], (value, tokens)
            got = "".join(c.content for c in tokens[1].children if c.type in ("text", "code_inline", "softbreak"))
            expected = re.sub(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\ufeff]", " ", one)
            assert expected.strip() in got.strip() or (kind == "code_inline" and expected.strip() == got.strip()), \
                (value, rendered, got)
    assert go_template("a {{ b }}") == 'a {{ "{{" }} b }}' and go_template_printed(go_template("{{x")) == "{{x"


@pytest.mark.parametrize("source,words", [
    ('promql:avg_over_time(up{job="$target"}[5m])) or vector(1) or (up', ["does not parse"]),
    ("promql:up # comment hides the closing bracket", ["one expression"]),
    ("promql:up[5m]", ["range vector"]),
])
def test_a_query_that_breaks_out_is_exit_2_at_validate(tmp_path, source, words):
    d = copy.deepcopy(_hostile_manifest())
    d["strategy"]["objectives"][0]["keyResults"][-1]["dataSource"] = source
    f = tmp_path / "m.contextcore.yaml"
    f.write_text(yaml.safe_dump(d, sort_keys=False, allow_unicode=True))
    r = run_ctx("validate", str(f))
    assert r.returncode == 2, r.stderr
    line = next(x for x in r.stderr.splitlines() if "dataSource" in x)
    assert re.match(rf"{re.escape(str(f))}:\d+:\d+: strategy\.objectives\[0\]\.keyResults\[\d\]\.dataSource: ", line)
    assert all(w in line for w in words), line


def test_promtool_and_amtool_accept_the_hostile_bundle(tmp_path):
    """The real validators read the hostile values as data: `promtool check rules` and its unit tests
    (whose expected annotations are what Prometheus prints for the escaped text), `amtool check-config`."""
    import shutil

    from ctx_assets.core.pipeline import build_without_orchestrator
    from ctx_assets.resources.validators import ExternalValidators

    from .conftest import require

    require(bool(shutil.which("promtool") and shutil.which("amtool")), "promtool and amtool")
    path = tmp_path / "m.contextcore.yaml"
    path.write_text(yaml.safe_dump(_hostile_manifest(), sort_keys=False, allow_unicode=True))
    run = build_without_orchestrator(path, None, write=False, validators=ExternalValidators().validate)
    external = [g for g in run.all_gates() if g.gate == "external_validators"]
    assert len(external) == 3 and all(g.result == "passed" for g in external), [g.violations for g in external]
