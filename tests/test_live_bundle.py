"""The plain bundle against a live Prometheus 2.42 and Alertmanager 0.25 (issue 19, item 6).

Its own scenario: five services of one project, 4 days of history backfilled with `promtool tsdb
create-blocks-from openmetrics`, then live scrapes of an exporter in this process that continues every
counter from where the history left it:

* `burst`   25 % 5xx for the last 10 minutes            → pages once (one alert, one notification)
* `leak`    0.5 % 5xx all along                           → tickets, never pages
* `slow`    p99 ≈ 0.75 s against 0.3 s, no errors         → the latency alert tickets
* `healthy` never a 5xx (no 5xx series at all)            → 100 %, burn 0, every panel has data
* `gone`    its scrape broke 10 minutes ago               → SLOMetricAbsent pages

The latency alert has `for: 10m`; the history holds its `ALERTS_FOR_STATE` as Prometheus writes it, so
the server restores the pending time at start (as after a restart) instead of the test waiting 10 minutes.
Prometheus and Alertmanager listen on 127.0.0.1 (Alertmanager's cluster listener off) and are stopped by
the test. Every notification goes to a webhook sink here that records which receiver it was sent for.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
import time
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml

from ctx_assets.core import conventions as cv
from ctx_assets.core.pipeline import build_without_orchestrator
from ctx_assets.core.project_bundle import ALERTMANAGER_PATH, OVERVIEW_PATH, PLAIN_RULES_DIR
from tests.support.servers import free_port

from .conftest import require, write_manifest
from .test_self_watch import _get, _query, _wait, stop_all

NS = "shop"
RPS = 10.0
HISTORY = 4 * 86400
STEP = 60
BURST_MINUTES, GONE_MINUTES = 10, 10
BUCKETS = (0.05, 0.1, 0.3, 0.5, 1.0)
FAST = (0.95, 0.995, 1.0, 1.0, 1.0)  # cumulative share of requests at or under each bucket
SLOW = (0.5, 0.7, 0.9, 0.98, 1.0)  # p99 = 0.5 + 0.5 × (0.99 - 0.98) / (1 - 0.98) = 0.75 s
TARGETS = ("burst", "leak", "slow", "healthy", "gone")

SCENARIO = {
    "apiVersion": "contextcore.io/v1alpha2", "kind": "ContextManifest",
    "metadata": {"name": "live-shop", "links": {"grafana": "http://127.0.0.1:3000"}},
    "spec": {
        "project": {"id": "live-shop"},
        "business": {"criticality": "critical"},
        "requirements": {"availability": "99.9", "latencyP99": "300ms"},
        "targets": [{"kind": "Deployment", "name": t, "namespace": NS} for t in TARGETS],
        "observability": {"metricsInterval": "1s", "alertChannels": ["#shop-alerts", "pagerduty:shop"],
                          "runbook": "https://runbooks.example.com/shop"},
    },
    "strategy": {"objectives": [{"id": "OBJ-SHOP", "description": "Shoppers get through", "keyResults": [
        {"metricKey": "shop_availability", "unit": "%", "target": 99.9, "targetOperator": "gte", "window": "30d",
         "dataSource": "prometheus"},
        {"metricKey": "browse_latency_p50", "unit": "ms", "target": 100, "targetOperator": "lte",
         "dataSource": "prometheus"},
        {"metricKey": "shop_throughput", "unit": "rps", "target": 40, "dataSource": "prometheus"},
    ]}]},
}


class Shop:
    """Every counter as a function of time, so the history and the live scrapes are one series each."""

    def __init__(self, end: float):
        self.start, self.end = end - HISTORY, end

    def error_share(self, target: str, t: float) -> float:
        if target == "burst":
            return 0.25 if t >= self.end - BURST_MINUTES * 60 else 0.0
        return 0.005 if target == "leak" else 0.0

    def errors(self, target: str, t: float) -> float:
        if target == "burst":
            return RPS * 0.25 * max(0.0, t - (self.end - BURST_MINUTES * 60))
        return RPS * self.error_share(target, t) * (t - self.start)

    def samples(self, target: str, t: float) -> dict[str, float]:
        total = RPS * (t - self.start)
        out = {f'{cv.REQUESTS_METRIC}{{{cv.STATUS_LABEL}="200"}}': total - self.errors(target, t)}
        if target in ("burst", "leak"):  # healthy and slow never had a 5xx: no such series exists
            out[f'{cv.REQUESTS_METRIC}{{{cv.STATUS_LABEL}="500"}}'] = self.errors(target, t)
        shares = SLOW if target == "slow" else FAST
        for le, share in (*zip(BUCKETS, shares, strict=True), ("+Inf", 1.0)):
            out[f'{cv.BUCKET_METRIC}{{{cv.STATUS_LABEL}="200",le="{le}"}}'] = total * share
        return out

    def scraped_until(self, target: str) -> float:
        return self.end - GONE_MINUTES * 60 if target == "gone" else self.end

    def openmetrics(self, instance: str, for_state: dict[str, str]) -> str:
        """The history as OpenMetrics: each metric's series together, samples in time order."""
        by_metric: dict[str, list[str]] = {}
        for target in TARGETS:
            extra = f'job="{target}",namespace="{NS}",instance="{instance}"'
            t = self.start
            while t <= self.scraped_until(target):
                for series, value in self.samples(target, t).items():
                    name, labels = series.split("{", 1)
                    by_metric.setdefault(name, []).append(f"{name}{{{extra},{labels} {value!r} {t:.0f}")
                t += STEP
        # The latency alert of `slow`, pending for 20 minutes when the history ends (written every 15 s).
        labels = ",".join(f'{k}="{v}"' for k, v in sorted(for_state.items()))
        active = self.end - 20 * 60
        by_metric["ALERTS_FOR_STATE"] = [f"ALERTS_FOR_STATE{{{labels}}} {active:.0f} {t:.0f}"
                                         for t in range(int(active), int(self.end), 15)]
        return "".join(line + "\n" for lines in by_metric.values() for line in lines) + "# EOF\n"

    def exposition(self, target: str, now: float) -> str:
        return "".join(f"{series} {value!r}\n" for series, value in self.samples(target, now).items())


class Sink:
    """Alertmanager's webhook notifications, by the receiver they were sent for (the URL path)."""

    def __init__(self):
        self.received: list[dict] = []
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                sink.received.append({"path": self.path.strip("/"), **body})
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]

    def to(self, receiver: str) -> list[dict]:
        return [n for n in self.received if n["path"] == receiver]


def _exporter(shop: Shop) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            target = self.path.rsplit("/", 1)[-1]
            if target not in TARGETS or target == "gone":
                self.send_response(503)  # the scrape that broke before the history ends
                self.end_headers()
                return
            body = shop.exposition(target, time.time()).encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    return ThreadingHTTPServer(("127.0.0.1", 0), Handler)


def _serve(server: ThreadingHTTPServer) -> threading.Thread:
    th = threading.Thread(target=server.serve_forever, daemon=True)
    th.start()
    return th


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    prom_bin, am_bin, promtool, amtool = (shutil.which(n) for n in ("prometheus", "prometheus-alertmanager",
                                                                   "promtool", "amtool"))
    require(prom_bin is not None and promtool is not None, "prometheus and promtool (Debian package prometheus)")
    require(am_bin is not None and amtool is not None,
            "prometheus-alertmanager and amtool (Debian package prometheus-alertmanager)")
    tmp = tmp_path_factory.mktemp("live")
    out = tmp / "bundle"
    run = build_without_orchestrator(write_manifest(tmp / "live-shop.contextcore.yaml", SCENARIO), out)
    assert not run.problems and not run.blocked, [g for g in run.all_gates() if g.blocks]

    sink, exporter = Sink(), None
    shop = Shop(end=float(int(time.time())))
    exporter = _exporter(shop)
    instance = f"127.0.0.1:{exporter.server_address[1]}"
    rules = {t: yaml.safe_load((out / PLAIN_RULES_DIR / f"{t}-rules.yaml").read_text()) for t in TARGETS}
    latency = next(a for a in rules["slow"]["groups"][1]["rules"] if a["alert"] == cv.LATENCY_ALERT)
    for_state = {"alertname": cv.LATENCY_ALERT, "job": "slow", "namespace": NS, **latency["labels"]}
    (tmp / "history.om").write_text(shop.openmetrics(instance, for_state))
    data = tmp / "prometheus-data"
    r = subprocess.run([promtool, "tsdb", "create-blocks-from", "openmetrics", "-q", str(tmp / "history.om"),
                        str(data)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr

    # The bundle's one Alertmanager configuration, its receivers' integrations pointed at the sink.
    am_config = yaml.safe_load((out / ALERTMANAGER_PATH).read_text())
    for receiver in am_config["receivers"]:
        for key in [k for k in receiver if k.endswith("_configs")]:
            del receiver[key]
        receiver["webhook_configs"] = [{"url": f"http://127.0.0.1:{sink.port}/{receiver['name']}",
                                        "send_resolved": False}]
    (tmp / "alertmanager.yml").write_text(yaml.safe_dump(am_config, sort_keys=False))
    check = subprocess.run([amtool, "check-config", str(tmp / "alertmanager.yml")], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr

    am_port, prom_port = free_port(), free_port()
    scrape = [{"job_name": t, "metrics_path": f"/metrics/{t}", "scrape_interval": "1s", "scrape_timeout": "1s",
               "static_configs": [{"targets": [instance], "labels": {"namespace": NS}}]} for t in TARGETS]
    (tmp / "prometheus.yml").write_text(yaml.safe_dump({
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(out / PLAIN_RULES_DIR / "*.yaml")],
        "alerting": {"alertmanagers": [{"static_configs": [{"targets": [f"127.0.0.1:{am_port}"]}]}]},
        "scrape_configs": scrape}, sort_keys=False))
    procs: list[subprocess.Popen] = []
    threads = [_serve(sink.server), _serve(exporter)]
    log = open(tmp / "servers.log", "w")  # noqa: SIM115 - closed below, after the servers stop
    try:
        procs.append(subprocess.Popen(
            [am_bin, f"--config.file={tmp / 'alertmanager.yml'}", f"--storage.path={tmp / 'am-data'}",
             f"--web.listen-address=127.0.0.1:{am_port}", "--cluster.listen-address="],
            stdout=log, stderr=subprocess.STDOUT))
        procs.append(subprocess.Popen(
            [prom_bin, f"--config.file={tmp / 'prometheus.yml'}", f"--storage.tsdb.path={data}",
             f"--web.listen-address=127.0.0.1:{prom_port}",
             # The burn alerts fire at the first evaluation, before Prometheus has found its Alertmanager,
             # and that first send is lost; the next comes after the resend delay (1m by default).
             "--rules.alert.resend-delay=1s"], stdout=log, stderr=subprocess.STDOUT))
        prom, am = f"http://127.0.0.1:{prom_port}", f"http://127.0.0.1:{am_port}"
        for url in (prom, am):
            _wait(f"{url}/-/ready", lambda u=url: urllib.request.urlopen(f"{u}/-/ready", timeout=2).status == 200,
                  60, why=lambda: (tmp / "servers.log").read_text()[-3000:])
        yield {"prom": prom, "am": am, "sink": sink, "shop": shop, "out": out, "run": run, "tmp": tmp}
    finally:
        stop_all(procs)
        for server in (sink.server, exporter):
            server.shutdown()
            server.server_close()
        for th in threads:
            th.join(timeout=5)
        log.close()


def _value(prom: str, q: str) -> float | None:
    res = _query(prom, q)
    return float(res[0]["value"][1]) if res else None


def _notified(live, receiver: str, alertname: str) -> list[dict]:
    return [n for n in live["sink"].to(receiver) if n["groupLabels"].get("alertname") == alertname
            or any(a["labels"]["alertname"] == alertname for a in n["alerts"])]


def test_every_notification_reaches_its_receiver(live):
    """One wait for the four notifications (the bundle's group_wait, 30 s), then what each receiver got."""
    prom, am = live["prom"], live["am"]
    want = {("burst-page", cv.PAGE_ALERT), ("leak-ticket", cv.TICKET_ALERT), ("slow-ticket", cv.LATENCY_ALERT),
            ("gone-page", cv.ABSENT_ALERT)}

    def arrived():
        return all(_notified(live, r, a) for r, a in want)

    _wait("the page, the two tickets and the absent page at their receivers", arrived, 150,
          why=lambda: json.dumps({"received": [(n["path"], [a["labels"]["alertname"] for a in n["alerts"]])
                                               for n in live["sink"].received],
                                  "alerts": _get(f"{prom}/api/v1/alerts")["data"]["alerts"],
                                  "am": _get(f"{am}/api/v2/alerts")}, indent=1)[-6000:])
    # A burst pages once: one alert (one series) in one group, not one per window pair.
    pages = live["sink"].to("burst-page")
    assert {n["groupKey"] for n in pages} == {pages[0]["groupKey"]}
    assert all(len(n["alerts"]) == 1 and n["alerts"][0]["labels"]["alertname"] == cv.PAGE_ALERT for n in pages)
    assert _query(prom, 'ALERTS{job="burst",alertstate="firing",alertname=~"ErrorBudgetBurn.*"}')[0]["metric"][
        "alertname"] == cv.PAGE_ALERT and len(_query(prom, 'ALERTS{job="burst",alertstate="firing"}')) == 1
    # The slow leak tickets and never pages.
    assert not live["sink"].to("leak-page")
    assert not _query(prom, f'ALERTS{{job="leak",alertname="{cv.PAGE_ALERT}"}}')
    # The latency ticket was not inhibited by anyone's page, and the healthy service is silent.
    assert not _query(prom, 'ALERTS{job="healthy"}')
    assert not live["sink"].to("healthy-page") and not live["sink"].to("healthy-ticket")
    assert not live["sink"].to("live-shop-default")  # every alert matched its target's route


def test_healthy_zero_error_service_is_100_percent_with_burn_0(live):
    prom = live["prom"]
    sel = '{job="healthy",namespace="shop"}'
    _wait("the healthy service's records", lambda: _query(prom, f"{cv.BUDGET_REMAINING_RECORD}{sel}"), 60)
    for window in ("5m", "1h", "1d", "3d", "30d"):
        assert _value(prom, f"{cv.error_ratio_record(window)}{sel}") == 0, window
    assert _value(prom, f"1 - {cv.error_ratio_record('30d')}{sel}") == 1  # Availability (30d): 100 %
    assert _value(prom, f"{cv.CURRENT_BURN_RECORD}{sel}") == 0
    assert _value(prom, f"{cv.PERIOD_BURN_RECORD}{sel}") == 0
    assert _value(prom, f"{cv.BUDGET_REMAINING_RECORD}{sel}") == 1


def test_period_figures_are_true_from_the_history_prometheus_holds(live):
    """Minutes after start, with almost no 5m ratios recorded, the period figures already follow the counters:
    the leak's availability is 99.5 %, and the burst's budget is what 10+ minutes of 25 % errors out of 4
    days cost (the mean of recorded 5m ratios would say the budget is long gone)."""
    prom, shop = live["prom"], live["shop"]
    sel = '{job="leak",namespace="shop"}'
    _wait("the period records", lambda: _query(prom, f"{cv.error_ratio_record('30d')}{sel}"), 60)
    assert _value(prom, f"1 - {cv.error_ratio_record('30d')}{sel}") == pytest.approx(0.995, abs=1e-4)
    now = time.time()
    burst_minutes = BURST_MINUTES + (now - shop.end) / 60
    true_ratio = 0.25 * burst_minutes / ((now - shop.start) / 60)
    remaining = _value(prom, cv.BUDGET_REMAINING_RECORD + '{job="burst",namespace="shop"}')
    assert remaining == pytest.approx(1 - true_ratio / 0.001, abs=0.1)  # ≈ 0.5, not −16,000 %
    assert remaining > 0


def test_every_dashboard_query_returns_data(live):
    """Each Prometheus query of every target dashboard of a service with traffic, and of the overview."""
    prom, out = live["prom"], live["out"]
    _wait("the recording rules", lambda: _query(prom, f'{cv.BUDGET_REMAINING_RECORD}{{job="burst"}}'), 60)
    dashboards = {t: json.loads((out / f"grafana/dashboards/{t}-dashboard.json").read_text())
                  for t in TARGETS if t != "gone"}
    dashboards["overview"] = json.loads((out / OVERVIEW_PATH).read_text())
    empty = []
    for name, dash in dashboards.items():
        for panel in dash["panels"]:
            if panel.get("datasource", {}).get("type") != "prometheus":
                continue
            for target in panel.get("targets", []):
                expr = (target["expr"].replace("$__rate_interval", "1m").replace("$target", "burst")
                        .replace("$namespace", NS))
                if not _query(prom, expr):
                    empty.append((name, panel["title"], expr))
    assert not empty, empty
    assert sum(len(d["panels"]) for d in dashboards.values()) > 40


def test_the_generated_config_files_are_what_runs(live):
    """What the servers run is the bundle: the rule files as written, the routes and inhibitions as written."""
    prom, out = live["prom"], live["out"]
    groups = _get(f"{prom}/api/v1/rules")["data"]["groups"]
    loaded = {g["file"].rsplit("/", 1)[-1] for g in groups}
    assert loaded == {f"{t}-rules.yaml" for t in TARGETS}
    assert all(r.get("health") == "ok" for g in groups for r in g["rules"]), [
        (r["name"], r.get("lastError")) for g in groups for r in g["rules"] if r.get("health") != "ok"]
    assert (out / ALERTMANAGER_PATH).exists() and Path(live["tmp"] / "alertmanager.yml").exists()
    assert urllib.parse.urlsplit(prom).hostname == "127.0.0.1"
