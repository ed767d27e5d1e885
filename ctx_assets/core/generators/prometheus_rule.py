"""PrometheusRule: SLO error-ratio recording rules and multiwindow, multi-burn-rate alerts.

The alerting scheme is the SRE workbook's (ch. 5, "Alerting on SLOs"), as Sloth
and Pyrra generate it: page at 14.4× over 1h and 5m or 6× over 6h and 30m;
ticket at 3× over 1d and 2h or 1× over 3d and 6h.
"""

from __future__ import annotations

from typing import Any, ClassVar

from ctx_assets.contracts.artifacts import ArtifactType

from .. import conventions as cv
from .. import yamlout
from ..escape import go_template, go_template_printed
from ..sli import has_range, target_text, with_window
from ..units import duration_seconds, matcher
from ._common import designed
from .base import Design, Rendered, comment_header, k8s_metadata
from .schemas import PrometheusRuleModel, check_model

TEST_GOOD_FRACTION = "ctx_test_sli_good_fraction"  # stands in for a key result's query in unit tests


def _num(x: float) -> str:
    return repr(round(x, 10))


def _selector(doc: dict[str, Any]) -> str:
    meta = doc["metadata"]
    return f'{matcher("job", meta["labels"]["app.kubernetes.io/name"])},{matcher("namespace", meta["namespace"])}'


class PrometheusRuleGenerator:
    artifact_type: ClassVar[ArtifactType] = ArtifactType.prometheus_rule
    code_version: ClassVar[str] = "2"  # 2: manifest text escaped (issue 22)

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
                                                "alerts": alerts, "latency": p.get("latency_p99_seconds"),
                                                "key_result_alerts": p.get("key_result_alerts", [])})

    def implement(self, d: Design) -> Rendered:
        p, plan = d.params, d.plan
        t, sel = p["target"], p["selector"]
        slo = f"{t}-availability"
        req, err = f"{cv.REQUESTS_METRIC}{{{sel}}}", f"{cv.REQUESTS_METRIC}{{{sel},{cv.ERROR_MATCHER}}}"
        sli = p.get("sli_query")  # a key result's query (core/sli.py), else the HTTP semconv default
        # The query's own labels are unknown: the rule labels give the records the target's job and namespace.
        record_labels = {"slo": slo, "job": t, "namespace": p["namespace"]} if sli else {"slo": slo}
        records: list[dict[str, Any]] = []
        short = cv.error_ratio_record("5m")
        for w in plan["windows"]:
            derived = w == plan["slo_window"] and w not in cv.ERROR_RATIO_WINDOWS
            if derived or (sli and w != "5m" and not has_range(sli)):
                expr = f"sum_over_time({short}{{{sel}}}[{w}]) / count_over_time({short}{{{sel}}}[{w}])"
            elif sli:
                expr = f"1 - ({with_window(sli, w)})"
            else:
                expr = (f"sum by (job, namespace) (rate({err}[{w}])) / "
                        f"sum by (job, namespace) (rate({req}[{w}]))")
            records.append({"record": cv.error_ratio_record(w), "expr": expr, "labels": record_labels})
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
        target_labels = {"job": t, "namespace": p["namespace"]}  # routes match them (notification policy)
        if plan["latency"]:
            latency = p.get("latency_query") or (f"histogram_quantile(0.99, sum by (le, job, namespace) "
                                                 f"(rate({cv.BUCKET_METRIC}{{{sel}}}[5m])))")
            alerts.append({
                "alert": cv.LATENCY_ALERT,
                # a key result's query is one expression (validate.py); parenthesised, `a or b` stays whole
                "expr": f"({latency}) > {_num(plan['latency'])}" if p.get("latency_query") else
                        f"{latency} > {_num(plan['latency'])}",
                "for": "10m",
                "labels": {"severity": p["ticket_severity"], "priority": p["severity"], "slo": slo,
                           "alert_class": "ticket", **(target_labels if p.get("latency_query") else {})},
                "annotations": self._annotations(p, cv.LATENCY_ALERT, f"{t}: p99 latency above {plan['latency']}s",
                                                 f"{t} p99 latency has been above the {plan['latency']}s "
                                                 "requirement for 10 minutes."),
            })
        for k in plan["key_result_alerts"]:
            target = f"{k['operator']} {target_text(k['target'], k['unit'])}"
            alerts.append({
                "alert": k["alert"], "expr": k["expr"], "for": "5m",
                "labels": {"severity": p["ticket_severity"], "priority": p["severity"],
                           "key_result": go_template(k["metric_key"]),
                           "alert_class": "ticket", **target_labels},
                "annotations": self._annotations(
                    p, k["alert"], f"{t}: key result {k['metric_key']} off target ({target})",
                    f"{k['metric_key']} of objective {k['objective']} should be {target}"
                    + (f" over {k['window']}" if k.get("window") else "") + f"; its query ({k['source']}) "
                    "has missed that for 5 minutes.")})
        doc = {"apiVersion": "monitoring.coreos.com/v1", "kind": "PrometheusRule",
               "metadata": k8s_metadata(d, f"{t}-slo"),
               "spec": {"groups": [{"name": f"{t}-slo-recording", "rules": records},
                                   {"name": f"{t}-slo-alerts", "rules": alerts}]}}
        doc["metadata"]["labels"]["role"] = "alert-rules"
        if sli:
            doc["metadata"]["annotations"][cv.ANNOTATION_SLI_SOURCE] = p["sli_source"]
        return Rendered(yamlout.dump(doc, header=comment_header(d)), doc)

    @staticmethod
    def _annotations(p: dict[str, Any], alert: str, summary: str, description: str) -> dict[str, str]:
        """Prometheus executes annotations (and labels) as Go templates: manifest text in them stays text."""
        return {"summary": go_template(summary), "description": go_template(description),
                "runbook_url": go_template(p["runbook_url"][alert]), "dashboard_url": go_template(p["dashboard_url"])}

    def check_schema(self, r: Rendered) -> list[tuple[str, str]]:
        return check_model(PrometheusRuleModel, r.document)

    @staticmethod
    def promtool_rules(doc: dict[str, Any]) -> dict[str, Any]:
        """The rule groups the unit tests run. When a key result's query is the SLI, the query itself is
        checked by `promtool check rules` on the real file; the tests exercise the windows, thresholds and
        labels of the alerts on a synthetic good-fraction series standing in for it."""
        spec = doc["spec"]
        if cv.ANNOTATION_SLI_SOURCE not in doc["metadata"]["annotations"]:
            return spec
        sel = _selector(doc)
        records = [dict(r) for r in spec["groups"][0]["rules"]]
        for r in records:
            window = r.get("record", "").removeprefix(cv.error_ratio_record(""))
            if window in cv.ERROR_RATIO_WINDOWS and "slo:sli_error" not in r["expr"]:
                r["expr"] = f"1 - avg_over_time({TEST_GOOD_FRACTION}{{{sel}}}[{window}])"
        return {"groups": [{**spec["groups"][0], "rules": records}, *spec["groups"][1:]]}

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

        def burning(factor: float, minutes: int) -> list[dict[str, str]]:
            if cv.ANNOTATION_SLI_SOURCE in r.document["metadata"]["annotations"]:  # see promtool_rules
                return [{"series": f'{TEST_GOOD_FRACTION}{{job="{job}",namespace="{ns}"}}',
                         "values": f"{_num(1 - budget * factor)}+0x{minutes}"}]
            err = total * budget * factor
            return [series("200", total - err, minutes), series("500", err, minutes)]

        total = 1000.0
        exp = {"severity": fast["labels"]["severity"], "priority": fast["labels"]["priority"], "slo": slo,
               "alert_class": "page", "job": job, "namespace": ns}
        return {
            "rule_files": [rule_file],
            "evaluation_interval": "1m",
            "tests": [
                {"name": f"{job}: fast burn pages within the 1h window", "interval": "1m",
                 "input_series": burning(15, 70),  # 15× the budget: above the 14.4× page threshold
                 "alert_rule_test": [{"eval_time": "1h", "alertname": fast["alert"],
                                      "exp_alerts": [{"exp_labels": exp, "exp_annotations": {
                                          k: go_template_printed(v) for k, v in fast["annotations"].items()}}]}]},
                {"name": f"{job}: half the budget stays silent", "interval": "1m",
                 # The ratio is constant, so 6h of samples covers every window's verdict at a fraction
                 # of the cost of simulating 3 days at 1m steps.
                 "input_series": burning(0.5, 400),
                 "alert_rule_test": [{"eval_time": "6h", "alertname": a["alert"], "exp_alerts": []}
                                     for a in alerts]},
            ],
        }
