"""PrometheusRule: SLO error-ratio recording rules and multiwindow, multi-burn-rate alerts.

The alerting scheme is the SRE workbook's (ch. 5, "Alerting on SLOs"), as Sloth
and Pyrra generate it: page at 14.4× over 1h and 5m or 6× over 6h and 30m;
ticket at 3× over 1d and 2h or 1× over 3d and 6h.
"""

from __future__ import annotations

from typing import Any, ClassVar

from contracts.artifacts import ArtifactType

from .. import conventions as cv
from .. import yamlout
from ..units import duration_seconds
from ._common import designed
from .base import Design, Rendered, comment_header, k8s_metadata
from .schemas import PrometheusRuleModel, check_model


def _num(x: float) -> str:
    return repr(round(x, 10))


class PrometheusRuleGenerator:
    artifact_type: ClassVar[ArtifactType] = ArtifactType.prometheus_rule
    code_version: ClassVar[str] = "1"

    def design(self, task: dict[str, Any], source_checksum: str) -> Design:
        p = task["resolved_parameters"]
        budget = round(1 - p["objective"], 10)
        window = p["window"]
        windows = list(cv.ERROR_RATIO_WINDOWS) + ([window] if window not in cv.ERROR_RATIO_WINDOWS else [])
        days = (duration_seconds(window) or 2592000) / 86400
        alerts = [{"name": name, "class": cls, "factor": factor, "long": long, "short": short,
                   "exhaust_days": round(days / factor, 1)}
                  for name, cls, factor, long, short in cv.BURN_RATE_ALERTS]
        return designed(task, source_checksum, {"budget": budget, "windows": windows, "slo_window": window,
                                                "alerts": alerts, "latency": p.get("latency_p99_seconds")})

    def implement(self, d: Design) -> Rendered:
        p, plan = d.params, d.plan
        t, sel = p["target"], p["selector"]
        slo = f"{t}-availability"
        req, err = f"{cv.REQUESTS_METRIC}{{{sel}}}", f"{cv.REQUESTS_METRIC}{{{sel},{cv.ERROR_MATCHER}}}"
        records: list[dict[str, Any]] = []
        for w in plan["windows"]:
            if w == plan["slo_window"] and w not in cv.ERROR_RATIO_WINDOWS:
                short = cv.error_ratio_record("5m")
                expr = f"sum_over_time({short}{{{sel}}}[{w}]) / count_over_time({short}{{{sel}}}[{w}])"
            else:
                expr = (f"sum by (job, namespace) (rate({err}[{w}])) / "
                        f"sum by (job, namespace) (rate({req}[{w}]))")
            records.append({"record": cv.error_ratio_record(w), "expr": expr, "labels": {"slo": slo}})
        budget = _num(plan["budget"])
        records.append({"record": "slo:error_budget:remaining_ratio",
                        "expr": f"1 - {cv.error_ratio_record(plan['slo_window'])}{{{sel}}} / {budget}",
                        "labels": {"slo": slo}})
        alerts: list[dict[str, Any]] = []
        for a in plan["alerts"]:
            threshold = f"({_num(a['factor'])} * {budget})"
            sev = p["page_severity"] if a["class"] == "page" else p["ticket_severity"]
            alerts.append({
                "alert": a["name"],
                "expr": f"{cv.error_ratio_record(a['long'])}{{{sel}}} > {threshold} and "
                        f"{cv.error_ratio_record(a['short'])}{{{sel}}} > {threshold}",
                "labels": {"severity": sev, "priority": p["severity"], "slo": slo, "alert_class": a["class"]},
                "annotations": self._annotations(
                    p, a["name"], f"{t}: error budget burning {a['factor']}x too fast ({a['long']} and {a['short']})",
                    f"{t} is failing more than {a['factor']}x its error budget of {float(budget) * 100:g}% "
                    f"over {a['long']} and {a['short']}; at this rate the {plan['slo_window']} budget is gone "
                    f"in about {a['exhaust_days']} days."),
            })
        if plan["latency"]:
            alerts.append({
                "alert": cv.LATENCY_ALERT,
                "expr": f"histogram_quantile(0.99, sum by (le, job, namespace) "
                        f"(rate({cv.BUCKET_METRIC}{{{sel}}}[5m]))) > {_num(plan['latency'])}",
                "for": "10m",
                "labels": {"severity": p["ticket_severity"], "priority": p["severity"], "slo": slo,
                           "alert_class": "ticket"},
                "annotations": self._annotations(p, cv.LATENCY_ALERT, f"{t}: p99 latency above {plan['latency']}s",
                                                 f"{t} p99 latency has been above the {plan['latency']}s "
                                                 "requirement for 10 minutes."),
            })
        doc = {"apiVersion": "monitoring.coreos.com/v1", "kind": "PrometheusRule",
               "metadata": k8s_metadata(d, f"{t}-slo"),
               "spec": {"groups": [{"name": f"{t}-slo-recording", "rules": records},
                                   {"name": f"{t}-slo-alerts", "rules": alerts}]}}
        doc["metadata"]["labels"]["role"] = "alert-rules"
        return Rendered(yamlout.dump(doc, header=comment_header(d)), doc)

    @staticmethod
    def _annotations(p: dict[str, Any], alert: str, summary: str, description: str) -> dict[str, str]:
        return {"summary": summary, "description": description, "runbook_url": p["runbook_url"][alert],
                "dashboard_url": p["dashboard_url"]}

    def check_schema(self, r: Rendered) -> list[tuple[str, str]]:
        return check_model(PrometheusRuleModel, r.document)

    @staticmethod
    def promtool_tests(r: Rendered, rule_file: str) -> dict[str, Any]:
        """promtool unit tests: the fast page alert fires under a 15× burn within its 1h window, and no
        burn-rate alert fires at half the budget (SRE workbook expectations)."""
        groups = r.document["spec"]["groups"]
        alerts = groups[1]["rules"]
        fast = next(a for a in alerts if a["alert"] == cv.BURN_RATE_ALERTS[0][0])
        slo = fast["labels"]["slo"]
        budget = float(next(x for x in groups[0]["rules"] if x["record"] == "slo:error_budget:remaining_ratio")
                       ["expr"].rsplit("/ ", 1)[1])
        job, ns = r.document["metadata"]["labels"]["app.kubernetes.io/name"], r.document["metadata"]["namespace"]

        def series(code: str, per_minute: float, minutes: int) -> dict[str, str]:
            return {"series": f'{cv.REQUESTS_METRIC}{{job="{job}",namespace="{ns}",{cv.STATUS_LABEL}="{code}"}}',
                    "values": f"0+{_num(per_minute)}x{minutes}"}

        total = 1000.0
        burn_err = total * budget * 15  # 15× the budget: above the 14.4× page threshold
        half_err = total * budget * 0.5
        exp = {"severity": fast["labels"]["severity"], "priority": fast["labels"]["priority"], "slo": slo,
               "alert_class": "page", "job": job, "namespace": ns}
        return {
            "rule_files": [rule_file],
            "evaluation_interval": "1m",
            "tests": [
                {"name": f"{job}: fast burn pages within the 1h window", "interval": "1m",
                 "input_series": [series("200", total - burn_err, 70), series("500", burn_err, 70)],
                 "alert_rule_test": [{"eval_time": "1h", "alertname": fast["alert"],
                                      "exp_alerts": [{"exp_labels": exp, "exp_annotations": fast["annotations"]}]}]},
                {"name": f"{job}: half the budget stays silent", "interval": "1m",
                 # The ratio is constant, so 6h of samples covers every window's verdict at a fraction
                 # of the cost of simulating 3 days at 1m steps.
                 "input_series": [series("200", total - half_err, 400), series("500", half_err, 400)],
                 "alert_rule_test": [{"eval_time": "6h", "alertname": a["alert"], "exp_alerts": []}
                                     for a in alerts]},
            ],
        }
