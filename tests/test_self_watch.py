"""The pipeline observes itself (issue 12, items 3 and 5): `ctx build` of its own manifest, and its
metrics through a real Pushgateway into a real Prometheus that evaluates the generated rules.

The end-to-end test follows README "Watching the pipeline": the same prometheus.yml (read from the
README, ports swapped for free ones), the rule file taken from the PrometheusRule's spec, builds
with CTX_PUSHGATEWAY_URL set. Servers listen on 127.0.0.1 and are stopped by the test.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
import yaml

from ctx_assets.contracts import semconv as sc
from ctx_assets.core.logql import check_logql
from tests.support.servers import free_port

from .conftest import ROOT, SELF_EXAMPLE, require, run_ctx

PIPELINE_METRICS = (sc.METRIC_RUNS, sc.METRIC_GATE_VIOLATIONS, sc.METRIC_STAGE_DURATION,
                    sc.METRIC_CALIBRATION_MISMATCH)


@pytest.fixture(scope="module")
def bundle_dir(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("self")
    env = {"CTX_HOME": str(tmp / "home"), "DAGSTER_HOME": str(tmp / "home" / "dagster"),
           "CTX_TRACE_FILE": str(tmp / "home" / "spans.jsonl")}
    r = run_ctx("build", str(SELF_EXAMPLE), "--out", str(tmp / "out"), "--json", env=env)
    assert r.returncode == 0, r.stderr
    return tmp, json.loads(r.stdout), env


def _read(out: Path, rel: str):
    text = (out / rel).read_text()
    return json.loads(text) if rel.endswith(".json") else (text if rel.endswith(".md") else yaml.safe_load(text))


def test_own_manifest_builds_through_dagster_and_passes_every_gate(bundle_dir):
    tmp, summary, _ = bundle_dir
    assert summary["ok"] and len(summary["artifacts"]) == 7
    assert summary["gates"] and {g["result"] for g in summary["gates"]} == {"passed"}  # not even a warning
    out = tmp / "out"
    rules = _read(out, "prometheus/rules/ctx-assets-prometheus-rules.yaml")["spec"]["groups"]
    text = json.dumps(rules)
    for metric in (sc.METRIC_RUNS, sc.METRIC_GATE_VIOLATIONS, sc.METRIC_STAGE_DURATION,
                   sc.METRIC_CALIBRATION_MISMATCH):
        assert metric in text, metric
    alerts = {a["alert"]: a for a in rules[1]["rules"]}
    assert {"ErrorBudgetBurnFast", "ErrorBudgetBurnSlow", "GateViolationsOffTarget", "LatencyP99High"} <= set(alerts)
    assert sc.METRIC_GATE_VIOLATIONS in alerts["GateViolationsOffTarget"]["expr"]
    records = {r["record"]: r["expr"] for r in rules[0]["rules"]}
    assert 'result="success"' in records["slo:sli_error:ratio_rate1h"]  # burn rates on failed builds

    dash = _read(out, "grafana/dashboards/ctx-assets-dashboard.json")
    exprs = {p["title"]: " ".join(t.get("expr", "") for t in p.get("targets", [])) for p in dash["panels"]}
    assert sc.METRIC_STAGE_DURATION in exprs["Latency (key result query)"]  # stage durations
    assert sc.METRIC_GATE_VIOLATIONS in next(e for t, e in exprs.items() if t.startswith("KPI gate_violations"))

    # The Output stage (provenance asset) writes the bundle-level files too (issue 19).
    for rel in ("kustomization.yaml", "alertmanager/alertmanager.yml", "prometheus/plain/ctx-assets-rules.yaml",
                "grafana/dashboards/project-overview.json", "k8s/grafana/ctx-assets-dashboard-configmap.yaml"):
        assert (out / rel).is_file(), rel
    assert _read(out, "alertmanager/alertmanager.yml")["route"]["receiver"] == "ctx-assets-default"

    runbook = _read(out, "runbooks/ctx-assets-runbook.md")
    for alert in ("GateViolationsOffTarget", "ErrorBudgetBurnFast", "LatencyP99High"):
        section = runbook.split(f"### {alert}\n", 1)[1].split("\n### ", 1)[0]
        assert "`ctx trace --last`" in section and "Dagster UI (`ctx ui`" in section, alert


def test_loki_rules_derive_the_four_metrics_from_fields_the_logs_carry(bundle_dir):
    tmp, _, env = bundle_dir
    rules = _read(tmp / "out", "loki/rules/ctx-assets-loki-rules.yaml")["groups"][0]["rules"]
    derived = {r["record"]: r["expr"] for r in rules if r.get("record", "").startswith("pipeline:")}
    assert len(derived) == 4
    logs = [json.loads(line) for line in (Path(env["CTX_HOME"]) / "logs" / "ctx.jsonl").read_text().splitlines()]
    for record, expr in derived.items():
        assert check_logql(expr, require_metric=True) == [], record
        assert '{namespace="observability", app="ctx-assets"}' in expr  # $namespace / $target substituted
        event = re.search(r'event="([^"]+)"', expr).group(1)
        lines = [rec for rec in logs if rec.get("event") == event]
        fields = set(re.findall(r"unwrap (\w+)", expr)) | {f for g in re.findall(r"by \(([^)]*)\)", expr)
                                                           for f in g.replace(" ", "").split(",")}
        if event == sc.EVENT_GATE:
            continue  # a clean build logs no gate violations; test_tracing checks those lines
        assert lines, (record, event)
        assert all(f in lines[0] for f in fields), (record, fields, lines[0])
    runs = [rec for rec in logs if rec.get("event") == sc.LOG_RUN_END]
    assert [rec["result"] for rec in runs] == ["success"] and runs[0]["trace_id"]


# -- end to end: Pushgateway + Prometheus ------------------------------------------------------------

def _get(url: str, timeout: float = 3) -> dict:
    with urllib.request.urlopen(url, timeout=timeout) as resp:
        return json.loads(resp.read())


def _wait(what: str, check, seconds: float = 60, why=lambda: ""):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            got = check()
        except OSError:
            got = None
        if got:
            return got
        time.sleep(0.5)
    pytest.fail(f"timed out after {seconds}s waiting for {what}\n{why()}")


def _readme_prometheus_yml() -> str:
    """The prometheus.yml of README "Watching the pipeline", as a user copies it."""
    text = (ROOT / "README.md").read_text()
    return re.search(r"cat > prometheus\.yml <<'EOF'\n(.*?)\nEOF\n", text, re.S).group(1)


@pytest.fixture
def servers(tmp_path, bundle_dir):
    gateway_bin, prom_bin = shutil.which("prometheus-pushgateway"), shutil.which("prometheus")
    require(gateway_bin is not None, "prometheus-pushgateway (Debian package prometheus-pushgateway)")
    require(prom_bin is not None, "prometheus (Debian package prometheus)")
    rule_file = tmp_path / "ctx-rules.yaml"  # README: the PrometheusRule's spec as a plain rule file
    spec = yaml.safe_load((bundle_dir[0] / "out/prometheus/rules/ctx-assets-prometheus-rules.yaml").read_text())
    rule_file.write_text(yaml.safe_dump(spec["spec"]))
    gw, prom = free_port(), free_port()
    config = _readme_prometheus_yml().replace("127.0.0.1:9091", f"127.0.0.1:{gw}")
    config = re.sub(r"scrape_interval: \w+, evaluation_interval: \w+", "scrape_interval: 1s, evaluation_interval: 1s",
                    config)  # seconds, not minutes, for a test
    (tmp_path / "prometheus.yml").write_text(config)
    # Debian's build persists groups to /var/lib/prometheus by default: this test keeps its own.
    procs = [subprocess.Popen([gateway_bin, f"--web.listen-address=127.0.0.1:{gw}",
                               f"--persistence.file={tmp_path / 'pushgateway.data'}"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL),
             subprocess.Popen([prom_bin, "--config.file=prometheus.yml", f"--web.listen-address=127.0.0.1:{prom}",
                               f"--storage.tsdb.path={tmp_path / 'data'}"], cwd=tmp_path,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    try:
        for port in (gw, prom):
            _wait(f"127.0.0.1:{port}/-/ready", lambda p=port: urllib.request.urlopen(
                f"http://127.0.0.1:{p}/-/ready", timeout=2).status == 200, 30)
        yield f"http://127.0.0.1:{gw}", f"http://127.0.0.1:{prom}", spec["spec"]["groups"]
    finally:
        stop_all(procs)


def stop_all(procs: list[subprocess.Popen]) -> None:
    """SIGTERM each server, then SIGKILL the ones still there after 20 s."""
    for p in procs:
        p.terminate()
    for p in procs:
        try:
            p.wait(timeout=20)
        except subprocess.TimeoutExpired:
            p.kill()


def _query(prom: str, q: str) -> list[dict]:
    body = _get(f"{prom}/api/v1/query?{urllib.parse.urlencode({'query': q})}")
    assert body["status"] == "success", body
    return body["data"]["result"]


def test_pipeline_metrics_reach_prometheus_and_its_own_rules_fire(servers, tmp_path):
    gateway, prom, groups = servers
    home = tmp_path / "home"
    env = {"CTX_HOME": str(home), "DAGSTER_HOME": str(home / "dagster"), "CTX_TRACE_FILE": str(home / "spans.jsonl"),
           "CTX_PUSHGATEWAY_URL": gateway}
    # The zero series first (what the first build of a new home pushes as it starts), scraped before any build.
    flush = "from ctx_assets.telemetry.providers import Telemetry; Telemetry.get().flush()"
    subprocess.run([sys.executable, "-c", flush],
                   cwd=ROOT, env={**__import__("os").environ, **env}, check=True, timeout=120)
    _wait("the zero series in Prometheus",
          lambda: len(_query(prom, f'{sc.METRIC_RUNS}{{job="ctx-assets"}} == 0')) == 2)
    bad = yaml.safe_load(SELF_EXAMPLE.read_text())  # credentials in the manifest: the secret gate fails the build
    bad["metadata"]["links"].update(repository="https://bot:hunter2hunter2@git.example.com/x",
                                    wiki="https://ci:s3cr3tpassw0rd@wiki.example.com/x")
    (tmp_path / "bad.contextcore.yaml").write_text(yaml.safe_dump(bad, sort_keys=False))
    assert run_ctx("build", str(SELF_EXAMPLE), "--out", str(tmp_path / "out"), env=env).returncode == 0
    for _ in range(3):
        assert run_ctx("build", str(tmp_path / "bad.contextcore.yaml"), "--out", str(tmp_path / "bad"),
                       env=env).returncode == 1
    _wait("four builds in Prometheus", lambda: _query(prom, f'sum({sc.METRIC_RUNS}{{job="ctx-assets"}}) == 4'),
          why=lambda: urllib.request.urlopen(f"{gateway}/metrics", timeout=3).read().decode()[-3000:])

    records = {r["record"]: r["expr"] for r in groups[0]["rules"]}
    for window in ("5m", "1h"):  # the recording rules' own expressions: 3 of 4 builds failed
        (value,) = _query(prom, records[f"slo:sli_error:ratio_rate{window}"])
        assert float(value["value"][1]) == pytest.approx(0.75), window
    alerts = {a["alert"]: a for a in groups[1]["rules"]}
    _wait("the page condition on the recorded ratios",  # 0.75 > 14.4 × 5% budget: it pages
          lambda: _query(prom, alerts["ErrorBudgetBurnFast"]["expr"]), 30)
    _wait("ErrorBudgetBurnFast firing in Prometheus",
          lambda: _query(prom, 'ALERTS{alertname="ErrorBudgetBurnFast",alertstate="firing"}'))
    (violations,) = _query(prom, alerts["GateViolationsOffTarget"]["expr"])  # > 3 failed-gate violations a day
    assert float(violations["value"][1]) > 3
    _wait("GateViolationsOffTarget pending (for: 5m)",
          lambda: _query(prom, 'ALERTS{alertname="GateViolationsOffTarget"}'))
    assert not _query(prom, alerts["CalibrationMismatchesOffTarget"]["expr"])  # none: within target
    assert not _query(prom, alerts["LatencyP99High"]["expr"])  # stages well under a minute
    stages = {s["metric"]["pipeline_stage_name"] for s in _query(
        prom, alerts["LatencyP99High"]["expr"].rsplit(" > ", 1)[0])}
    assert {"manifest", "export", "plan_ingestion"} <= stages
    pushed = urllib.request.urlopen(f"{gateway}/metrics", timeout=3).read().decode()
    for metric in PIPELINE_METRICS:
        assert metric in pushed, metric
