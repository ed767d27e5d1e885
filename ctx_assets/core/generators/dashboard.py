"""Grafana dashboard (built with grafana-foundation-sdk): SLO stats, burn rates, RED, KPIs, logs.

Layout is computed on a 24-column grid row by row, so panels never overlap and
ids and positions are stable; the uid is derived from project and target.
"""

from __future__ import annotations

from typing import Any, ClassVar

import orjson
from grafana_foundation_sdk.builders import dashboard as gd
from grafana_foundation_sdk.builders import logs, loki, prometheus, stat, text, timeseries
from grafana_foundation_sdk.models.dashboard import DashboardLinkType, DataSourceRef, GridPos, ThresholdsMode
from grafana_foundation_sdk.models.dashboard import Threshold as GThreshold
from grafana_foundation_sdk.models.text import TextMode

from ctx_assets.contracts.artifacts import ArtifactType

from .. import conventions as cv
from .. import slo_math as sm
from ..escape import json_controls
from ..sli import belongs_to, has_range, source_query, substitute, with_window
from ..units import is_availability_metric, matcher
from ._common import designed
from .base import Design, Rendered
from .schemas import check_dashboard

PROM = DataSourceRef(type_val="prometheus", uid="${datasource}")
LOKI = DataSourceRef(type_val="loki", uid="${loki}")
_WIDTH = 24


def kpi_query(kr: dict[str, Any], sel: str, target: str | None = None, namespace: str | None = None,
              period: str | None = None) -> tuple[str, str] | None:
    """(PromQL, unit) for a key result: its own query (base units, shown in its unit), else — when it names
    no query — the HTTP semconv figure its name stands for over `sel` (the project overview's selector).
    None when neither exists: no panel may query a series nothing records or scrapes."""
    key, unit = kr["metricKey"].lower(), kr["unit"]
    scale = {"ms": " * 1000", "rpm": " * 60"}.get(unit, "")
    if q := source_query(kr.get("dataSource")):
        if target is not None and namespace is not None:
            q = substitute(q, target, namespace)
        if unit == "%":
            return f"100 * ({q})", "percent"
        return (f"({q}){scale}" if scale else q), {"ms": "ms", "s": "s", "rps": "reqps", "rpm": "rpm"}.get(unit, "none")
    w = kr.get("window") or period or "30d"
    if is_availability_metric(key):
        total = f"sum(rate({cv.REQUESTS_METRIC}{{{sel}}}[{w}]))"
        return (f"100 * (1 - (sum(rate({cv.REQUESTS_METRIC}{{{sel},{cv.ERROR_MATCHER}}}[{w}])) or 0 * {total}) / "
                f"{total})", "percent")
    for q in ("99", "95", "90", "50"):
        if "latency" in key and f"p{q}" in key:
            return (f"histogram_quantile(0.{q}, sum by (le) (rate({cv.BUCKET_METRIC}{{{sel}}}[5m]))){scale}",
                    "ms" if unit == "ms" else "s")
    if unit in ("rps", "rpm") or "throughput" in key:
        return f"sum(rate({cv.REQUESTS_METRIC}{{{sel}}}[5m])){scale}", "reqps" if unit != "rpm" else "rpm"
    return None


def kpi_title(kr: dict[str, Any]) -> str:
    title = f"KPI {kr['metricKey']} ({kr['targetOperator']} {kr['target']}{kr['unit']}"
    return title + (f", {kr['window']})" if kr.get("window") else ")")


def kpi_panel(kr: dict[str, Any], query: tuple[str, str] | None) -> tuple[Any, int]:
    if query is None:
        return (text.Panel().title(kpi_title(kr)).mode(TextMode.MARKDOWN).content(
            f"`{kr['metricKey']}` (objective {kr.get('objectiveId', '')}) names no query: add "
            "`dataSource: \"promql:…\"` to the key result to chart it."), 4)
    expr, unit = query
    good_above = kr["targetOperator"] != "lte"
    th = _thresholds("red" if good_above else "green", [(kr["target"], "green" if good_above else "red")])
    return (stat.Panel().title(kpi_title(kr)).unit(unit).thresholds(th).datasource(PROM)
            .with_target(prom_query(expr, kr["metricKey"])), 4)


def prom_query(expr: str, legend: str, ref: str = "A") -> prometheus.Dataquery:
    return prometheus.Dataquery().expr(expr).legend_format(legend).ref_id(ref).datasource(PROM)


def _thresholds(base: str, steps: list[tuple[float, str]]) -> gd.ThresholdsConfig:
    return gd.ThresholdsConfig().mode(ThresholdsMode.ABSOLUTE).steps(
        [GThreshold(value=None, color=base)] + [GThreshold(value=v, color=c) for v, c in steps])


class DashboardGenerator:
    artifact_type: ClassVar[ArtifactType] = ArtifactType.dashboard
    code_version: ClassVar[str] = "2"  # issue 19: period figures, Sloth records, bound key results, absolute links

    def design(self, task: dict[str, Any], source_checksum: str) -> Design:
        p = task["resolved_parameters"]
        rows = [["objective", "availability", "budget", "runbook"], ["burn", "requests"], ["errors", "latency"]]
        # Only the key results this target belongs to (sli.bound_targets); the rest are on the project overview.
        krs = [i for i, kr in enumerate(p.get("key_results", [])) if belongs_to(kr, p["target"])]
        rows += [[f"kpi:{i}" for i in krs[j:j + 4]] for j in range(0, len(krs), 4)]
        rows += [["log_rates"], ["error_logs"]]
        factors = sorted({c.factor for c in sm.burn_conditions(p.get("window"))})
        return designed(task, source_checksum, {"rows": rows, "budget": round(1 - p["objective"], 10),
                                                "factors": factors, "period": sm.period_name(p.get("window")),
                                                "window": p.get("window") or sm.DEFAULT_PERIOD})

    def implement(self, d: Design) -> Rendered:
        p, plan = d.params, d.plan
        sel, budget = p["selector"], plan["budget"]
        loki_sel = "{" + f'{matcher("namespace", p["namespace"])}, {matcher("app", p["target"])}' + "}"
        error_filter = '| json | level=~"(?i)(error|fatal)"'

        prom = prom_query

        def panel(key: str) -> tuple[Any, int]:
            """Builder and height for a panel key of the design."""
            if key == "objective":
                return (stat.Panel().title("SLO objective").unit("percentunit").decimals(3)
                        .with_target(prom(f"vector({p['objective']})", "objective")), 4)
            if key == "availability":
                return (stat.Panel().title(f"Availability ({plan['window']})").unit("percentunit")
                        .decimals(3).thresholds(_thresholds("red", [(p["objective"], "green")]))
                        .with_target(prom(f"1 - {cv.error_ratio_record(plan['period'])}{{{sel}}}", "availability")), 4)
            if key == "budget":
                return (stat.Panel().title(f"Error budget remaining ({plan['window']})").unit("percentunit")
                        .thresholds(_thresholds("red", [(0, "orange"), (0.25, "green")]))
                        .with_target(prom(f"{cv.BUDGET_REMAINING_RECORD}{{{sel}}}", "remaining")), 4)
            if key == "runbook":
                md = (f"**Runbook:** [{p['target']} runbook]({p['runbook_path']})\n\n"
                      f"`{cv.ANNOTATION_ARTIFACT_ID}: {d.artifact_id}`  \n"
                      f"`{cv.ANNOTATION_SOURCE_CHECKSUM}: {d.source_checksum[:12]}…`")
                return text.Panel().title("Runbook and provenance").mode(TextMode.MARKDOWN).content(md), 4
            if key == "burn":
                f = plan["factors"]  # the period's burn factors (slo_math): ticket, then page thresholds
                ts = timeseries.Panel().title("Burn rate (× error budget)").unit("x").thresholds(
                    _thresholds("green", [(f[0], "yellow"), (f[1], "orange"), (f[-1], "red")]))
                for i, w in enumerate(("1h", "6h", "1d", "3d")):
                    ts = ts.with_target(prom(f"{cv.error_ratio_record(w)}{{{sel}}} / {budget}", w, "ABCD"[i]))
                ts = ts.with_target(prom(f"{cv.PERIOD_BURN_RECORD}{{{sel}}}", plan["period"], "E"))
                return ts, 8
            if key == "requests" and p.get("sli_query"):  # a key result's query is the SLI: show it
                q = p["sli_query"]
                return (timeseries.Panel().title("SLI: good fraction (key result query)").unit("percentunit")
                        .thresholds(_thresholds("red", [(p["objective"], "green")]))
                        .with_target(prom(with_window(q, "$__rate_interval") if has_range(q) else q, "good")), 8)
            if key == "requests":
                return (timeseries.Panel().title("Request rate").unit("reqps").with_target(
                    prom(f"sum(rate({cv.REQUESTS_METRIC}{{{sel}}}[$__rate_interval]))", "requests/s")), 8)
            if key == "errors":
                title = "Error ratio (1 - SLI)" if p.get("sli_query") else "Errors (5xx ratio)"
                return (timeseries.Panel().title(title).unit("percentunit")
                        .with_target(prom(f"{cv.error_ratio_record('5m')}{{{sel}}}", "error ratio"))
                        .thresholds(_thresholds("green", [(budget, "red")])), 8)
            if key == "latency" and p.get("latency_query"):
                q = p["latency_query"]
                ts = timeseries.Panel().title("Latency (key result query)").unit("s").with_target(
                    prom(with_window(q, "$__rate_interval") if has_range(q) else q, "__auto"))
                return ts.thresholds(_thresholds("green", [(p["latency_p99_seconds"], "red")])), 8
            if key == "latency":
                ts = timeseries.Panel().title("Duration p50 / p99").unit("s")
                for i, q in enumerate(("0.5", "0.99")):
                    ts = ts.with_target(prom(f"histogram_quantile({q}, sum by (le) (rate({cv.BUCKET_METRIC}"
                                             f"{{{sel}}}[$__rate_interval])))", f"p{q[2:] or '50'}", "AB"[i]))
                if p.get("latency_p99_seconds"):
                    ts = ts.thresholds(_thresholds("green", [(p["latency_p99_seconds"], "red")]))
                return ts, 8
            if key.startswith("kpi:"):
                kr = p["key_results"][int(key[4:])]
                return kpi_panel(kr, kpi_query(kr, sel, p["target"], p["namespace"]))
            if key == "log_rates":
                ts = timeseries.Panel().title("Logs: lines and errors per second").datasource(LOKI)
                for i, (q, legend) in enumerate(((f"sum(rate({loki_sel} [$__auto]))", "lines"),
                                                  (f"sum(rate({loki_sel} {error_filter} [$__auto]))", "errors"))):
                    ts = ts.with_target(loki.Dataquery().expr(q).legend_format(legend).ref_id("AB"[i])
                                        .datasource(LOKI))
                return ts, 8
            if key == "error_logs":
                return (logs.Panel().title("Logs: errors").datasource(LOKI).with_target(
                    loki.Dataquery().expr(f"{loki_sel} {error_filter}").ref_id("A").datasource(LOKI)), 10)
            raise ValueError(f"unknown panel {key!r}")

        b = (gd.Dashboard(p["title"]).uid(p["uid"]).editable().refresh(p["refresh"]).time("now-6h", "now")
             .timezone("browser")
             .description(f"{cv.ANNOTATION_ARTIFACT_ID}={d.artifact_id} "
                          f"{cv.ANNOTATION_SOURCE_CHECKSUM}={d.source_checksum}")
             .tags(["contextcore", f"placement:{p['placement']}", p["project_id"], p["target"],
                    f"{cv.ANNOTATION_ARTIFACT_ID}:{d.artifact_id}", f"{cv.ANNOTATION_SOURCE_CHECKSUM}:"
                    f"{d.source_checksum}"])
             .with_variable(gd.DatasourceVariable("datasource").label("Prometheus").type("prometheus"))
             .with_variable(gd.DatasourceVariable("loki").label("Loki").type("loki"))
             .link(gd.DashboardLink("Runbook").type(DashboardLinkType.LINK).url(p["runbook_path"])
                   .tooltip(f"{p['target']} runbook").target_blank(True)))
        y, pid = 0, 1
        for row in plan["rows"]:
            width = _WIDTH // len(row)
            height = 0
            for i, key in enumerate(row):
                builder, h = panel(key)
                if key not in ("log_rates", "error_logs", "runbook") and not key.startswith("kpi:"):
                    builder = builder.datasource(PROM)
                builder = builder.id(pid).grid_pos(GridPos(h=h, w=width, x=i * width, y=y))
                b = b.with_panel(builder)
                pid += 1
                height = max(height, h)
            y += height
        # The SDK's to_json() is shallow; orjson calls it for every nested SDK object.
        doc = orjson.loads(orjson.dumps(b.build(), default=lambda o: o.to_json()))
        doc["schemaVersion"] = 39
        doc["annotations"] = {"list": []}
        body = json_controls(orjson.dumps(doc, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS))
        return Rendered(body + b"\n", doc)

    def check_schema(self, r: Rendered) -> list[tuple[str, str]]:
        return check_dashboard(r.document)
