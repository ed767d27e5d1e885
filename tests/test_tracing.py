"""Tasks as spans: the span model of a build, failures, exporters, metrics, logs, `ctx trace`."""

from __future__ import annotations

import base64
import json
import logging
import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from ctx_assets.build import run_build
from ctx_assets.contracts import semconv as sc
from ctx_assets.telemetry.providers import Telemetry
from tests.support.servers import free_port

from .conftest import CI, ROOT, registry_breaking_prometheus_rule
from .dagster_env import cli_env, edit, isolate, small_manifest


@pytest.fixture
def traced(monkeypatch, tmp_path):
    isolate(monkeypatch, tmp_path)
    exporter, reader = InMemorySpanExporter(), InMemoryMetricReader()
    Telemetry.install(Telemetry(extra_exporters=[exporter], metric_reader=reader))
    yield exporter, reader, tmp_path
    Telemetry.reset()


def _by_name(spans):
    out: dict[str, list] = {}
    for s in spans:
        out.setdefault(s.name, []).append(s)
    return out


def _events(span, name=sc.EVENT_GATE):
    return [e for e in span.events if e.name == name]


@pytest.fixture(scope="module")
def three_targets(tmp_path_factory):
    """One build of a 3-target manifest, traced in memory and (as always) into the local trace file: the
    span structure test and the trace file test read the same build (one in-process build fewer, ~3 s of CPU)."""
    tmp = tmp_path_factory.mktemp("three-targets")
    with pytest.MonkeyPatch.context() as monkeypatch:
        isolate(monkeypatch, tmp)
        exporter, reader = InMemorySpanExporter(), InMemoryMetricReader()
        Telemetry.install(Telemetry(extra_exporters=[exporter], metric_reader=reader))
        try:
            s = run_build(small_manifest(tmp), tmp / "out")
            spans, metrics = exporter.get_finished_spans(), reader.get_metrics_data()
        finally:
            Telemetry.reset()  # flush and close, as the CLI process does at exit
    return s, spans, metrics, tmp


def test_span_structure_of_a_three_target_build(three_targets):
    s, spans, metrics_data, tmp = three_targets
    assert s.ok
    assert len({sp.context.trace_id for sp in spans}) == 1  # one build, one trace
    names = _by_name(spans)
    (root,) = names[sc.SPAN_BUILD]
    a = root.attributes
    assert a[sc.TASK_TYPE] == "epic" and a[sc.CICD_PIPELINE_NAME] == "ctx-assets"
    assert a[sc.CICD_PIPELINE_RESULT] == "success" and a[sc.TASK_PERCENT_COMPLETE] == 100.0
    assert a[sc.PROJECT_ID] == "online-boutique" and len(a[sc.PIPELINE_MANIFEST_CHECKSUM]) == 64
    progress = [e.attributes[sc.TASK_PERCENT_COMPLETE] for e in _events(root, sc.EVENT_PROGRESS)]
    assert len(progress) == 21 and progress == sorted(progress) and progress[-1] == 100.0
    runs = names[sc.SPAN_RUN]
    assert len(runs) == 3  # shared stages, every artifact of the 3 targets in one run, output
    assert set(s.run_ids) == {r.attributes[sc.CICD_PIPELINE_RUN_ID] for r in runs}
    for stage in ("manifest", "export", "plan_ingestion", "artisan", "output"):
        assert stage in names, stage
        for sp in names[stage]:
            assert sp.attributes[sc.PIPELINE_STAGE_NAME] == stage and sp.attributes[sc.CICD_PIPELINE_TASK_NAME] == stage
            assert sp.attributes["baggage." + sc.BAGGAGE_PROJECT_ID] == "online-boutique"  # baggage crossed stages
    export_gates = {e.attributes[sc.GATE_NAME] for e in _events(names["export"][0])}
    assert export_gates == {"field_preservation", "derivation_coverage", "dependency_graph_acyclic", "secret_scan"}
    seed_events = {e.attributes[sc.GATE_NAME]: e for e in _events(names["plan_ingestion"][0])}
    assert seed_events["export_integrity"].attributes["checksum.source.expected"] == \
        seed_events["export_integrity"].attributes["checksum.source.actual"]

    artifacts = [sp for sp in spans if sp.name.startswith("artifact ")]
    assert len(artifacts) == 21
    by_id = {sp.attributes[sc.PIPELINE_ARTIFACT_ID]: sp for sp in artifacts}
    dash = by_id["svc-0001-dashboard"]
    assert dash.attributes[sc.PIPELINE_TARGET] == "svc-0001"
    assert dash.attributes[sc.PIPELINE_ARTIFACT_TYPE] == "dashboard"
    assert dash.attributes[sc.PIPELINE_ARTIFACT_LINES] > 150 and dash.attributes[sc.PIPELINE_OUTPUT_CHECKSUM]
    linked = {ln.context.span_id for ln in dash.links if ln.attributes[sc.LINK_TYPE] == sc.LINK_DEPENDS_ON}
    assert linked == {by_id["svc-0001-prometheus-rule"].context.span_id, by_id["svc-0001-loki-rule"].context.span_id}
    children = [sp for sp in spans if sp.parent and sp.parent.span_id == dash.context.span_id]
    assert sorted(c.name for c in children) == ["DESIGN", "IMPLEMENT"]
    impl = next(c for c in children if c.name == "IMPLEMENT")
    design = next(c for c in children if c.name == "DESIGN")
    assert impl.attributes[sc.PIPELINE_ARTIFACT_ID] == "svc-0001-dashboard"
    assert impl.attributes[sc.PIPELINE_STAGE_NAME] == "IMPLEMENT"  # the TraceQL query in docs/tracing.md
    (size,) = _events(dash, sc.EVENT_SIZE_ESTIMATE)
    assert size.timestamp <= impl.start_time and size.attributes["size.estimated_lines"] > 150
    assert {e.attributes[sc.GATE_NAME] for e in _events(design)} == {"size_estimate", "design_calibration"}
    calib = next(e for e in _events(design) if e.attributes[sc.GATE_NAME] == "design_calibration")
    assert calib.attributes["calibration.expected_tier"] == "comprehensive"
    assert {e.attributes[sc.GATE_NAME] for e in _events(impl)} == {"output_contract", "artifact_schema", "secret_scan"}
    prom_impl = next(sp for sp in spans if sp.name == "IMPLEMENT"
                     and sp.attributes[sc.PIPELINE_ARTIFACT_ID] == "svc-0001-prometheus-rule")
    assert "external_validators" in {e.attributes[sc.GATE_NAME] for e in _events(prom_impl)}
    assert all(e.attributes[sc.GATE_RESULT] == "passed" for sp in spans for e in _events(sp))  # passed ones too

    metrics = {m.name for rm in metrics_data.resource_metrics for sm in rm.scope_metrics for m in sm.metrics}
    assert {sc.METRIC_STAGE_DURATION, sc.METRIC_RUNS, sc.METRIC_RUN_DURATION} <= metrics
    logs = [json.loads(line) for line in (tmp / ".ctx/logs/ctx.jsonl").read_text().splitlines()]
    assert any(rec.get("trace_id") == f"{root.context.trace_id:032x}" and rec.get("span_id") for rec in logs)


def test_failing_build_error_status_exception_and_blocked_spans(traced, monkeypatch):
    exporter, reader, tmp = traced
    manifest = small_manifest(tmp)
    broken = registry_breaking_prometheus_rule("svc-0002")
    monkeypatch.setattr("ctx_assets.core.artisan.registry", lambda: broken)
    s = run_build(manifest, tmp / "out")
    assert not s.ok
    spans = exporter.get_finished_spans()
    assert len({sp.context.trace_id for sp in spans}) == 1
    root = _by_name(spans)[sc.SPAN_BUILD][0]
    assert root.status.status_code == StatusCode.ERROR and root.attributes[sc.CICD_PIPELINE_RESULT] == "failure"
    bad = next(sp for sp in spans if sp.attributes.get(sc.PIPELINE_ARTIFACT_ID) == "svc-0002-prometheus-rule"
               and sp.name.startswith("artifact "))
    assert bad.status.status_code == StatusCode.ERROR and _events(bad, "exception")
    failed = [e for sp in spans for e in _events(sp) if e.attributes[sc.GATE_RESULT] == "failed"]
    assert [e.attributes[sc.GATE_NAME] for e in failed] == ["artifact_schema"]
    assert failed[0].attributes[sc.gate_violation_field(0)] and failed[0].attributes[sc.GATE_BLOCKING] is True
    blocked = {sp.attributes[sc.PIPELINE_ARTIFACT_ID]: sp for sp in spans
               if sp.attributes.get(sc.TASK_STATUS) == sc.STATUS_BLOCKED}
    assert set(blocked) == {"svc-0002-dashboard", "svc-0002-notification-policy", "svc-0002-runbook"}
    assert blocked["svc-0002-dashboard"].attributes[sc.TASK_BLOCKED_BY] == \
        "artifact_schema on svc-0002-prometheus-rule"
    violations = {dp.attributes.get(sc.GATE_NAME): dp.value for rm in reader.get_metrics_data().resource_metrics
                  for sm in rm.scope_metrics for m in sm.metrics if m.name == sc.METRIC_GATE_VIOLATIONS
                  for dp in m.data.data_points}
    assert violations.get("artifact_schema", 0) >= 1


def test_invalid_manifest_build_still_leaves_one_trace(traced):
    exporter, _, tmp = traced
    manifest = small_manifest(tmp)
    edit(manifest, lambda d: d["spec"]["targets"][0].update(name="Bad Name"))
    s = run_build(manifest, tmp / "out")
    assert s.problems
    spans = exporter.get_finished_spans()
    assert len({sp.context.trace_id for sp in spans}) == 1
    stage = _by_name(spans)["manifest"][0]
    (gate,) = _events(stage)
    assert gate.attributes[sc.GATE_NAME] == "manifest_schema" and gate.attributes[sc.GATE_RESULT] == "failed"
    assert "spec.targets[0].name" in gate.attributes[sc.gate_violation_field(0)]


def test_no_secret_in_any_span_or_log(traced):
    exporter, _, tmp = traced
    manifest = small_manifest(tmp)
    secret = "hunter2hunter2"
    edit(manifest, lambda d: d["metadata"]["links"].update(repository=f"https://bot:{secret}@git.example.com/x"))
    s = run_build(manifest, tmp / "out")
    assert any(g["name"] == "secret_scan" for g in s.failed_gates)
    for sp in exporter.get_finished_spans():
        blob = json.dumps({"a": dict(sp.attributes), "e": [dict(e.attributes) for e in sp.events]}, default=str)
        assert secret not in blob, sp.name
    assert secret not in (tmp / ".ctx/logs/ctx.jsonl").read_text()
    assert not list((tmp / "out").rglob("*.json"))  # nothing written past the failed gate


def test_local_trace_file_and_ctx_trace(three_targets):
    s, _, _, tmp = three_targets
    assert s.ok
    env = {**os.environ, **cli_env(tmp)}  # three_targets' home and trace file (dagster_env.isolate's paths)
    trace_file = Path(env["CTX_TRACE_FILE"])
    lines = trace_file.read_text().splitlines()
    first = json.loads(lines[0])
    span = first["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
    assert len(span["traceId"]) == 32 and len(span["spanId"]) == 16  # OTLP/JSON: hex ids
    r = subprocess.run([sys.executable, "-m", "ctx_assets.cli", "trace", "--last"], capture_output=True, text=True,
                       env=env, cwd=ROOT, timeout=120)
    assert r.returncode == 0, r.stderr
    assert f"trace {s.trace_id}" in r.stdout and "ctx build" in r.stdout and "IMPLEMENT" in r.stdout
    r = subprocess.run([sys.executable, "-m", "ctx_assets.cli", "trace", s.run_ids[1], "--json"],
                       capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)
    out = json.loads(r.stdout)
    assert out["trace_id"] == s.trace_id and out["result"] == "success" and out["failed_gates"] == []


def test_backend_down_costs_one_warning_and_a_bounded_delay(monkeypatch, tmp_path, caplog):
    isolate(monkeypatch, tmp_path)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", f"http://127.0.0.1:{free_port()}")  # nothing listens
    Telemetry.reset()
    manifest = small_manifest(tmp_path, n=1)
    with caplog.at_level(logging.WARNING, logger="ctx_assets"):
        logging.getLogger("ctx_assets").addHandler(caplog.handler)
        start = time.monotonic()
        s = run_build(manifest, tmp_path / "out")
        Telemetry.reset()
        elapsed = time.monotonic() - start
    assert s.ok
    warnings = [r for r in caplog.records if "unreachable" in r.getMessage()]
    assert len(warnings) == 1
    assert elapsed < 120  # a hang guard, not a performance figure (that is in docs/benchmarks.md)


@pytest.mark.parametrize("protocol", ["http/protobuf", "grpc"])
def test_backend_down_is_one_warning_line_and_no_library_noise(tmp_path, protocol):
    """As a user sees it: `ctx build` with traces and metrics aimed at a closed port prints its progress
    and exactly one warning, none of the exporters' retry and batch-failure lines."""
    manifest = small_manifest(tmp_path, n=1)
    env = {**os.environ, **cli_env(tmp_path), "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{free_port()}",
           "OTEL_EXPORTER_OTLP_PROTOCOL": protocol}
    r = subprocess.run([sys.executable, "-m", "ctx_assets.cli", "build", str(manifest), "--out",
                        str(tmp_path / "out")], capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    others = [line for line in r.stderr.splitlines() if not line.startswith(("ctx build ", "  "))]
    assert len(others) == 1 and others[0].startswith("ctx: WARNING: telemetry backend http://127.0.0.1:"), others
    assert "unreachable" in others[0]


@pytest.fixture
def mlflow_server(tmp_path):
    try:
        import mlflow  # noqa: F401
    except ImportError:
        if CI:
            pytest.fail("mlflow (test extra) is required under CI=true")
        pytest.skip("mlflow not installed")
    port = free_port()
    exe = Path(sys.executable).with_name("mlflow")
    # One worker: the default four each import MLflow (~10 s of CPU apiece on two cores), for one client.
    proc = subprocess.Popen([str(exe), "server", "--host", "127.0.0.1", "--port", str(port), "--backend-store-uri",
                             f"sqlite:///{tmp_path}/mlflow.db", "--default-artifact-root", str(tmp_path / "art"),
                             "--workers", "1"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    import urllib.request

    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as resp:
                if resp.status == 200:
                    break
        except OSError:
            time.sleep(0.5)
    else:
        proc.kill()
        pytest.fail("mlflow server did not start")
    yield url
    proc.terminate()
    proc.wait(timeout=20)


def test_otlp_http_end_to_end_to_a_real_receiver(monkeypatch, tmp_path, mlflow_server):
    isolate(monkeypatch, tmp_path)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", mlflow_server)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", "x-mlflow-experiment-id=0")
    monkeypatch.setenv("OTEL_METRICS_EXPORTER", "none")  # MLflow takes traces only
    Telemetry.reset()
    manifest = small_manifest(tmp_path, n=2)  # with an open and a deferred question
    s = run_build(manifest, tmp_path / "out")
    Telemetry.reset()
    assert s.ok
    import mlflow

    client = mlflow.MlflowClient(mlflow_server)
    traces = [t for t in client.search_traces(locations=["0"]) if s.trace_id in t.info.trace_id]
    assert len(traces) == 1
    spans = [sp.to_dict() for sp in traces[0].data.spans]
    names = Counter(sp["name"] for sp in spans)
    assert names[sc.SPAN_BUILD] == 1 and names["IMPLEMENT"] == 14 and names["DESIGN"] == 14
    gate_events = Counter(e["attributes"]["gate.name"] for sp in spans for e in sp["events"]
                          if e["name"] == sc.EVENT_GATE)
    assert gate_events["output_contract"] == 14 and gate_events["manifest_schema"] == 1
    dash = next(sp for sp in spans if sp["name"] == "artifact svc-0001-dashboard")
    links = dash["links"]
    assert Counter(ln["attributes"]["link.type"] for ln in links) == {"depends_on": 2, "constrained_by": 1}
    # Question spans arrive under the build (open until it ends), linked to the artifacts they constrain and back.
    questions = {sp["name"]: sp for sp in spans if sp["name"].startswith(sc.SPAN_QUESTION + " ")}
    assert set(questions) == {"question Q-DASHBOARD-FORMAT", "question Q-ALERT-ROUTING"}
    q = questions["question Q-DASHBOARD-FORMAT"]
    root = next(sp for sp in spans if sp["name"] == sc.SPAN_BUILD)
    assert q["parent_span_id"] == root["span_id"]
    attrs = {k: json.loads(v) if isinstance(v, str) and v[:1] in '"[{' else v for k, v in q["attributes"].items()}
    assert attrs[sc.QUESTION_STATUS] == "open" and attrs[sc.QUESTION_PRIORITY] == "high"
    forward = {ln["attributes"][sc.PIPELINE_ARTIFACT_ID]: ln["span_id"] for ln in q["links"]}
    hex_id = {sp["name"]: base64.b64decode(sp["span_id"]).hex() for sp in spans}  # MLflow: base64 span ids
    assert forward == {f"svc-000{i}-dashboard": hex_id[f"artifact svc-000{i}-dashboard"] for i in (0, 1)}
    (back,) = [ln for ln in links if ln["attributes"]["link.type"] == sc.LINK_CONSTRAINED_BY]
    assert back["span_id"] == hex_id[q["name"]] and back["attributes"][sc.QUESTION_ID] == "Q-DASHBOARD-FORMAT"
