"""Generator registry: artifact type → generator, open to plug-ins.

A team registers its own generator for a type in its package metadata:

    [project.entry-points."ctx_assets.generators"]
    dashboard = "my_pkg.dashboards:MyDashboardGenerator"

The plug-in replaces the built-in for that type; the same gates apply to it.
"""

from __future__ import annotations

from functools import lru_cache
from importlib.metadata import entry_points

from ctx_assets.contracts.artifacts import ArtifactType

from .base import Design, Generator, Rendered
from .dashboard import DashboardGenerator
from .loki_rule import LokiRuleGenerator
from .notification_policy import NotificationPolicyGenerator
from .prometheus_rule import PrometheusRuleGenerator
from .runbook import RunbookGenerator
from .service_monitor import ServiceMonitorGenerator
from .slo import SLOGenerator

ENTRY_POINT_GROUP = "ctx_assets.generators"
BUILTIN: dict[ArtifactType, type] = {
    ArtifactType.service_monitor: ServiceMonitorGenerator,
    ArtifactType.slo_definition: SLOGenerator,
    ArtifactType.prometheus_rule: PrometheusRuleGenerator,
    ArtifactType.loki_rule: LokiRuleGenerator,
    ArtifactType.dashboard: DashboardGenerator,
    ArtifactType.notification_policy: NotificationPolicyGenerator,
    ArtifactType.runbook: RunbookGenerator,
}


class PluginError(Exception):
    pass


@lru_cache(maxsize=1)
def registry() -> dict[ArtifactType, Generator]:
    reg: dict[ArtifactType, Generator] = {t: cls() for t, cls in BUILTIN.items()}
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        try:
            kind = ArtifactType(ep.name)
        except ValueError:
            raise PluginError(f"generator plug-in {ep.value!r}: {ep.name!r} is not an artifact type "
                              f"({', '.join(t.value for t in ArtifactType)})") from None
        obj = ep.load()
        gen = obj() if isinstance(obj, type) else obj
        if not isinstance(gen, Generator):
            raise PluginError(f"generator plug-in {ep.value!r} lacks design/implement/check_schema")
        reg[kind] = gen
    return reg


__all__ = ["BUILTIN", "Design", "Generator", "Rendered", "registry", "ENTRY_POINT_GROUP"]
