"""Loki ruler rule groups: error and request rates from log selectors, an error-burst alert.

Every alert uses a metric query (a range aggregation over a log query), as the
Loki ruler requires.
"""

from __future__ import annotations

from typing import Any, ClassVar

from ctx_assets.contracts.artifacts import ArtifactType

from .. import conventions as cv
from .. import yamlout
from ..escape import go_template
from ..logql import check_logql
from ._common import designed
from .base import Design, Rendered, comment_header
from .schemas import LokiRulesModel, check_model


class LokiRuleGenerator:
    artifact_type: ClassVar[ArtifactType] = ArtifactType.loki_rule
    code_version: ClassVar[str] = "1"

    def design(self, task: dict[str, Any], source_checksum: str) -> Design:
        p = task["resolved_parameters"]
        per_minute = p["burst_threshold_per_second"] * 60
        return designed(task, source_checksum, {"burst_per_minute": per_minute, "for": "2m"})

    def implement(self, d: Design) -> Rendered:
        p, plan = d.params, d.plan
        sel, errors = p["log_selector"], f"{p['log_selector']} {p['error_filter']}"
        labels = {"namespace": p["namespace"], "app": p["target"]}
        doc = {"groups": [{
            "name": f"{p['target']}-logs",
            "interval": "1m",
            "rules": [
                {"record": "loki:log_lines:rate5m", "expr": f"sum by (namespace, app) (rate({sel} [5m]))",
                 "labels": labels},
                {"record": "loki:log_errors:rate5m", "expr": f"sum by (namespace, app) (rate({errors} [5m]))",
                 "labels": labels},
                *({"record": x["record"], "expr": x["expr"], "labels": labels} for x in p.get("log_metrics", [])),
                {"alert": cv.LOG_BURST_ALERT,
                 "expr": f"sum by (namespace, app) (count_over_time({errors} [1m])) > {plan['burst_per_minute']}",
                 "for": plan["for"],
                 "labels": {"severity": "warning", "priority": cv.SEVERITY_BY_CRITICALITY[p["criticality"]],
                            "job": p["target"], "namespace": p["namespace"]},
                 "annotations": {
                     "summary": f"{p['target']}: burst of error logs",
                     "description": f"More than {plan['burst_per_minute']} error log lines a minute from "
                                    f"{p['target']} for {plan['for']}.",
                     "runbook_url": go_template(p["runbook_url"])}},
            ],
        }]}
        return Rendered(yamlout.dump(doc, header=comment_header(d)), doc)

    def check_schema(self, r: Rendered) -> list[tuple[str, str]]:
        problems = check_model(LokiRulesModel, r.document)
        for gi, g in enumerate(r.document.get("groups", [])):
            for ri, rule in enumerate(g.get("rules", [])):
                where = f"groups[{gi}].rules[{ri}].expr"
                problems += [(where, m) for m in check_logql(rule.get("expr", ""),
                                                             require_metric=True)]
        return problems
