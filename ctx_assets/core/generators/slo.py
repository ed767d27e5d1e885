"""OpenSLO v1 SLO with an inline ratio indicator and a rolling window."""

from __future__ import annotations

from typing import Any, ClassVar

from ctx_assets.contracts.artifacts import ArtifactType

from .. import conventions as cv
from .. import yamlout
from ._common import designed
from .base import Design, Rendered, comment_header, provenance
from .schemas import OpenSLOModel, check_model


class SLOGenerator:
    artifact_type: ClassVar[ArtifactType] = ArtifactType.slo_definition
    code_version: ClassVar[str] = "1"

    def design(self, task: dict[str, Any], source_checksum: str) -> Design:
        p = task["resolved_parameters"]
        return designed(task, source_checksum, {"name": f"{p['target']}-availability",
                                                "target": p["target_fraction"], "window": p["window"]})

    def implement(self, d: Design) -> Rendered:
        p = d.params

        def source(query: str) -> dict[str, Any]:
            return {"metricSource": {"type": "Prometheus", "spec": {"query": query}}}

        doc = {
            "apiVersion": "openslo/v1",
            "kind": "SLO",
            "metadata": {"name": d.plan["name"], "displayName": f"{p['target']} availability",
                         "labels": {"project": p["project_id"], "criticality": p["criticality"]},
                         "annotations": {**provenance(d), **({cv.ANNOTATION_SLI_SOURCE: p["sli_source"]}
                                                             if p.get("sli_source") else {})}},
            "spec": {
                "description": f"{p['objective_percent']}% of {p['target']} requests succeed over a rolling "
                               f"{d.plan['window']} "
                               + (f"(good fraction: {p['sli_source']})" if p.get("sli_source") else "(non-5xx / all)"),
                "service": p["target"],
                "indicator": {
                    "metadata": {"name": f"{p['target']}-request-success"},
                    "spec": {"ratioMetric": {"counter": p.get("counter", True), "good": source(p["good_query"]),
                                             "total": source(p["total_query"])}},
                },
                "timeWindow": [{"duration": d.plan["window"], "isRolling": True}],
                "budgetingMethod": p["budgeting_method"],
                "objectives": [{"displayName": "Availability", "target": d.plan["target"]}],
            },
        }
        return Rendered(yamlout.dump(doc, header=comment_header(d)), doc)

    def check_schema(self, r: Rendered) -> list[tuple[str, str]]:
        return check_model(OpenSLOModel, r.document)
