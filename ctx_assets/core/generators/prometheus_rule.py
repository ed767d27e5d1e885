"""PrometheusRule: SLO error-ratio recording rules and multiwindow, multi-burn-rate alerts.

The alerting scheme is the SRE workbook's (ch. 5, "Alerting on SLOs"), as Sloth
and Pyrra generate it: page at 14.4× over 1h and 5m or 6× over 6h and 30m;
ticket at 3× over 1d and 2h or 1× over 3d and 6h.
"""

from __future__ import annotations

from typing import Any, ClassVar

from ctx_assets.contracts.artifacts import ArtifactType

from .. import conventions as cv
from .. import slo_math as sm
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
    # 2: one page + one ticket alert, period factors, Sloth records (issue 19); 3: manifest text escaped (issue 22)
    code_version: ClassVar[str] = "3"

    def design(self, task: dict[str, Any], source_checksum: str) -> Design:
        p = task["resolved_parameters"]
        budget = round(1 - p["objective"], 10)
        window = p["window"]
        conditions = [vars(c) for c in sm.burn_conditions(window)]
        scrape = duration_seconds(p.get("scrape_interval") or "30s") or 30
        return designed(task, source_checksum, {
            "budget": budget, "windows": sm.windows(window), "slo_window": window,
            "period": sm.period_name(window), "period_days": round(sm.period_seconds(window) / 86400, 6),
            "conditions": conditions, "absent_for": sm.prom_name(5 * scrape),
            "latency": p.get("latency_p99_seconds"), "key_result_alerts": p.get("key_result_alerts", [])})

    def implement(self, d: Design) -> Rendered:
        p, plan = d.params, d.plan
        t, sel = p["target"], p["selector"]
        slo = f"{t}-availability"
        req, err = f"{cv.REQUESTS_METRIC}{{{sel}}}", f"{cv.REQUESTS_METRIC}{{{sel},{cv.ERROR_MATCHER}}}"
        sli = p.get("sli_query")  # a key result's query (core/sli.py), else the HTTP semconv default
        target_labels = {"job": t, "namespace": p["namespace"]}  # routes and dashboards select on them
        sloth = {"slo": slo, "sloth_id": slo, "sloth_service": t, "sloth_slo": "availability"}
        # The query's own labels are unknown: the rule labels give the records the target's job and namespace.
        record_labels = {**sloth, **target_labels} if sli else dict(sloth)
        records: list[dict[str, Any]] = []
        short = cv.error_ratio_record("5m")
        for w in plan["windows"]:
            if sli and w != "5m" and not has_range(sli):
                expr = sm.mean_of_recorded(short, sel, w)
            elif sli:
                expr = sm.ratio_from_good_fraction(with_window(sli, w))
            else:
                expr = sm.error_ratio(err, req, "job, namespace", w)
            records.append({"record": cv.error_ratio_record(w), "expr": expr,
                            "labels": {**record_labels, "sloth_window": w}})
        budget = _num(plan["budget"])
        meta = {**sloth, **target_labels}
        period = cv.error_ratio_record(plan["period"])
        records += [
            {"record": cv.OBJECTIVE_RECORD, "expr": f"vector({_num(p['objective'])})", "labels": meta},
            {"record": cv.BUDGET_RECORD, "expr": f"vector({budget})", "labels": meta},
            {"record": cv.PERIOD_DAYS_RECORD, "expr": f"vector({_num(plan['period_days'])})", "labels": meta},
            {"record": cv.CURRENT_BURN_RECORD, "expr": f"{short}{{{sel}}} / {budget}", "labels": meta},
            {"record": cv.PERIOD_BURN_RECORD, "expr": f"{period}{{{sel}}} / {budget}", "labels": meta},
            {"record": cv.BUDGET_REMAINING_RECORD, "expr": f"1 - {cv.PERIOD_BURN_RECORD}{{{sel}}}", "labels": meta},
            {"record": cv.SLO_INFO_RECORD, "expr": "vector(1)",
             "labels": {**meta, "sloth_mode": "ctx-assets", "sloth_spec": "prometheus/v1",
                        "sloth_version": f"ctx-assets/{self.code_version}",
                        "sloth_objective": f"{p['objective'] * 100:g}"}},
        ]
        alerts: list[dict[str, Any]] = []
        for name, cls in cv.BURN_RATE_ALERTS:
            conds = [c for c in plan["conditions"] if c["severity"] == cls]
            alerts.append({
                "alert": name,
                "expr": " or ".join(self._condition(c, sel, budget) for c in conds),
                "labels": {"severity": p["page_severity"] if cls == "page" else p["ticket_severity"],
                           "priority": p["severity"], "slo": slo, "alert_class": cls, "sloth_severity": cls},
                "annotations": self._annotations(
                    p, name, f"{t}: error budget burning too fast ("
                    + " or ".join(f"{_num(c['factor'])}x over {c['long']} and {c['short']}" for c in conds) + ")",
                    f"{t} is failing faster than its error budget of {float(budget) * 100:g}% allows: "
                    + "; or ".join(f"{_num(c['factor'])}x over {c['long']} and {c['short']} (the whole "
                                   f"{plan['slo_window']} budget gone in {sm.exhaust_text(c['exhaust_days'])})"
                                   for c in conds) + "."),
            })
        sli_metrics = f"absent({with_window(sli, '5m')})" if sli else f"absent({req})"
        alerts.append({
            "alert": cv.ABSENT_ALERT, "expr": sli_metrics, "for": plan["absent_for"],
            "labels": {"severity": p["page_severity"], "priority": p["severity"], "slo": slo, "alert_class": "page",
                       **target_labels},
            "annotations": self._annotations(
                p, cv.ABSENT_ALERT, f"{t}: the SLI's metrics are missing",
                f"No samples of {t}'s SLI metrics for {plan['absent_for']} (five scrape intervals): the scrape or "
                f"the exporter is broken, and every SLO alert of {t} is blind until it is back."),
        })
        if plan["latency"]:
            latency = p.get("latency_query") or (f"histogram_quantile(0.99, sum by (le, job, namespace) "
                                                 f"(rate({cv.BUCKET_METRIC}{{{sel}}}[5m])))")
            # Its own slo label: the availability page inhibits only its own ticket, never this alert.
            alerts.append({
                "alert": cv.LATENCY_ALERT,
                # a key result's query is one expression (validate.py); parenthesised, `a or b` stays whole
                "expr": f"({latency}) > {_num(plan['latency'])}" if p.get("latency_query") else
                        f"{latency} > {_num(plan['latency'])}",
                "for": "10m",
                "labels": {"severity": p["ticket_severity"], "priority": p["severity"], "slo": f"{t}-latency",
                           "alert_class": "ticket", **target_labels},
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
    def _condition(c: dict[str, Any], sel: str, budget: str) -> str:
        """Both windows above the factor; the window label dropped so the OR of conditions is one alert."""
        threshold = f"({_num(c['factor'])} * {budget})"
        return "(" + " and ".join(f"max without (sloth_window) ({cv.error_ratio_record(w)}{{{sel}}} > {threshold})"
                                  for w in (c["short"], c["long"])) + ")"

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
            if r.get("record", "").startswith(cv.error_ratio_record("")) and "slo:sli_error" not in r["expr"]:
                r["expr"] = f"1 - avg_over_time({TEST_GOOD_FRACTION}{{{sel}}}[{window}])"
        alerts = [dict(a, expr=f"absent({TEST_GOOD_FRACTION}{{{sel}}})") if a["alert"] == cv.ABSENT_ALERT else a
                  for a in spec["groups"][1]["rules"]]
        return {"groups": [{**spec["groups"][0], "rules": records}, {**spec["groups"][1], "rules": alerts},
                           *spec["groups"][2:]]}

    @staticmethod
    def promtool_tests(r: Rendered, rule_file: str) -> dict[str, Any]:
        """promtool unit tests: the page alert fires under a 15× burn within its 1h window, no burn-rate alert
        fires at half the budget (SRE workbook expectations), a service without a single error records an error
        ratio of 0 and its whole budget, and the absent alert fires when the SLI's metrics are gone."""
        groups = r.document["spec"]["groups"]
        records, alerts = groups[0]["rules"], groups[1]["rules"]
        fast = next(a for a in alerts if a["alert"] == cv.PAGE_ALERT)
        absent = next(a for a in alerts if a["alert"] == cv.ABSENT_ALERT)
        budget = float(next(x for x in records if x["record"] == cv.BUDGET_RECORD)["expr"][len("vector("):-1])
        job, ns = r.document["metadata"]["labels"]["app.kubernetes.io/name"], r.document["metadata"]["namespace"]
        sourced = cv.ANNOTATION_SLI_SOURCE in r.document["metadata"]["annotations"]
        ratio_1h = next(x for x in records if x["record"] == cv.error_ratio_record("1h"))
        slo_labels = {k: v for k, v in ratio_1h["labels"].items() if k != "sloth_window"}
        slo_labels.update(job=job, namespace=ns)

        def series(code: str, per_minute: float, minutes: int) -> dict[str, str]:
            return {"series": f'{cv.REQUESTS_METRIC}{{job="{job}",namespace="{ns}",{cv.STATUS_LABEL}="{code}"}}',
                    "values": f"0+{_num(per_minute)}x{minutes}"}

        def burning(factor: float, minutes: int) -> list[dict[str, str]]:
            if sourced:  # see promtool_rules
                return [{"series": f'{TEST_GOOD_FRACTION}{{job="{job}",namespace="{ns}"}}',
                         "values": f"{_num(1 - budget * factor)}+0x{minutes}"}]
            err = total * budget * factor
            return [series("200", total - err, minutes)] + ([series("500", err, minutes)] if err else [])

        def sample(record: str, value: float, window: str) -> dict[str, Any]:
            labels = ",".join(f'{k}="{v}"' for k, v in sorted({**slo_labels, "sloth_window": window}.items()))
            return {"labels": f"{record}{{{labels}}}", "value": value}

        total = 1000.0
        sel = f'{{job="{job}",namespace="{ns}"}}'
        absent_for = sm.seconds(absent.get("for", "0s"))
        period = next(x for x in records if x["record"] == cv.PERIOD_BURN_RECORD)["expr"].split("{")[0] \
            .removeprefix(cv.error_ratio_record(""))
        return {
            "rule_files": [rule_file],
            "evaluation_interval": "1m",
            "tests": [
                {"name": f"{job}: fast burn pages within the 1h window", "interval": "1m",
                 "input_series": burning(15, 70),  # 15× the budget: above the page factor (14.4 at 30d)
                 "alert_rule_test": [{"eval_time": "1h", "alertname": fast["alert"],
                                      "exp_alerts": [{"exp_labels": printed({**slo_labels, **fast["labels"]}),
                                                      "exp_annotations": printed(fast["annotations"])}]}]},
                {"name": f"{job}: half the budget stays silent", "interval": "1m",
                 # The ratio is constant, so 6h of samples covers every window's verdict at a fraction
                 # of the cost of simulating 3 days at 1m steps.
                 "input_series": burning(0.5, 400),
                 "alert_rule_test": [{"eval_time": "6h", "alertname": a["alert"], "exp_alerts": []}
                                     for a in alerts]},
                {"name": f"{job}: no errors at all is a ratio of 0 and the whole budget", "interval": "1m",
                 "input_series": burning(0, 70),
                 "promql_expr_test": [
                     {"eval_time": "1h", "expr": f"{cv.error_ratio_record('1h')}{sel}",
                      "exp_samples": [sample(cv.error_ratio_record("1h"), 0, "1h")]},
                     {"eval_time": "1h", "expr": f"{cv.BUDGET_REMAINING_RECORD}{sel}",
                      "exp_samples": [sample(cv.BUDGET_REMAINING_RECORD, 1, period)]}]},
                {"name": f"{job}: the SLI's metrics are gone", "interval": "1m",
                 "input_series": [{"series": 'up{job="someone-else"}', "values": "1+0x60"}],
                 "alert_rule_test": [{"eval_time": sm.prom_name(absent_for + 120), "alertname": absent["alert"],
                                      "exp_alerts": [{"exp_labels": absent["labels"],
                                                      "exp_annotations": absent["annotations"]}]}]},
            ],
        }


def printed(texts: dict[str, str]) -> dict[str, str]:
    """What Prometheus prints for each label or annotation (escaped manifest text expands back to itself)."""
    return {k: go_template_printed(v) for k, v in texts.items()}
