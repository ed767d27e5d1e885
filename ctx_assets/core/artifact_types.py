"""The static facts of each artifact type: path, dependencies, format, contract, calibration.

The bounds are set from real, complete artifacts of ours (see tests/test_generators.py) so
that the contracts accept what the generators make and reject truncated or bloated output.
"""

from __future__ import annotations

from dataclasses import dataclass

from ctx_assets.contracts.artifacts import ArtifactType as T
from ctx_assets.contracts.artifacts import DepthTier, DesignCalibrationHint, ExpectedOutputContract


@dataclass(frozen=True)
class TypeInfo:
    path: str  # relative to the output folder, {target} substituted
    depends_on: tuple[T, ...]
    format: str
    generator: str
    accepted_parameters: tuple[str, ...]
    contract: ExpectedOutputContract
    calibration: DesignCalibrationHint


def _c(depth: DepthTier, lo: int, hi: int, fields: list[str], markers: list[str]) -> ExpectedOutputContract:
    # ~4 characters a token, ~40 characters a line, with headroom
    return ExpectedOutputContract(expected_depth=depth, min_lines=lo, max_lines=hi, max_tokens=hi * 20,
                                  required_fields=fields, completeness_markers=markers)


_B, _S, _C = DepthTier.brief, DepthTier.standard, DepthTier.comprehensive
_COMMON = ("target", "namespace", "kind", "project_id", "criticality")

TYPES: dict[T, TypeInfo] = {
    T.service_monitor: TypeInfo(
        "k8s/observability/{target}-service-monitor.yaml", (), "monitoring.coreos.com/v1 ServiceMonitor",
        "ctx_assets.core.generators.service_monitor",
        _COMMON + ("interval", "port", "path", "selector"),
        _c(_B, 15, 50, ["apiVersion", "kind", "metadata.name", "metadata.annotations", "spec.selector",
                        "spec.endpoints"], ["contextcore.io/artifact-id", "interval:"]),
        DesignCalibrationHint(expected_tier=_B, allowed_tiers=[_B], loc_range=(15, 50),
                              red_flag="comprehensive: over-engineering a simple scrape config"),
    ),
    T.slo_definition: TypeInfo(
        "slo/{target}-slo.yaml", (T.service_monitor,), "OpenSLO v1 SLO", "ctx_assets.core.generators.slo",
        _COMMON + ("objective_percent", "target_fraction", "window", "budgeting_method", "good_query",
                   "total_query", "counter", "sli_query", "sli_source"),
        _c(_B, 20, 60, ["apiVersion", "kind", "metadata.name", "spec.objectives", "spec.timeWindow",
                        "spec.budgetingMethod", "spec.indicator"], ["contextcore.io/artifact-id", "ratioMetric"]),
        DesignCalibrationHint(expected_tier=_B, allowed_tiers=[_B, _S], loc_range=(20, 60),
                              red_flag="comprehensive: an SLO is one objective, not a document"),
    ),
    T.prometheus_rule: TypeInfo(
        "prometheus/rules/{target}-prometheus-rules.yaml", (T.slo_definition,),
        "monitoring.coreos.com/v1 PrometheusRule", "ctx_assets.core.generators.prometheus_rule",
        _COMMON + ("objective", "window", "latency_p99_seconds", "severity", "runbook_url", "dashboard_url",
                   "scrape_interval", "selector", "sli_query", "sli_source", "latency_query", "latency_source",
                   "key_result_alerts"),
        # Each key result with a query adds an alert (core/sli.py): more alerts is not over-engineering.
        _c(_S, 51, 450, ["apiVersion", "kind", "metadata.name", "metadata.annotations", "spec.groups"],
           ["slo:sli_error:ratio_rate5m", "ErrorBudgetBurn", "runbook_url", "dashboard_url"]),
        DesignCalibrationHint(expected_tier=_S, allowed_tiers=[_S, _C], loc_range=(51, 450),
                              red_flag="brief: will produce incomplete alert rules"),
    ),
    T.loki_rule: TypeInfo(
        "loki/rules/{target}-loki-rules.yaml", (), "Loki ruler rule groups (LogQL)",
        "ctx_assets.core.generators.loki_rule",
        _COMMON + ("log_selector", "log_format", "error_filter", "burst_threshold_per_second", "log_metrics"),
        _c(_B, 20, 80, ["groups"], ["contextcore.io/artifact-id", "count_over_time", "LogErrorBurst"]),
        DesignCalibrationHint(expected_tier=_B, allowed_tiers=[_B, _S], loc_range=(20, 80),
                              red_flag="comprehensive: log rules should be few and cheap"),
    ),
    T.dashboard: TypeInfo(
        "grafana/dashboards/{target}-dashboard.json", (T.prometheus_rule, T.loki_rule), "Grafana dashboard JSON",
        "ctx_assets.core.generators.dashboard",
        _COMMON + ("uid", "title", "placement", "refresh", "objective", "latency_p99_seconds", "runbook_path",
                   "window", "period",
                   "key_results", "sli_query", "sli_source", "latency_query", "latency_source"),
        _c(_C, 151, 2500, ["uid", "title", "panels", "templating.list", "tags", "links"],
           ["contextcore.io/artifact-id", "Error budget remaining", "Burn rate", "Logs"]),
        DesignCalibrationHint(expected_tier=_C, allowed_tiers=[_C], loc_range=(151, 2500),
                              red_flag="brief: a skeleton, not a usable dashboard"),
    ),
    T.notification_policy: TypeInfo(
        "alertmanager/{target}-notification.yaml", (T.prometheus_rule,),
        "monitoring.coreos.com/v1alpha1 AlertmanagerConfig (merged into alertmanager/alertmanager.yml)",
        "ctx_assets.core.generators.notification_policy",
        _COMMON + ("receivers", "page_severity", "ticket_severity", "group_wait", "repeat_interval"),
        _c(_S, 30, 150, ["spec.route.receiver", "spec.route.routes", "spec.receivers", "spec.inhibitRules"],
           ["contextcore.io/artifact-id", "inhibitRules", "severity"]),
        DesignCalibrationHint(expected_tier=_S, allowed_tiers=[_B, _S], loc_range=(30, 150),
                              red_flag="comprehensive: routing trees should stay readable"),
    ),
    T.runbook: TypeInfo(
        "runbooks/{target}-runbook.md", (T.prometheus_rule, T.notification_policy, T.dashboard), "Markdown",
        "ctx_assets.core.generators.runbook",
        _COMMON + ("risks", "owners", "alerts", "dashboard_path", "wiki", "window", "sli_query", "sli_source",
                   "latency_query", "latency_source", "key_result_alerts"),
        _c(_S, 51, 600, ["# ", "## Overview", "## Risks", "## Escalation", "## Procedures"],
           ["contextcore.io/artifact-id", "### Meaning", "### Impact", "### Diagnosis", "### Mitigation"]),
        DesignCalibrationHint(expected_tier=_S, allowed_tiers=[_S, _C], loc_range=(51, 600),
                              red_flag="brief: will lack incident procedures"),
    ),
}

# Topological order of the type graph (each type after the types it is built from).
TYPE_ORDER: tuple[T, ...] = (T.service_monitor, T.loki_rule, T.slo_definition, T.prometheus_rule,
                             T.dashboard, T.notification_policy, T.runbook)


def output_path(artifact_type: T, target: str) -> str:
    return TYPES[artifact_type].path.format(target=target)
