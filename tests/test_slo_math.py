"""SLO math (core/slo_math.py, docs/slo-math.md): window names, period-scaled burn factors, and the rules,
dashboards and runbooks of a 28-day SLO (issue 19, items 3 and 5)."""

from __future__ import annotations

import json

import pytest
import yaml

from ctx_assets.core import conventions as cv
from ctx_assets.core import slo_math as sm
from ctx_assets.core.pipeline import build_without_orchestrator

from .conftest import manifest_with_targets, write_manifest


@pytest.mark.parametrize(("window", "name"), [("30d", "30d"), ("28d", "4w"), ("7d", "1w"), ("14d", "2w"),
                                              ("90d", "90d"), ("1d", "1d")])
def test_period_names_follow_prometheus_duration_format(window, name):
    assert sm.period_name(window) == name  # 28d is "4w" as Sloth names ratio_rate4w; 90d is not "12w6d"


def test_burn_factors_are_budget_fraction_times_period_over_long_window():
    thirty = [(c.severity, c.long, c.short, c.factor) for c in sm.burn_conditions("30d")]
    assert thirty == [("page", "1h", "5m", 14.4), ("page", "6h", "30m", 6.0), ("ticket", "1d", "2h", 3.0),
                      ("ticket", "3d", "6h", 1.0)]  # the SRE workbook's table
    assert [round(c.factor, 3) for c in sm.burn_conditions("28d")] == [13.44, 5.6, 2.8, 0.933]  # Sloth's
    assert [c.exhaust_days for c in sm.burn_conditions("30d")] == [2.1, 5.0, 10.0, 30.0]
    assert sm.seconds("2m30s") == 150 and sm.prom_name(150) == "2m30s"


@pytest.fixture(scope="module")
def four_weeks(tmp_path_factory):
    data = manifest_with_targets(2)
    data["strategy"]["objectives"][0]["keyResults"][0]["window"] = "28d"  # the availability key result
    run = build_without_orchestrator(write_manifest(tmp_path_factory.mktemp("w") / "m.yaml", data), None,
                                     write=False)
    assert not run.blocked
    return {a.artifact_type: a for a in run.artifacts if a.target == "svc-0000"}


def test_a_28d_slo_records_4w_with_scaled_factors_and_sloth_meta_records(four_weeks):
    records, alerts = (g["rules"] for g in yaml.safe_load(four_weeks["prometheus_rule"].content)["spec"]["groups"])
    by = {r["record"]: r for r in records}
    assert cv.error_ratio_record("4w") in by and cv.error_ratio_record("30d") not in by
    period = by[cv.error_ratio_record("4w")]
    assert "[4w]" in period["expr"] and "_over_time" not in period["expr"]  # from the counters, not the 5m mean
    assert period["labels"]["sloth_window"] == "4w"
    assert by[cv.PERIOD_DAYS_RECORD]["expr"] == "vector(28.0)"
    assert by[cv.PERIOD_BURN_RECORD]["expr"].startswith(cv.error_ratio_record("4w") + "{")
    assert by[cv.BUDGET_REMAINING_RECORD]["expr"].startswith(f"1 - {cv.PERIOD_BURN_RECORD}{{")
    for name in (cv.OBJECTIVE_RECORD, cv.BUDGET_RECORD, cv.CURRENT_BURN_RECORD, cv.SLO_INFO_RECORD):
        assert by[name]["labels"]["sloth_service"] == "svc-0000" and by[name]["labels"]["sloth_slo"] == "availability"
    fast, slow = (next(a for a in alerts if a["alert"] == n) for n in (cv.PAGE_ALERT, cv.TICKET_ALERT))
    assert "(13.44 * 0.001)" in fast["expr"] and "(5.6 * 0.001)" in fast["expr"]
    assert "(2.8 * 0.001)" in slow["expr"] and "(0.9333333333 * 0.001)" in slow["expr"]
    assert "14.4" not in fast["expr"]


def test_a_28d_dashboard_and_runbook_say_28d(four_weeks):
    dash = json.loads(four_weeks["dashboard"].content)
    panels = {p["title"]: [t.get("expr") for t in p.get("targets", [])] for p in dash["panels"]}
    assert panels["Availability (28d)"] == ['1 - slo:sli_error:ratio_rate4w{job="svc-0000",namespace="team-0"}']
    assert panels["Error budget remaining (28d)"] == [
        'slo:period_error_budget_remaining:ratio{job="svc-0000",namespace="team-0"}']
    assert not any("30d" in t for t in panels)
    burn = next(p for p in dash["panels"] if p["title"].startswith("Burn rate"))
    steps = [s["value"] for s in burn["fieldConfig"]["defaults"]["thresholds"]["steps"][1:]]
    assert steps == [pytest.approx(0.9333333333), 2.8, 13.44]  # the period's own factors
    runbook = four_weeks["runbook"].content.decode()
    assert "13.44x the sustainable rate over 1h and 5m or 5.6x" in runbook
