"""Alert channels as ContextCore has them: free strings; known forms become Alertmanager integrations,
any other name a receiver to complete (with a warning saying what to add), a credential is refused."""

from __future__ import annotations

import shutil
import subprocess

import pytest
import yaml

from ctx_assets.core import yamlout
from ctx_assets.core.alertmanager import plain_config
from ctx_assets.core.pipeline import build_without_orchestrator
from ctx_assets.core.routing import route_receivers
from ctx_assets.core.units import parse_channel
from ctx_assets.resources.validators import ExternalValidators

from .conftest import MINIMAL, require, run_ctx, write_manifest
from .secret_corpus import CORPUS


@pytest.mark.parametrize(("channel", "parsed"), [
    ("#payments-alerts", ("slack", "payments-alerts")), ("slack:#ops", ("slack", "ops")),
    ("pagerduty:checkout", ("pagerduty", "checkout")), ("email:oncall@example.com", ("email", "oncall@example.com")),
    ("opsgenie:team-b", ("opsgenie", "team-b")), ("webhook:https://relay.example.com/am", ("webhook",
                                                                                           "https://relay.example.com/am")),
    ("pagerduty-critical", ("named", "pagerduty-critical")), ("Ops Team Pager", ("named", "Ops Team Pager")),
    ("pagerduty:two words", None), ("#Upper", None), ("email:nobody", None),
])
def test_channel_forms(channel, parsed):
    assert parse_channel(channel) == parsed


def _build(tmp_path, channels: list[str], criticality: str = "critical"):
    data = {**MINIMAL, "spec": {**MINIMAL["spec"], "business": {"criticality": criticality},
                                "observability": {"alertChannels": channels}}}
    return build_without_orchestrator(write_manifest(tmp_path / "m.yaml", data), None, write=False,
                                      validators=ExternalValidators().validate)


@pytest.mark.full  # an external tool or a Dagster run
def test_contextcore_free_form_names_build_with_a_warning_and_pass_amtool(tmp_path):
    amtool = shutil.which("amtool")
    require(amtool is not None, "amtool (Debian package prometheus-alertmanager)")
    run = _build(tmp_path, ["pagerduty-critical", "#checkout-alerts", "ops-mailbox"])
    assert not run.problems and not run.blocked, [g for g in run.all_gates() if g.blocks]
    policy = next(a for a in run.artifacts if a.artifact_type == "notification_policy")
    doc = plain_config("mini", [yaml.safe_load(policy.content)])  # the configuration the resource stands for
    by_name = {r["name"]: r for r in doc["receivers"]}
    assert by_name["pagerduty-critical"] == {"name": "pagerduty-critical"}  # named, no integration yet
    assert by_name["api-page"]["slack_configs"][0]["channel"] == "#checkout-alerts"
    schema = next(g for g in policy.gates if g.gate == "artifact_schema")
    assert schema.result == "warned" and not schema.blocks
    msgs = {v.field: v.message for v in schema.violations}
    assert "pagerduty_configs with routing_key_file" in msgs["receivers[pagerduty-critical]"]
    assert "email_configs" in msgs["receivers[ops-mailbox]"]
    external = next(g for g in policy.gates if g.gate == "external_validators")
    assert external.result == "passed", external.violations

    f = tmp_path / "am.yml"
    f.write_bytes(yamlout.dump(doc))
    assert subprocess.run([amtool, "check-config", str(f)], capture_output=True).returncode == 0
    for severity, want in (("critical", ["api-page", "pagerduty-critical"]), ("warning", ["api-ticket",
                                                                                          "ops-mailbox"])):
        labels = {"job": "api", "namespace": "shop", "severity": severity}
        r = subprocess.run([amtool, "config", "routes", "test", f"--config.file={f}",
                            f"--verify.receivers={','.join(want)}", *[f"{k}={v}" for k, v in labels.items()]],
                           capture_output=True, text=True)
        assert r.returncode == 0, r.stdout + r.stderr
        assert route_receivers(doc["route"], labels) == want  # our in-process routing agrees with amtool


def test_every_known_form_becomes_its_integration(tmp_path):
    run = _build(tmp_path, ["#team", "pagerduty:svc", "email:a@example.com", "opsgenie:ops",
                            "webhook:https://relay.example.com/hook"])
    doc = plain_config("mini", [yaml.safe_load(next(a for a in run.artifacts
                                                     if a.artifact_type == "notification_policy").content)])
    configs = {k for r in doc["receivers"] for k in r if k.endswith("_configs")}
    assert configs == {"slack_configs", "pagerduty_configs", "email_configs", "opsgenie_configs", "webhook_configs"}
    text = yaml.safe_dump(doc)
    assert "routing_key_file: /etc/alertmanager/secrets/pagerduty-svc" in text
    assert "api_key_file: /etc/alertmanager/secrets/opsgenie-ops" in text


def test_slack_webhook_as_channel_is_refused_by_the_secret_gate_without_echo(tmp_path):
    url, needle = CORPUS["Slack webhook URL"][0]
    data = {**MINIMAL, "spec": {**MINIMAL["spec"], "observability": {"alertChannels": [url]}}}
    path = write_manifest(tmp_path / "m.yaml", data)
    assert run_ctx("validate", str(path), "--no-gates").returncode == 0  # a free string to the schema ...
    checked = run_ctx("validate", str(path))  # ... refused by validate as by build, never echoed
    assert checked.returncode == 1 and "spec.observability.alertChannels[0]" in checked.stderr
    assert needle not in checked.stdout + checked.stderr
    out = tmp_path / "out"
    r = run_ctx("export", str(path), "--artifacts", "--no-external", "--out", str(out))
    assert r.returncode == 1, r.stderr  # ... and a credential to the secret gate
    assert "secret_scan" in r.stderr and "spec.observability.alertChannels[0]" in r.stderr
    assert "api_url_file" in r.stderr
    assert needle not in r.stdout + r.stderr and not out.exists()
