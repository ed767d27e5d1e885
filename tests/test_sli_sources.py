"""Key results with a `promql:` dataSource drive the SLIs (issue 12, item 2; core/sli.py)."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest
import yaml

from ctx_assets.core import conventions as cv
from ctx_assets.core import yamlout
from ctx_assets.core.generators.base import Rendered
from ctx_assets.core.generators.prometheus_rule import PrometheusRuleGenerator
from ctx_assets.core.pipeline import build_without_orchestrator
from ctx_assets.core.sli import DEFAULT_SOURCE, has_range, promql, source_query, split_ratio, with_window
from ctx_assets.core.validate import validate_file

from .bundles import artifacts, bundle
from .conftest import manifest_with_targets, require, write_manifest

RATIO_FIELD = "strategy.objectives[0].keyResults[0].dataSource"


def _doc(a):
    return json.loads(a.content) if a.output_path.endswith(".json") else yaml.safe_load(a.content)


def _one(bundle_name, kind, target="svc-0001"):
    return next(a for a in artifacts(bundle_name, kind) if a.target == target)


def test_ratio_source_drives_every_error_ratio_window_and_the_burn_alerts():
    doc = _doc(_one("sources", "prometheus_rule"))
    records, alerts = (g["rules"] for g in doc["spec"]["groups"])
    by = {r["record"]: r for r in records}
    for w in (*cv.ERROR_RATIO_WINDOWS, "30d"):  # the period too: from the query itself, true from history held
        expr = by[cv.error_ratio_record(w)]["expr"]
        assert expr == (f'1 - (sum(rate(orders_total{{service="svc-0001",outcome="ok"}}[{w}])) / '
                        f'sum(rate(orders_total{{service="svc-0001"}}[{w}])))'), w
        assert by[cv.error_ratio_record(w)]["labels"] == {
            "slo": "svc-0001-availability", "job": "svc-0001", "namespace": "team-1",
            "sloth_id": "svc-0001-availability", "sloth_service": "svc-0001", "sloth_slo": "availability",
            "sloth_window": w}
    text = yaml.safe_dump(doc)
    assert cv.REQUESTS_METRIC not in text and cv.BUCKET_METRIC not in text  # the HTTP defaults are gone
    assert doc["metadata"]["annotations"][cv.ANNOTATION_SLI_SOURCE] == RATIO_FIELD
    fast = next(a for a in alerts if a["alert"] == "ErrorBudgetBurnFast")
    # the objective is requirements.availability (99.9), the SLI the key result's query
    assert fast["expr"].startswith("(max without (sloth_window) (slo:sli_error:ratio_rate5m{")
    assert "(14.4 * 0.001)" in fast["expr"] and "(6.0 * 0.001)" in fast["expr"]


def test_latency_source_in_seconds_and_a_key_result_alert_of_its_own():
    alerts = {a["alert"]: a for a in _doc(_one("sources", "prometheus_rule"))["spec"]["groups"][1]["rules"]}
    latency = alerts[cv.LATENCY_ALERT]
    assert latency["expr"] == "(histogram_quantile(0.99, rate(checkout_duration_seconds_bucket[5m]))) > 0.15"
    assert latency["labels"]["job"] == "svc-0001" and latency["labels"]["namespace"] == "team-1"  # routable
    queue = alerts["QueueDepthOffTarget"]
    assert queue["expr"] == "(max(queue_depth{namespace='team-1'})) > 100.0"
    assert queue["labels"]["key_result"] == "queue_depth" and queue["labels"]["severity"] == "warning"
    assert queue["annotations"]["runbook_url"].endswith("#queuedepthofftarget")
    runbook = _one("sources", "runbook").content.decode()
    assert "### QueueDepthOffTarget" in runbook and "max(queue_depth{namespace='team-1'})" in runbook
    assert "checkout_duration_seconds_bucket" in runbook and "http_route" not in runbook


def test_slo_and_dashboard_use_the_sources():
    slo = _doc(_one("sources", "slo_definition"))
    ratio = slo["spec"]["indicator"]["spec"]["ratioMetric"]
    assert ratio["good"]["metricSource"]["spec"]["query"] == \
        'sum(rate(orders_total{service="svc-0001",outcome="ok"}[5m]))'
    assert ratio["total"]["metricSource"]["spec"]["query"] == 'sum(rate(orders_total{service="svc-0001"}[5m]))'
    assert slo["metadata"]["annotations"][cv.ANNOTATION_SLI_SOURCE] == RATIO_FIELD
    dash = _doc(_one("sources", "dashboard"))
    exprs = {p["title"]: [t["expr"] for t in p.get("targets", [])] for p in dash["panels"]}
    assert exprs["SLI: good fraction (key result query)"] == [
        'sum(rate(orders_total{service="svc-0001",outcome="ok"}[$__rate_interval])) / '
        'sum(rate(orders_total{service="svc-0001"}[$__rate_interval]))']
    assert exprs["Latency (key result query)"] == [
        "histogram_quantile(0.99, rate(checkout_duration_seconds_bucket[$__rate_interval]))"]
    kpi = next(p for p in dash["panels"] if p["title"].startswith("KPI latency.p99"))
    assert kpi["targets"][0]["expr"] == "(histogram_quantile(0.99, rate(checkout_duration_seconds_bucket[5m]))) * 1000"
    assert kpi["fieldConfig"]["defaults"]["unit"] == "ms"
    assert not any(cv.REQUESTS_METRIC in e for es in exprs.values() for e in es)


def test_audit_trail_names_the_source_that_won():
    rules = json.loads(bundle("sources").files["export/onboarding-metadata.json"])["derivation_rules"]
    sli = {r["property"]: r for r in rules["prometheus_rule"]}
    assert sli["sli"]["sourceField"] == RATIO_FIELD and "wins over the HTTP semconv default" in sli["sli"]["rationale"]
    assert sli["latency_sli"]["sourceField"] == "strategy.objectives[1].keyResults[0].dataSource"
    assert sli["key_result_alerts"]["sourceField"] == "strategy.objectives[1].keyResults[1].dataSource"
    default = {r["property"]: r for r in json.loads(bundle("example").files["export/onboarding-metadata.json"])
               ["derivation_rules"]["slo_definition"]}
    assert default["sli"]["sourceField"] == DEFAULT_SOURCE  # "dataSource: prometheus" names no query


def test_a_gauge_source_without_a_ratio_and_one_without_ranges(tmp_path):
    data = manifest_with_targets(1)
    data["strategy"] = {"objectives": [{"id": "O", "description": "up", "keyResults": [
        {"metricKey": "availability", "unit": "%", "target": 99.9, "window": "30d",
         "dataSource": "promql:avg_over_time(up{service='$target'}[30d])"}]}]}
    run = build_without_orchestrator(write_manifest(tmp_path / "g.yaml", data), None, write=False)
    assert not run.blocked
    docs = {a.artifact_type: _doc(a) for a in run.artifacts
            if a.artifact_type in ("slo_definition", "prometheus_rule")}
    ratio = docs["slo_definition"]["spec"]["indicator"]["spec"]["ratioMetric"]
    assert ratio["counter"] is False and ratio["total"]["metricSource"]["spec"]["query"] == "vector(1)"
    assert ratio["good"]["metricSource"]["spec"]["query"] == "avg_over_time(up{service='svc-0000'}[30d])"
    one_h = next(r for r in docs["prometheus_rule"]["spec"]["groups"][0]["rules"] if r["record"].endswith("rate1h"))
    assert one_h["expr"] == "1 - (avg_over_time(up{service='svc-0000'}[1h]))"
    data["strategy"]["objectives"][0]["keyResults"][0]["dataSource"] = "promql:job:availability:ratio"
    run = build_without_orchestrator(write_manifest(tmp_path / "n.yaml", data), None, write=False)
    recs = {r["record"]: r["expr"] for a in run.artifacts if a.artifact_type == "prometheus_rule"
            for r in _doc(a)["spec"]["groups"][0]["rules"]}
    assert recs[cv.error_ratio_record("5m")] == "1 - (job:availability:ratio)"
    # no range to widen: the mean of the recorded 5m ratios (the only fallback; docs/slo-math.md)
    assert recs[cv.error_ratio_record("1h")].startswith("avg_over_time(slo:sli_error:ratio_rate5m{")


@pytest.mark.parametrize("source,message", [
    ("promql:", "expected a PromQL query"),
    ("promql:sum(rate(x[5m])", "PromQL does not parse"),
    ('promql:up{job="x}', "PromQL does not parse"),
    # issue 22: a query that closes what it did not open breaks out of the generated `1 - (…)`
    ('promql:avg_over_time(up{job="$target"}[5m])) or vector(1) or (up', "PromQL does not parse"),
    ("promql:up up", "PromQL does not parse"),
    ("promql:up[5m]", "range vector"),
    ('promql:"text"', "a string"),
])
def test_bad_sources_are_invalid_input(tmp_path, source, message):
    data = manifest_with_targets(1)
    data["strategy"]["objectives"][0]["keyResults"][0]["dataSource"] = source
    _, _, problems = validate_file(write_manifest(tmp_path / "m.yaml", data))
    assert [p.path for p in problems] == ["strategy.objectives[0].keyResults[0].dataSource"]
    assert message in problems[0].message


def test_query_helpers():
    assert promql("PromQL: up") == "up" and promql("prometheus") is None and promql(None) is None
    assert source_query("promql:slo:sli_error:ratio_rate1d") is None  # our own records: the default SLI
    assert with_window("rate(a[5m]) / rate(b[1h:5m]) + c[30d]", "2h") == "rate(a[2h]) / rate(b[1h:5m]) + c[2h]"
    assert split_ratio("sum(a) / sum(b)") == ("sum(a)", "sum(b)")
    assert split_ratio("sum(a / b)") is None and split_ratio('a{x="/"} / b / c') is None
    assert not has_range("job:availability:ratio")


def _promtool(tmp_path, doc):
    promtool = shutil.which("promtool")
    require(promtool is not None, "promtool (Debian package prometheus)")
    (tmp_path / "tested.yaml").write_bytes(yamlout.dump(PrometheusRuleGenerator.promtool_rules(doc)))
    tests = PrometheusRuleGenerator.promtool_tests(Rendered(b"", doc), "tested.yaml")
    (tmp_path / "test.yaml").write_bytes(yamlout.dump(tests))
    return subprocess.run([promtool, "test", "rules", str(tmp_path / "test.yaml")], capture_output=True, text=True)


@pytest.mark.full  # an external tool or a Dagster run
def test_unit_tests_of_source_rules_page_on_a_fast_burn_and_catch_a_wrong_threshold(tmp_path):
    doc = _doc(_one("sources", "prometheus_rule"))
    r = _promtool(tmp_path, doc)
    assert r.returncode == 0, r.stdout + r.stderr
    fast = next(a for a in doc["spec"]["groups"][1]["rules"] if a["alert"] == "ErrorBudgetBurnFast")
    # negative control: both page conditions (the alert is their OR) set ten times too high would never page
    fast["expr"] = fast["expr"].replace("(14.4 *", "(144 *").replace("(6.0 *", "(60.0 *")
    r = _promtool(tmp_path, doc)
    assert r.returncode != 0 and "FAILED" in r.stdout + r.stderr


def test_size_estimates_hold_with_sources():
    for name in ("sources", "self"):
        for a in bundle(name).artifacts:
            assert abs(a.design.estimated_lines - a.lines) <= 0.25 * a.lines, (a.artifact_id, a.lines)
