"""ServiceMonitor (monitoring.coreos.com/v1): how Prometheus scrapes the target."""

from __future__ import annotations

from typing import Any, ClassVar

from ctx_assets.contracts.artifacts import ArtifactType

from .. import yamlout
from ..units import duration_seconds, prom_duration
from ._common import designed
from .base import Design, Rendered, comment_header, k8s_metadata
from .schemas import ServiceMonitorModel, check_model


class ServiceMonitorGenerator:
    artifact_type: ClassVar[ArtifactType] = ArtifactType.service_monitor
    code_version: ClassVar[str] = "1"

    def design(self, task: dict[str, Any], source_checksum: str) -> Design:
        p = task["resolved_parameters"]
        interval = p["interval"]
        # scrapeTimeout must not exceed the interval; 10s is Prometheus' own default
        timeout = prom_duration(min(duration_seconds(interval) or 10, 10))
        return designed(task, source_checksum, {"interval": interval, "scrape_timeout": timeout})

    def implement(self, d: Design) -> Rendered:
        p = d.params
        doc = {
            "apiVersion": "monitoring.coreos.com/v1",
            "kind": "ServiceMonitor",
            "metadata": k8s_metadata(d, p["target"]),
            "spec": {
                "selector": {"matchLabels": dict(p["selector"])},
                "namespaceSelector": {"matchNames": [p["namespace"]]},
                "endpoints": [{"port": p["port"], "path": p["path"], "interval": d.plan["interval"],
                               "scrapeTimeout": d.plan["scrape_timeout"], "honorLabels": False}],
            },
        }
        return Rendered(yamlout.dump(doc, header=comment_header(d)), doc)

    def check_schema(self, r: Rendered) -> list[tuple[str, str]]:
        return check_model(ServiceMonitorModel, r.document)
