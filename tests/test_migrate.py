"""`ctx migrate`: ContextCore v1.1 → v2 as ContextCore's own `manifest migrate` maps it (issue 10)."""

from __future__ import annotations

import json

import pytest
import yaml

from ctx_assets.core.migrate import migrate_v1

from .conftest import EXAMPLE, ROOT, run_ctx

V1 = ROOT / "examples" / "payments-ledger.v1.contextcore.yaml"


def test_mapping_field_by_field():
    v1 = yaml.safe_load(V1.read_text())
    m = migrate_v1(v1, "2025-06-01")
    v2 = m.manifest
    assert (v2["apiVersion"], v2["kind"]) == ("contextcore.io/v1alpha2", "ContextManifest")
    assert v2["spec"] == v1["spec"]  # the operational block is unchanged
    objectives = v2["strategy"]["objectives"]
    assert [o["id"] for o in objectives] == ["OBJ-LEDGER-AVAILABILITY", "OBJ-LEDGER-LATENCY"]
    assert objectives[0]["keyResults"] == v1["objectives"][0]["keyResults"]
    assert "metric" not in objectives[0] and "target" not in objectives[0]  # deprecated, dropped as ContextCore does
    tactics = v2["strategy"]["tactics"]
    assert [t["id"] for t in tactics] == ["TAC-IDEMPOTENCY-KEYS", "TAC-OUTBOX"]  # flattened from the strategy
    assert all(t["linkedObjectives"] == v1["strategies"][0]["objectiveRefs"] for t in tactics)
    assert tactics[0]["progress"] == 40.0 and tactics[1]["dueDate"] == "2025-05-30T00:00:00Z"
    (group,) = v2["strategy"]["strategyGroups"]
    strat = v1["strategies"][0]
    assert group == {"horizon": "now", "id": "STRAT-IDEMPOTENT-WRITES", "description": strat["description"],
                     "rationale": strat["rationale"], "objectiveRefs": strat["objectiveRefs"]}
    assert v2["guidance"] == {"constraints": [], "preferences": [], "questions": []}
    assert v2["insights"][0]["id"] == "INS-RETRY-STORM" and v2["insights"][0]["severity"] == "high"
    log = v2["metadata"]["changelog"]
    assert log[:-1] == v1["metadata"]["changelog"]
    assert (log[-1]["version"], log[-1]["date"]) == ("2.0", "2025-06-01")
    assert "Migrated from v1.1" in log[-1]["summary"]
    assert v2["metadata"]["links"] == v1["metadata"]["links"]
    assert "version" not in v2
    assert any("metric and target" in n for n in m.notes) and any("links" in n for n in m.notes)


def test_missing_insight_id_and_defaults_are_filled_deterministically():
    v1 = yaml.safe_load(V1.read_text())
    v1["insights"] = [{"type": "risk", "summary": "s", "confidence": 1, "source": "x"}]
    v1["strategies"][0].pop("horizon")
    a, b = migrate_v1(v1, "d").manifest, migrate_v1(v1, "d").manifest
    assert a["insights"][0]["id"].startswith("INS-MIGRATED-") and a["insights"] == b["insights"]
    assert a["strategy"]["strategyGroups"][0]["horizon"] == "now"


def test_validate_on_v1_says_to_migrate(tmp_path):
    r = run_ctx("validate", str(V1))
    assert r.returncode == 2
    assert f"{V1}:10:13: apiVersion: " in r.stderr and "ctx migrate" in r.stderr and "v1.1" in r.stderr


@pytest.mark.full  # an external tool or a Dagster run
def test_migrate_then_validate_and_build(tmp_path):
    new = tmp_path / "ledger.contextcore.yaml"
    r = run_ctx("migrate", str(V1), "--out", str(new))
    assert r.returncode == 0, r.stderr
    assert f"wrote {new}" in r.stdout and "note:" in r.stdout
    assert run_ctx("validate", str(new)).returncode == 0
    env = {"CTX_HOME": str(tmp_path / ".ctx"), "DAGSTER_HOME": str(tmp_path / ".ctx" / "dagster"),
           "CTX_TRACE_FILE": str(tmp_path / ".ctx" / "spans.jsonl"), "OTEL_EXPORTER_OTLP_ENDPOINT": ""}
    r = run_ctx("build", str(new), "--out", str(tmp_path / "out"), "--json", env=env)
    assert r.returncode == 0, r.stderr
    s = json.loads(r.stdout)
    assert s["ok"] and len(s["materialized"]) == 14
    warned = [g for g in s["gates"] if g["result"] == "warned" and g["name"] == "artifact_schema"]
    assert {g["artifact_id"] for g in warned} == {"ledger-api-notification-policy", "ledger-store-notification-policy"}
    policy = yaml.safe_load((tmp_path / "out" / "alertmanager" / "ledger-api-notification.yaml").read_text())
    assert {"name": "pagerduty-critical"} in policy["spec"]["receivers"]  # an AlertmanagerConfig since issue 19


def test_migrate_refuses_to_overwrite(tmp_path):
    out = tmp_path / "exists.yaml"
    out.write_text("keep me\n")
    r = run_ctx("migrate", str(V1), "--out", str(out))
    assert r.returncode == 2 and "already exists" in r.stderr and out.read_text() == "keep me\n"
    r = run_ctx("migrate", str(V1), "--out", str(V1))
    assert r.returncode == 2 and "apiVersion: contextcore.io/v1alpha1" in V1.read_text()


def test_migrate_refuses_v2_and_invalid_input(tmp_path):
    r = run_ctx("migrate", str(EXAMPLE), "--out", str(tmp_path / "x.yaml"))
    assert r.returncode == 2 and "already a v2 manifest" in r.stderr
    bad = tmp_path / "bad.yaml"
    bad.write_text(V1.read_text().replace("namespace: payments", 'namespace: "x\\"} or vector(1) #"', 1))
    r = run_ctx("migrate", str(bad), "--out", str(tmp_path / "new.yaml"))
    assert r.returncode == 2 and "spec.targets[0].namespace" in r.stderr and "DNS label" in r.stderr
    assert not (tmp_path / "new.yaml").exists()
