"""promtool and amtool on generated artifacts, through the product's resource and directly.

Under CI=true a missing tool fails these tests instead of skipping them.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from ctx_assets.contracts.gates import GateName
from ctx_assets.core import yamlout
from ctx_assets.core.alertmanager import plain_config
from ctx_assets.core.generators.base import Rendered
from ctx_assets.core.generators.prometheus_rule import PrometheusRuleGenerator
from ctx_assets.core.pipeline import build_without_orchestrator
from ctx_assets.core.routing import route_receivers
from ctx_assets.resources.validators import ExternalValidators

from .bundles import artifacts
from .conftest import manifest_with_targets, require

BUNDLES = ["example", "seventeen", "low", "sources", "self"]


def _tool(name: str) -> str:
    path = shutil.which(name)
    require(path is not None, f"{name} (Debian package prometheus / prometheus-alertmanager)")
    return path


@pytest.mark.parametrize("bundle_name", BUNDLES)
def test_resource_passes_every_rule_and_config(bundle_name):
    _tool("promtool"), _tool("amtool")
    v = ExternalValidators()
    for kind in ("prometheus_rule", "loki_rule", "notification_policy"):
        results = artifacts(bundle_name, kind)
        gates = v.validate(kind, results)
        assert set(gates) == {r.artifact_id for r in results}
        for aid, g in gates.items():
            assert g.gate == GateName.external_validators and g.result == "passed", (aid, g.violations)
        # one representative per rule shape is run through the tool; the others carry its verdict
        assert sum(1 for g in gates.values() if "checked_as" in g.details) >= len(results) - 7


def test_an_edit_elsewhere_in_the_manifest_reuses_every_cached_verdict(tmp_path):
    """Verdicts are cached by shape. Every artifact carries the manifest's checksum, which any edit
    changes; the shape abstracts it, so moving one target to another namespace does not send the
    unchanged shapes through promtool and amtool again (~1.5 s of unit tests a shape)."""
    _tool("promtool"), _tool("amtool")
    v = ExternalValidators(cache_dir=str(tmp_path / "cache"))
    data, path = manifest_with_targets(3), tmp_path / "m.contextcore.yaml"

    def checks() -> dict[str, str]:
        path.write_text(yaml.safe_dump(data, sort_keys=False))
        run = build_without_orchestrator(path, None, write=False, validators=v.validate)
        assert not run.blocked
        return {g.artifact_id: str(g.details.get("check", g.details.get("checks"))) for g in run.all_gates()
                if g.gate == GateName.external_validators}

    first = checks()
    assert len(first) == 9 and not any("cached" in c for c in first.values())  # 3 targets x 3 checked types
    data["spec"]["targets"][1]["namespace"] = "moved"
    second = checks()
    assert second.keys() == first.keys() and all(c.endswith("(cached verdict)") for c in second.values()), second


def test_promtool_check_rules_on_each_spec(tmp_path):
    promtool = _tool("promtool")
    for a in artifacts("seventeen", "prometheus_rule"):
        f = tmp_path / f"{a.artifact_id}.yaml"
        f.write_bytes(yamlout.dump(yaml.safe_load(a.content)["spec"]))
        r = subprocess.run([promtool, "check", "rules", str(f)], capture_output=True, text=True)
        assert r.returncode == 0, r.stdout + r.stderr
        # 8 error ratios (7 windows + the period) + 7 Sloth meta records + page, ticket, absent, latency alerts
        assert "SUCCESS: 19 rules found" in r.stdout


def _unit_test(tmp_path: Path, doc: dict) -> subprocess.CompletedProcess[str]:
    (tmp_path / "rules.yaml").write_bytes(yamlout.dump(doc["spec"]))
    tests = PrometheusRuleGenerator.promtool_tests(Rendered(b"", doc), "rules.yaml")
    (tmp_path / "test.yaml").write_bytes(yamlout.dump(tests))
    return subprocess.run([_tool("promtool"), "test", "rules", str(tmp_path / "test.yaml")],
                          capture_output=True, text=True)


def test_page_alert_fires_on_fast_burn_and_is_silent_at_half_budget(tmp_path):
    doc = yaml.safe_load(artifacts("example", "prometheus_rule")[0].content)
    r = _unit_test(tmp_path, doc)
    assert r.returncode == 0, r.stdout + r.stderr
    tests = PrometheusRuleGenerator.promtool_tests(Rendered(b"", doc), "rules.yaml")["tests"]
    assert tests[0]["alert_rule_test"][0]["alertname"] == "ErrorBudgetBurnFast"
    assert tests[0]["alert_rule_test"][0]["exp_alerts"]  # expects the page
    assert all(t["exp_alerts"] == [] for t in tests[1]["alert_rule_test"])  # and silence


def test_unit_tests_fail_when_the_page_threshold_is_wrong(tmp_path):
    """Negative control: the generated unit tests catch a rule that would not page."""
    doc = yaml.safe_load(artifacts("example", "prometheus_rule")[0].content)
    fast = next(r for r in doc["spec"]["groups"][1]["rules"] if r["alert"] == "ErrorBudgetBurnFast")
    fast["expr"] = fast["expr"].replace("(14.4 *", "(144 *").replace("(6.0 *", "(60.0 *")  # both conditions
    r = _unit_test(tmp_path, doc)
    assert r.returncode != 0 and "FAILED" in r.stdout + r.stderr


@pytest.mark.parametrize("breakage", ["empty errors are no data", "no absent alert"])
def test_unit_tests_catch_a_blank_healthy_service_and_a_silent_missing_scrape(tmp_path, breakage):
    """Negative controls of the generated tests: an error ratio that is empty (not 0) for a service that never
    failed, and an absent alert that cannot fire, are both caught."""
    doc = yaml.safe_load(artifacts("example", "prometheus_rule")[0].content)
    assert _unit_test(tmp_path, doc).returncode == 0
    records, alerts = (g["rules"] for g in doc["spec"]["groups"])
    if breakage == "empty errors are no data":
        for rule in records:
            if rule["record"].startswith("slo:sli_error:") and " or 0 * " in rule["expr"]:
                num, rest = rule["expr"].split(" or 0 * ", 1)
                rule["expr"] = num + ") / " + rest.split(") / ", 1)[1]  # the pre-issue-19 ratio: errors / total
    else:
        absent = next(a for a in alerts if a["alert"] == "SLOMetricAbsent")
        absent["expr"] = absent["expr"].replace("absent(", "absent(up or ")
    r = _unit_test(tmp_path, doc)
    assert r.returncode != 0 and "FAILED" in r.stdout + r.stderr


def test_resource_reports_broken_rule_as_failed_gate():
    _tool("promtool")
    a = artifacts("example", "prometheus_rule")[0]
    broken = yaml.safe_load(a.content)
    broken["spec"]["groups"][0]["rules"][0]["expr"] = "sum(rate(x[5m]"
    from dataclasses import replace

    bad = replace(a, document=broken, content=yamlout.dump(broken))
    gates = ExternalValidators().check_prometheus_rules([bad])
    assert gates[a.artifact_id].blocks


def test_configured_tool_that_cannot_run_fails_loudly():
    results = artifacts("example", "prometheus_rule")[:2]
    gates = ExternalValidators(promtool_path="/nonexistent/promtool").validate("prometheus_rule", results)
    assert all(g.blocks for g in gates.values())
    assert "cannot run" in next(iter(gates.values())).violations[0].message


@pytest.mark.parametrize("kind", ["prometheus_rule", "loki_rule", "notification_policy"])
def test_missing_tool_is_a_warning_not_a_crash(monkeypatch, tmp_path, kind):
    monkeypatch.setenv("PATH", str(tmp_path))  # neither promtool nor amtool on PATH
    gates = ExternalValidators().validate(kind, artifacts("example", kind)[:2])
    assert gates and all(g.result == "warned" and not g.blocks for g in gates.values())
    assert "not installed" in next(iter(gates.values())).violations[0].message


def _routes_test(amtool: str, config: Path, receiver: str, labels: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([amtool, "config", "routes", "test", f"--config.file={config}",
                           f"--verify.receivers={receiver}", *[f"{k}={v}" for k, v in labels.items()]],
                          capture_output=True, text=True)


@pytest.mark.parametrize("bundle_name", BUNDLES)
def test_amtool_check_config_and_routes_per_severity(tmp_path, bundle_name):
    amtool = _tool("amtool")
    for a in artifacts(bundle_name, "notification_policy")[:3]:
        f = tmp_path / f"{a.artifact_id}.yml"
        plain = plain_config(a.design.params["project_id"], [yaml.safe_load(a.content)])  # what the operator merges
        f.write_bytes(yamlout.dump(plain))
        r = subprocess.run([amtool, "check-config", str(f)], capture_output=True, text=True)
        assert r.returncode == 0, r.stdout + r.stderr
        p = a.design.params
        want = {p["page_severity"]: f"{a.target}-page"}
        want.setdefault(p["ticket_severity"], f"{a.target}-ticket")
        for severity, receiver in want.items():
            labels = {"job": a.target, "namespace": p["namespace"], "severity": severity}
            rt = _routes_test(amtool, f, receiver, labels)
            assert rt.returncode == 0, (severity, rt.stdout + rt.stderr)
            assert route_receivers(plain["route"], labels) == [receiver]  # ours agrees
        other = _routes_test(amtool, f, f"{a.target}-page", {"job": "someone-else", "severity": "critical"})
        assert other.returncode != 0  # another job's pages do not reach this target's pager
        root = _routes_test(amtool, f, f"{p['project_id']}-default", {"job": "someone-else", "severity": "critical"})
        assert root.returncode == 0, root.stdout  # the unmatched go to the project's receiver, not a target's


def test_ticket_inhibited_by_the_page_of_its_own_slo_only():
    doc = yaml.safe_load(artifacts("example", "notification_policy")[0].content)
    (rule,) = doc["spec"]["inhibitRules"]
    assert rule["sourceMatch"] == [{"name": "severity", "value": "critical", "matchType": "="}]
    assert rule["targetMatch"][0]["value"] == "warning|info"
    # slo in `equal`: the availability page silences the availability ticket, never the latency alert
    assert set(rule["equal"]) == {"job", "namespace", "slo"}


def test_where_verdicts_are_kept(tmp_path, monkeypatch):
    """The resource's own folder first, then CTX_VALIDATOR_CACHE (a CI job keeps one across jobs and homes),
    then the home's cache; "off" keeps none."""
    monkeypatch.setenv("CTX_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("CTX_VALIDATOR_CACHE", raising=False)
    assert ExternalValidators()._cache() == tmp_path / "home" / "cache" / "validators"
    monkeypatch.setenv("CTX_VALIDATOR_CACHE", str(tmp_path / "shared"))
    assert ExternalValidators()._cache() == tmp_path / "shared"
    assert ExternalValidators(cache_dir=str(tmp_path / "own"))._cache() == tmp_path / "own"
    monkeypatch.setenv("CTX_VALIDATOR_CACHE", "off")
    assert ExternalValidators()._cache() is None
    assert ExternalValidators(cache_dir="off")._cache() is None
    # a folder that cannot be written (here: below a file) is a cache that keeps nothing, not a failed gate
    (tmp_path / "file").write_text("")
    unwritable = ExternalValidators(cache_dir=str(tmp_path / "file" / "verdicts"))
    unwritable.remember("promtool", "check rules", b"x")
    assert not unwritable.cached("promtool", "check rules", b"x")
    # (one this user may not even read: tests/test_faults.py's unprivileged build, the suite's folder root's)
