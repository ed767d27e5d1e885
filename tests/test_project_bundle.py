"""The bundle deploys as one unit (issue 19, items 4, 5 and 7): with prometheus-operator (kustomization.yaml,
AlertmanagerConfig resources, dashboards as ConfigMaps) and without it (one alertmanager.yml, plain rule
files, Grafana provisioning); key results on the dashboards they belong to and on the project overview."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections import Counter

import pytest
import yaml

from ctx_assets.core import conventions as cv
from ctx_assets.core.pipeline import build_without_orchestrator
from ctx_assets.core.project_bundle import ALERTMANAGER_PATH, KUSTOMIZATION_PATH, OVERVIEW_PATH
from ctx_assets.core.routing import route_receivers

from .bundles import bundle
from .conftest import EXAMPLE, SHARED, manifest_with_targets, require, write_manifest


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    """The example's whole bundle on disk, as `ctx export --artifacts` writes it."""
    out = tmp_path_factory.mktemp("bundle") / "online-boutique"
    run = build_without_orchestrator(EXAMPLE, out)
    assert not run.blocked and (out / KUSTOMIZATION_PATH).exists()
    return out, run


def _tool(name: str) -> str:
    path = shutil.which(name)
    require(path is not None, f"{name} (Debian package {'kubectl' if name == 'kubectl' else 'prometheus'})")
    return path


@pytest.mark.full  # an external tool or a Dagster run
def test_kubectl_kustomize_prints_every_kubernetes_artifact_once(written):
    out, run = written
    r = subprocess.run([_tool("kubectl"), "kustomize", str(out)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    # kubectl prints the matchType `=` bare, which YAML reads as the value tag: read it as the string it is
    loader = type("Loader", (yaml.SafeLoader,), {})
    loader.add_constructor("tag:yaml.org,2002:value", lambda ld, node: ld.construct_scalar(node))
    docs = [d for d in yaml.load_all(r.stdout, Loader=loader) if d]  # noqa: S506
    keys = Counter((d["kind"], d["metadata"]["namespace"], d["metadata"]["name"]) for d in docs)
    assert max(keys.values()) == 1  # each once
    kinds = Counter(k for k, _, _ in keys)
    assert kinds == {"ServiceMonitor": 11, "PrometheusRule": 11, "AlertmanagerConfig": 11, "ConfigMap": 12}
    expected = {a.document["metadata"]["name"] for a in run.artifacts
                if a.artifact_type in ("service_monitor", "prometheus_rule", "notification_policy")}
    assert expected == {n for k, _, n in keys if k != "ConfigMap"}
    for d in docs:  # a dashboard ConfigMap carries the very dashboard file, for the Grafana sidecar
        if d["kind"] == "ConfigMap":
            assert d["metadata"]["labels"]["grafana_dashboard"] == "1"
            ((name, body),) = d["data"].items()
            path = out / ("grafana/dashboards/" + name)
            assert body == path.read_text()


def test_operator_bundle_validates_against_the_crds(written):
    require((SHARED / "schemas").is_dir(), "upstream schemas at ../shared/schemas")
    from .test_conformance import _crd_validator, _errors

    out, _ = written
    crds = {"ServiceMonitor": "servicemonitors.crd.yaml", "PrometheusRule": "prometheusrules.crd.yaml",
            "AlertmanagerConfig": "alertmanagerconfigs.crd.yaml"}
    listed = yaml.safe_load((out / KUSTOMIZATION_PATH).read_text())["resources"]
    seen = Counter()
    for rel in listed:
        doc = yaml.safe_load((out / rel).read_text())
        seen[doc["kind"]] += 1
        if doc["kind"] in crds:
            assert _errors(_crd_validator(crds[doc["kind"]]), doc) == [], rel
    assert set(seen) == {*crds, "ConfigMap"}


@pytest.mark.full  # an external tool or a Dagster run
def test_one_alertmanager_config_routes_every_target_and_passes_amtool(written):
    out, run = written
    amtool = _tool("amtool")
    path = out / ALERTMANAGER_PATH
    r = subprocess.run([amtool, "check-config", str(path)], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    doc = yaml.safe_load(path.read_text())
    assert doc["route"]["receiver"] == "online-boutique-default"  # project-level, not a target's
    targets = sorted({a.target for a in run.artifacts})
    assert len(doc["route"]["routes"]) == len(targets) == 11
    for t in targets:
        for severity, receiver in (("critical", f"{t}-page"), ("warning", f"{t}-ticket")):
            labels = {"job": t, "namespace": "boutique", "severity": severity}
            rt = subprocess.run([amtool, "config", "routes", "test", f"--config.file={path}",
                                 f"--verify.receivers={receiver}", *[f"{k}={v}" for k, v in labels.items()]],
                                capture_output=True, text=True)
            assert rt.returncode == 0, (t, severity, rt.stdout)
            assert route_receivers(doc["route"], labels) == [receiver]
    assert route_receivers(doc["route"], {"job": "unknown", "severity": "critical"}) == ["online-boutique-default"]


@pytest.mark.full  # an external tool or a Dagster run
def test_plain_rule_files_load_in_one_promtool_run(written):
    out, _ = written
    files = sorted((out / "prometheus" / "plain").glob("*-rules.yaml"))
    assert len(files) == 11
    r = subprocess.run([_tool("promtool"), "check", "rules", *map(str, files)], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.count("SUCCESS") == 11


def test_grafana_provisioning_points_at_the_dashboards(written):
    out, _ = written
    prov = yaml.safe_load((out / "grafana/provisioning/dashboards/online-boutique.yaml").read_text())
    (provider,) = prov["providers"]
    assert prov["apiVersion"] == 1 and provider["type"] == "file" and provider["folder"] == "featured"
    assert provider["options"]["path"].endswith("/online-boutique")


def _exprs(dash: dict) -> dict[str, list[str]]:
    return {p["title"]: [t["expr"] for t in p.get("targets", []) if "expr" in t] for p in dash["panels"]}


def test_project_key_results_on_the_overview_only(written):
    out, run = written
    overview = json.loads((out / OVERVIEW_PATH).read_text())
    titles = [p["title"] for p in overview["panels"]]
    kpis = [t for t in titles if t.startswith("KPI ")]
    assert [t.split(" ")[1] for t in kpis] == ["checkout_availability", "checkout_latency_p99",
                                               "frontend_latency_p50", "catalog_throughput"]
    exprs = _exprs(overview)
    throughput = next(e for t, e in exprs.items() if t.startswith("KPI catalog_throughput"))[0]
    assert 'job=~"frontend|cartservice|' in throughput  # over the project, not one target's metrics
    for a in run.artifacts:
        if a.artifact_type == "dashboard":
            assert not any(p["title"].startswith("KPI ") for p in json.loads(a.content)["panels"]), a.artifact_id
    assert "Availability (30d)" in titles and any(t.startswith("Error budget remaining") for t in titles)


def test_bound_key_results_go_to_their_targets_and_nothing_queries_an_unrecorded_series(tmp_path):
    data = manifest_with_targets(3)
    data["strategy"]["objectives"] = [{"id": "O", "description": "x", "keyResults": [
        {"metricKey": "queue_depth", "unit": "count", "target": 10, "targetOperator": "lte",
         "dataSource": 'promql:max(queue_depth{job="svc-0001"})'},  # names one target
        {"metricKey": "cart_size", "unit": "count", "target": 3, "targetOperator": "gte",
         "dataSource": 'promql:avg(cart_items{namespace="$namespace",job="$target"})'},  # every target
        {"metricKey": "signups", "unit": "count", "target": 100, "dataSource": "prometheus"},  # no query
    ]}]
    data["strategy"]["tactics"] = []
    run = build_without_orchestrator(write_manifest(tmp_path / "m.yaml", data), None, write=False)
    assert not run.blocked
    kpis = {a.target: [p["title"].split(" ")[1] for p in json.loads(a.content)["panels"]
                       if p["title"].startswith("KPI ")] for a in run.artifacts if a.artifact_type == "dashboard"}
    assert kpis == {"svc-0000": ["cart_size"], "svc-0001": ["queue_depth", "cart_size"], "svc-0002": ["cart_size"]}
    overview = json.loads(run.project_files[OVERVIEW_PATH])
    signups = next(p for p in overview["panels"] if p["title"].startswith("KPI signups"))
    assert signups["type"] == "text" and "names no query" in signups["options"]["content"]
    cart = next(p for p in overview["panels"] if p["title"].startswith("KPI cart_size"))
    assert cart["targets"][0]["expr"] == 'avg(cart_items{namespace="$namespace",job="$target"})'  # variables
    assert {v["name"] for v in overview["templating"]["list"]} == {"datasource", "target", "namespace"}
    # Every series a Prometheus panel queries: a generated record, the HTTP semconv metrics the ServiceMonitors
    # scrape, or a metric a key result's own query names. No `kpi:` series nobody records.
    records = {r["record"] for a in run.artifacts if a.artifact_type == "prometheus_rule"
               for g in yaml.safe_load(a.content)["spec"]["groups"] for r in g["rules"] if "record" in r}
    scraped = {cv.REQUESTS_METRIC, cv.BUCKET_METRIC, "queue_depth", "cart_items"}
    dashboards = [json.loads(a.content) for a in run.artifacts if a.artifact_type == "dashboard"] + [overview]
    for dash in dashboards:
        for p in dash["panels"]:
            if p.get("datasource", {}).get("type") != "prometheus":
                continue
            for t in p.get("targets", []):
                names = set(re.findall(r"([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(?:\{|\[)", t["expr"])) - {"by", "without"}
                assert names <= records | scraped, (dash["title"], p["title"], names - records - scraped)


def test_links_are_absolute_with_a_base_and_relative_without(written, tmp_path):
    _, run = written
    rules = next(a for a in run.artifacts if a.artifact_type == "prometheus_rule").document
    for alert in rules["spec"]["groups"][1]["rules"]:
        assert alert["annotations"]["runbook_url"].startswith("https://wiki.example.com/boutique/runbooks/")
        assert alert["annotations"]["dashboard_url"].startswith("https://grafana.example.com/d/ctx-")
    bare = build_without_orchestrator(write_manifest(tmp_path / "m.yaml", manifest_with_targets(1, {
        "apiVersion": "contextcore.io/v1alpha2", "kind": "ContextManifest", "metadata": {"name": "bare"},
        "spec": {"targets": []}})), None, write=False)
    dash = json.loads(next(a for a in bare.artifacts if a.artifact_type == "dashboard").content)
    assert dash["links"][0]["url"] == "runbooks/svc-0000-runbook.md"  # no base given: the bundle's own path


def test_project_files_follow_the_built_artifacts():
    run = bundle("example")
    assert {ALERTMANAGER_PATH, KUSTOMIZATION_PATH, OVERVIEW_PATH} <= set(run.project_files)
    checksum = run.source_checksum
    assert all(checksum.encode() in body for rel, body in run.project_files.items() if rel.endswith(".yaml"))


def test_the_document_cache_gives_the_same_bundle_files_without_rendering_a_policy_again(written, tmp_path,
                                                                                          monkeypatch):
    """After an edit, provenance regenerates alertmanager.yml from every target's notification policy: their
    documents come from the content-addressed cache of the last build, not from rendering (or parsing) again."""
    import ctx_assets.core.generators as generators
    import ctx_assets.core.project_bundle as pb
    from ctx_assets.core.doc_cache import DocumentCache

    out, run = written

    def read(rel: str) -> bytes | None:
        return (out / rel).read_bytes() if (out / rel).is_file() else None

    cache = tmp_path / "documents.json"
    first = DocumentCache(cache)
    made = pb.project_files(run.seed, read, documents=first)
    first.save()
    assert first.used and made[ALERTMANAGER_PATH] == run.project_files[ALERTMANAGER_PATH]

    def no_rendering(*_a, **_k):
        raise AssertionError("rendered or parsed an artifact the cache holds")

    monkeypatch.setattr(generators, "registry", no_rendering)
    monkeypatch.setattr(pb, "_yaml", no_rendering)
    assert pb.project_files(run.seed, read, documents=DocumentCache(cache)) == made
