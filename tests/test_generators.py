"""Artifact content, provenance, determinism, size estimates, plug-ins, blocking."""

from __future__ import annotations

import json
import re

import pytest
import yaml

from ctx_assets.contracts.artifacts import ArtifactType
from ctx_assets.core import conventions as cv
from ctx_assets.core.artisan import build_artifact, build_bundle
from ctx_assets.core.logql import check_logql
from ctx_assets.core.pipeline import build_without_orchestrator

from .bundles import artifacts, bundle
from .conftest import EXAMPLE, registry_breaking_prometheus_rule


def _doc(a):
    return json.loads(a.content) if a.output_path.endswith(".json") else yaml.safe_load(a.content)


def test_every_target_has_all_seven_files_at_spec_paths():
    run = bundle("example")
    paths = {a.output_path for a in run.artifacts}
    for target in ("frontend", "redis-cart", "checkoutservice"):
        assert {f"k8s/observability/{target}-service-monitor.yaml", f"slo/{target}-slo.yaml",
                f"prometheus/rules/{target}-prometheus-rules.yaml", f"loki/rules/{target}-loki-rules.yaml",
                f"grafana/dashboards/{target}-dashboard.json", f"alertmanager/{target}-notification.yaml",
                f"runbooks/{target}-runbook.md"} <= paths
    assert len(run.artifacts) == 77


def test_every_artifact_carries_id_and_source_checksum():
    run = bundle("example")
    for a in run.artifacts:
        text = a.content.decode()
        assert f"{cv.ANNOTATION_ARTIFACT_ID}: {a.artifact_id}" in text or \
            f"{cv.ANNOTATION_ARTIFACT_ID}:{a.artifact_id}" in text, a.artifact_id
        assert run.source_checksum in text, a.artifact_id


def test_prometheus_rule_windows_burn_rates_severity_annotations():
    a = next(x for x in artifacts("example", "prometheus_rule") if x.target == "checkoutservice")
    rec, alerts = (g["rules"] for g in _doc(a)["spec"]["groups"])
    records = {r["record"] for r in rec}
    for w in ("5m", "30m", "1h", "2h", "6h", "1d", "3d", "30d"):
        assert cv.error_ratio_record(w) in records
    by = {r["alert"]: r for r in alerts}
    # One page alert and one ticket alert per SLO, each the OR of its two multiwindow conditions (as Sloth).
    assert [a["alert"] for a in alerts if a["alert"].startswith("ErrorBudgetBurn")] == ["ErrorBudgetBurnFast",
                                                                                     "ErrorBudgetBurnSlow"]
    for name, conditions in (("ErrorBudgetBurnFast", (("14.4", "1h", "5m"), ("6.0", "6h", "30m"))),
                             ("ErrorBudgetBurnSlow", (("3.0", "1d", "2h"), ("1.0", "3d", "6h")))):
        branches = by[name]["expr"].split(" or ")
        assert len(branches) == 2, name
        for branch, (factor, long, short) in zip(branches, conditions, strict=True):
            assert branch.count(f"> ({factor} * 0.001)") == 2, (name, branch)
            assert f"ratio_rate{long}{{" in branch and f"ratio_rate{short}{{" in branch
            assert branch.count("max without (sloth_window)") == 2  # the window label dropped: one series
    assert by["ErrorBudgetBurnFast"]["labels"]["sloth_severity"] == "page"
    assert by["ErrorBudgetBurnSlow"]["labels"]["sloth_severity"] == "ticket"
    assert by["SLOMetricAbsent"]["expr"] == ('absent(http_server_request_duration_seconds_count{job="checkoutservice",'
                                             'namespace="boutique"})')
    assert by["SLOMetricAbsent"]["for"] == "2m30s"  # five scrapes at metricsInterval 30s
    assert by["SLOMetricAbsent"]["labels"]["severity"] == "critical"
    # The latency alert is its own SLO, so the availability page (same target) never inhibits it.
    assert by["LatencyP99High"]["labels"]["slo"] == "checkoutservice-latency"
    assert by["LatencyP99High"]["expr"].endswith("> 0.3")
    assert by["ErrorBudgetBurnFast"]["labels"]["severity"] == "critical"  # criticality critical
    assert by["ErrorBudgetBurnFast"]["labels"]["priority"] == "P1"
    assert by["ErrorBudgetBurnSlow"]["labels"]["severity"] == "warning"
    for alert in alerts:
        assert {"summary", "description", "runbook_url", "dashboard_url"} <= set(alert["annotations"])


def test_severity_follows_criticality():
    medium = _doc(artifacts("seventeen", "prometheus_rule")[0])["spec"]["groups"][1]["rules"]
    low = _doc(artifacts("low", "prometheus_rule")[0])["spec"]["groups"][1]["rules"]
    assert {r["labels"]["priority"] for r in medium} == {"P3"} and {r["labels"]["priority"] for r in low} == {"P4"}
    assert low[-1]["labels"]["severity"] == "info"


def test_runbook_has_a_heading_for_every_runbook_url():
    for name in ("example", "seventeen"):
        run = bundle(name)
        runbooks = {a.target: a.content.decode() for a in run.artifacts if a.artifact_type == "runbook"}
        for a in run.artifacts:
            if a.artifact_type not in ("prometheus_rule", "loki_rule"):
                continue
            doc = _doc(a)
            groups = doc["spec"]["groups"] if "spec" in doc else doc["groups"]
            for rule in (r for g in groups for r in g["rules"] if "alert" in r):
                url = rule["annotations"]["runbook_url"]
                path, anchor = url.split("#")
                assert path.endswith(f"{a.target}-runbook.md")
                headings = {cv.anchor(line.lstrip("#").strip()) for line in runbooks[a.target].splitlines()
                            if line.startswith("#")}
                assert anchor in headings, (a.artifact_id, anchor)


def test_runbook_sections_and_alert_subsections():
    text = artifacts("seventeen", "runbook")[0].content.decode()
    for h in ("## Overview", "## Risks", "## Escalation", "## Procedures", "## Alerts"):
        assert h in text
    assert text.count("#### Meaning") == text.count("#### Mitigation") == 5  # page, ticket, absent, latency, logs
    assert text.count("- Mitigation: mitigate") == 30  # every risk with its mitigation


def test_dashboard_panels_variables_uid_placement_links():
    a = next(x for x in artifacts("example", "dashboard") if x.target == "frontend")
    d = _doc(a)
    titles = [p["title"] for p in d["panels"]]
    for t in ("SLO objective", "Error budget remaining (30d)", "Burn rate (× error budget)", "Request rate",
              "Errors (5xx ratio)", "Duration p50 / p99", "Logs: errors"):
        assert t in titles
    # The example's key results name no query (dataSource: prometheus): project-level, on the overview only.
    assert not any(t.startswith("KPI ") for t in titles)
    assert "Availability (30d)" in titles
    assert {v["name"] for v in d["templating"]["list"]} == {"datasource", "loki"}
    assert d["uid"] == a.design.params["uid"] and len(d["uid"]) <= 40
    assert "placement:featured" in d["tags"]
    assert d["links"][0]["url"] == "https://wiki.example.com/boutique/runbooks/frontend-runbook.md"  # absolute
    logs = next(p for p in d["panels"] if p["type"] == "logs")
    assert logs["targets"][0]["expr"].startswith('{namespace="boutique", app="frontend"}')


def test_loki_rules_use_metric_queries_in_alerts():
    doc = _doc(artifacts("example", "loki_rule")[0])
    rules = doc["groups"][0]["rules"]
    assert {r.get("record") for r in rules} >= {"loki:log_lines:rate5m", "loki:log_errors:rate5m"}
    alert = next(r for r in rules if r.get("alert") == "LogErrorBurst")
    assert "count_over_time(" in alert["expr"] and check_logql(alert["expr"], require_metric=True) == []


@pytest.mark.parametrize("query,ok", [
    ('sum(rate({app="x"} [5m]))', True),
    ('sum by (app) (count_over_time({app="x", ns!="y"} |= "err" | json | level=~"(?i)error" [1m])) > 5', True),
    ('{app="x"} | logfmt', False),  # a log query where a metric query is required
    ('sum(rate({app="x"}[5m])', False),  # unbalanced
    ('rate({} [5m])', False),  # empty selector
    ('rate({app="x"} |~ "(" [5m])', False),  # bad regex
    ('rate({app=x} [5m])', False),  # unquoted value
])
def test_logql_checker(query, ok):
    assert (check_logql(query, require_metric=True) == []) is ok


def test_service_monitor_and_slo_values():
    sm = _doc(artifacts("example", "service_monitor")[0])
    assert sm["spec"]["endpoints"][0]["interval"] == "30s" and sm["metadata"]["namespace"] == "boutique"
    slo = _doc(artifacts("example", "slo_definition")[0])
    assert slo["spec"]["objectives"][0]["target"] == 0.999
    assert slo["spec"]["timeWindow"] == [{"duration": "30d", "isRolling": True}]


def test_notification_receivers_from_alert_channels():
    doc = _doc(artifacts("example", "notification_policy")[0])
    assert (doc["apiVersion"], doc["kind"]) == ("monitoring.coreos.com/v1alpha1", "AlertmanagerConfig")
    recv = {r["name"]: r for r in doc["spec"]["receivers"]}
    page, ticket = recv["frontend-page"], recv["frontend-ticket"]
    assert page["pagerdutyConfigs"][0]["routingKey"] == {"name": "online-boutique-alert-channels",
                                                         "key": "pagerduty-boutique-primary"}
    assert ticket["slackConfigs"][0]["channel"] == "#boutique-alerts"
    assert ticket["emailConfigs"][0]["to"] == "boutique-sre@example.com"
    only_slack = {r["name"]: r for r in _doc(artifacts("low", "notification_policy")[0])["spec"]["receivers"]}
    assert all("slackConfigs" in r for r in only_slack.values())


def test_determinism_byte_identical(tmp_path):
    a = build_without_orchestrator(EXAMPLE, None, write=False)
    b = build_without_orchestrator(EXAMPLE, None, write=False)
    assert [(x.output_path, x.content) for x in a.artifacts] == [(x.output_path, x.content) for x in b.artifacts]


def test_size_estimate_close_to_actual():
    """The estimate made at DESIGN (before any rendering) stays within 25% of the real size."""
    for name in ("example", "seventeen", "low"):
        for a in bundle(name).artifacts:
            assert abs(a.design.estimated_lines - a.lines) <= 0.25 * a.lines, (a.artifact_id, a.design.estimated_lines,
                                                                                a.lines)


def test_many_targets_and_risks_within_contracts():
    run = bundle("seventeen")
    assert len(run.artifacts) == 119
    assert all(g.result == "passed" for a in run.artifacts for g in a.gates)


class _BriefDashboard:
    """A plug-in generator that over-simplifies dashboards: the same gates must catch it."""

    artifact_type = ArtifactType.dashboard
    code_version = "plugin-1"

    def design(self, task, source_checksum):
        from ctx_assets.contracts.artifacts import DepthTier
        from ctx_assets.core.generators.base import base_design

        return base_design(task, source_checksum, {}, 10, 40, DepthTier.brief)

    def implement(self, d):
        from ctx_assets.core.generators.base import Rendered

        doc = {"uid": "x", "title": "skeleton", "panels": []}
        return Rendered(json.dumps(doc).encode(), doc)

    def check_schema(self, r):
        return [("panels", "empty")] if not r.document["panels"] else []


def test_plugin_generator_gets_the_same_gates():
    run = bundle("example")
    task = next(t for t in run.seed["tasks"] if t["artifact_type"] == "dashboard")
    res = build_artifact(task, run.source_checksum, _BriefDashboard())
    gates = {g.gate: g for g in res.gates}
    assert gates["design_calibration"].result == "warned"
    assert gates["design_calibration"].details["calibration.actual_tier"] == "brief"
    assert gates["output_contract"].blocks and gates["artifact_schema"].blocks
    assert res.status == "failed"


def test_plugin_registered_through_entry_point(monkeypatch):
    from importlib.metadata import EntryPoint

    from ctx_assets.core import generators

    ep = EntryPoint(name="dashboard", value=f"{__name__}:_BriefDashboard", group=generators.ENTRY_POINT_GROUP)
    monkeypatch.setattr(generators, "entry_points", lambda group: [ep] if group == ep.group else [])
    generators.registry.cache_clear()
    try:
        assert isinstance(generators.registry()[ArtifactType.dashboard], _BriefDashboard)
        bad = EntryPoint(name="not_a_type", value=f"{__name__}:_BriefDashboard", group=ep.group)
        monkeypatch.setattr(generators, "entry_points", lambda group: [bad])
        generators.registry.cache_clear()
        with pytest.raises(generators.PluginError, match="not an artifact type"):
            generators.registry()
    finally:
        generators.registry.cache_clear()


def test_failure_blocks_only_that_targets_dependents(monkeypatch):
    run = bundle("example")
    broken = registry_breaking_prometheus_rule("cartservice")
    monkeypatch.setattr("ctx_assets.core.artisan.registry", lambda: broken)
    results = {r.artifact_id: r for r in build_bundle(run.seed["tasks"], run.source_checksum)}
    assert results["cartservice-prometheus-rule"].status == "failed"
    for dep in ("dashboard", "notification-policy", "runbook"):
        r = results[f"cartservice-{dep}"]
        assert r.status == "blocked" and r.blocked_by.startswith("artifact_schema on cartservice-prometheus-rule")
    assert results["cartservice-loki-rule"].status == "built"
    assert all(r.status == "built" for k, r in results.items() if not k.startswith("cartservice-"))


def test_dashboard_overlap_detected():
    from ctx_assets.core.generators.schemas import check_dashboard

    d = _doc(artifacts("example", "dashboard")[0])
    d["panels"][1]["gridPos"] = dict(d["panels"][0]["gridPos"])
    assert any("overlaps" in m for _, m in check_dashboard(d))
    d["panels"][1]["gridPos"] = {"x": 20, "y": 0, "w": 8, "h": 4}
    assert any("x + w" in m for _, m in check_dashboard(d))
    assert re.match(r"^ctx-[0-9a-f]{16}$", d["uid"])
