"""Runbook (Markdown): overview, risks, escalation, procedures, and one section per alert.

Each alert section is a heading whose anchor is exactly the fragment of the
alert's runbook_url, so every link from a PrometheusRule or Loki rule lands here.
"""

from __future__ import annotations

from typing import Any, ClassVar

from ctx_assets.contracts.artifacts import ArtifactType

from .. import conventions as cv
from .. import slo_math as sm
from ..escape import md_code, md_text
from ..sli import target_text
from ..units import matcher
from ._common import designed
from .base import Design, Rendered, comment_header
from .schemas import check_markdown_headings

_BURN = dict(cv.BURN_RATE_ALERTS)  # alert name → page | ticket


def _alert_section(name: str, p: dict[str, Any]) -> list[str]:
    t, ns, sel = p["target"], p["namespace"], f'{matcher("job", p["target"])},{matcher("namespace", p["namespace"])}'
    key_results = {k["alert"]: k for k in p.get("key_result_alerts", [])}
    if name in key_results:
        k = key_results[name]
        goal = md_text(f"{k['operator']} {target_text(k['target'], k['unit'])}" + (
            f" over {k['window']}" if k.get("window") else ""))
        meaning = (f"Key result {md_code(k['metric_key'])} of objective {md_text(k['objective'])} is off its "
                   f"target ({goal}).")
        impact = f"Objective {md_text(k['objective'])} is not being met while this lasts."
        diagnosis = [f"Run the key result's query ({md_code(k['source'])}): {md_code(k['query'])}.",
                     *cv.playbook(k["query"]),
                     f"Open the dashboard ({p['dashboard_path']}): the KPI panel {md_text(k['metric_key'])}."]
        mitigation = ["Fix the cause the diagnosis found; if the target itself is wrong, change it in the manifest "
                      "(reviewed like code) rather than silencing the alert."]
    elif name in _BURN:
        cls = _BURN[name]
        conds = [c for c in sm.burn_conditions(p.get("window")) if c.severity == cls]
        meaning = (f"{t} is spending its error budget too fast: "
                   + " or ".join(f"{c.factor:g}x the sustainable rate over {c.long} and {c.short}" for c in conds)
                   + f" (the {p.get('window') or '30d'} budget gone in "
                   + " or ".join(sm.exhaust_text(c.exhaust_days) for c in conds)
                   + "). One alert covers both conditions, so one outage is one notification.")
        impact = ("Users see failed requests now; the error budget runs out within days."
                  if cls == "page" else "A slow leak of failed requests; the budget will not last the window. "
                  "While the page alert of the same SLO fires, this ticket is inhibited (the page covers it).")
        diagnosis = [f"Open the dashboard ({p['dashboard_path']}) and compare the burn-rate panel windows.",
                     f"Query the error ratio of each window: `{cv.error_ratio_record(conds[0].short)}{{{sel}}}`, "
                     f"`{cv.error_ratio_record(conds[0].long)}{{{sel}}}`."]
        if p.get("sli_query"):  # the SLI is a key result's query
            diagnosis += [f"Run the SLI query ({md_code(p['sli_source'])}, the good fraction): "
                          f"{md_code(p['sli_query'])}.",
                          *cv.playbook(p["sli_query"])]
        else:
            diagnosis.append(f"Find the failing routes: `sum by (http_route) (rate({cv.REQUESTS_METRIC}{{{sel},"
                             f"{cv.ERROR_MATCHER}}}[5m]))`.")
        diagnosis.append(f"Check recent deploys: `kubectl -n {ns} rollout history deploy/{t}`.")
        mitigation = [f"Roll back the last change: `kubectl -n {ns} rollout undo deploy/{t}`.",
                      "Shed or reroute load if a dependency is failing; scale out if saturated.",
                      "If the budget is gone, freeze risky releases until it recovers."]
    elif name == cv.ABSENT_ALERT:
        meaning = (f"Prometheus has no samples of {t}'s SLI metrics: the scrape, the exporter or the service "
                   "itself is gone.")
        impact = (f"Every SLO alert of {t} is blind while this lasts: an outage would not page. It pages itself "
                  "for that reason.")
        metric = p["sli_query"] if p.get("sli_query") else f"{cv.REQUESTS_METRIC}{{{sel}}}"
        diagnosis = [f"Check the scrape: `up{{{sel}}}` and Prometheus → Status → Targets for `{t}`.",
                     f"Query the SLI's metrics: `{metric}`.",
                     f"Check the pods and the ServiceMonitor: `kubectl -n {ns} get pods,servicemonitor "
                     f"-l app.kubernetes.io/name={t}`."]
        mitigation = ["Restore the scrape (service port, ServiceMonitor selector, network policy) or the exporter.",
                      "Until then watch the service by other means (logs, traces, synthetic checks)."]
    elif name == cv.LATENCY_ALERT:
        meaning = (f"{t} p99 latency is above the {md_text(p.get('latency_p99') or 'required')} requirement "
                   "for 10 minutes.")
        impact = "The slowest 1% of requests are slower than promised; timeouts upstream may follow."
        diagnosis = [f"Run the latency query ({md_code(p['latency_source'])}, seconds): "
                     f"{md_code(p['latency_query'])}.",
                     *cv.playbook(p["latency_query"])] if p.get("latency_query") else [
            f"Latency by route: `histogram_quantile(0.99, sum by (le, http_route) (rate("
            f"{cv.BUCKET_METRIC}{{{sel}}}[5m])))`."]
        diagnosis += [f"Check CPU throttling and saturation: `kubectl -n {ns} top pods -l app.kubernetes.io/name={t}`.",
                      "Check the latency of downstream dependencies in the trace backend."]
        mitigation = ["Scale out; remove hot spots; roll back a change that added work to the hot path."]
    else:
        meaning = f"{t} is writing error logs in a burst."
        impact = "Errors are happening that metrics may not show yet (background jobs, retries)."
        diagnosis = [f"Look at the error logs: `{{namespace=\"{ns}\", app=\"{t}\"}} | json | "
                     "level=~\"(?i)(error|fatal)\"`.", "Group by message to find the new error."]
        mitigation = ["Fix or roll back the change that introduced the error; silence only with a ticket."]
    lines = [f"### {name}", "", "#### Meaning", "", meaning, "", "#### Impact", "", impact, "", "#### Diagnosis", ""]
    lines += [f"{i}. {s}" for i, s in enumerate(diagnosis, 1)] + ["", "#### Mitigation", ""]
    lines += [f"{i}. {s}" for i, s in enumerate(mitigation, 1)] + [""]
    return lines


class RunbookGenerator:
    artifact_type: ClassVar[ArtifactType] = ArtifactType.runbook
    code_version: ClassVar[str] = "3"  # 2: page/ticket/absent sections (issue 19); 3: manifest text escaped

    def design(self, task: dict[str, Any], source_checksum: str) -> Design:
        p = task["resolved_parameters"]
        sections = ["Overview", "Risks", "Escalation", "Procedures", "Alerts"]
        return designed(task, source_checksum, {"sections": sections, "alerts": list(p["alerts"])})

    def implement(self, d: Design) -> Rendered:
        p = d.params
        t = p["target"]
        out = [comment_header(d, "<!-- ", " -->").rstrip(), "", f"# Runbook: {t}", "", "## Overview", "",
               f"{t} ({md_text(p['kind'])} in namespace `{p['namespace']}`) is part of {p['project_id']}"
               + (f": {md_text(p['description'])}" if p.get("description") else "") + ".",
               f"Business criticality **{p['criticality']}**; availability objective **{p['objective_percent']}%**"
               + (f", p99 latency **{md_text(p['latency_p99'])}**" if p.get("latency_p99") else "") + ".", "",
               f"- Dashboard: `{p['dashboard_path']}`"
               + (f" ({md_text(p['dashboard_url'])})" if p.get("dashboard_url") else ""),
               f"- Alert rules: `prometheus/rules/{t}-prometheus-rules.yaml`, `loki/rules/{t}-loki-rules.yaml`"]
        if p.get("wiki"):
            out.append(f"- Wiki: {md_text(p['wiki'])}")
        out += ["", "## Risks", ""]
        if not p["risks"]:
            out += ["No risks are recorded in the manifest; add them under `spec.risks`.", ""]
        for r in p["risks"]:
            out += [f"### {md_text(r['type'])}: {md_text(r['description'])} ({md_text(r.get('priority', 'P3'))})",
                    "", f"- Mitigation: {md_text(r.get('mitigation') or 'none recorded — add one to the manifest')}"]
            if r.get("controls"):
                out.append(f"- Controls: {', '.join(md_text(c) for c in r['controls'])}")
            out.append("")
        out += ["## Escalation", "", "| team | slack | email | on-call |", "| --- | --- | --- | --- |"]
        out += ["| " + " | ".join(md_text(o.get(k) or "") for k in ("team", "slack", "email", "oncall")) + " |"
                for o in p["owners"]] or ["| (no owners in the manifest) | | | |"]
        out += ["", "Page the on-call first; escalate to the owning team's channel after 15 minutes without "
                "progress.", "", "## Procedures", "",
                "### Check health", "", f"1. `kubectl -n {p['namespace']} get pods -l app.kubernetes.io/name={t}`",
                f"2. Compare the dashboard availability stat with the {p['objective_percent']}% objective.",
                "", "### Roll back", "",
                "1. " + md_code(f"kubectl -n {p['namespace']} rollout undo {p['kind'].lower()}/{t}"),
                "2. Watch the burn-rate panel return below 1x.", "", "## Alerts", ""]
        for name in d.plan["alerts"]:
            out += _alert_section(name, p)
        text = "\n".join(out)
        return Rendered(text.encode(), text)

    def check_schema(self, r: Rendered) -> list[tuple[str, str]]:
        return check_markdown_headings(r.document, ["Overview", "Risks", "Escalation", "Procedures", "Alerts"])
