"""Names that generated artifacts share: metrics, labels, alerts, annotations, recording rules.

One place, so the PrometheusRule, the dashboard, the runbook and the Loki rules
always agree (the export surfaces these as `semantic_conventions`).
"""

from __future__ import annotations

from ctx_assets.contracts import semconv as sc

# OpenTelemetry HTTP semantic conventions as Prometheus exports them.
REQUEST_DURATION_METRIC = "http_server_request_duration_seconds"
REQUESTS_METRIC = f"{REQUEST_DURATION_METRIC}_count"
BUCKET_METRIC = f"{REQUEST_DURATION_METRIC}_bucket"
STATUS_LABEL = "http_response_status_code"
ERROR_MATCHER = f'{STATUS_LABEL}=~"5.."'

ANNOTATION_ARTIFACT_ID = "contextcore.io/artifact-id"
ANNOTATION_SOURCE_CHECKSUM = "contextcore.io/source-checksum"
ANNOTATION_PROJECT = "contextcore.io/project-id"
ANNOTATION_SLI_SOURCE = "contextcore.io/sli-source"  # the key result whose query is the SLI

# SRE workbook multiwindow, multi-burn-rate alerts as Sloth emits them: ONE page alert (14.4x over 1h and 5m
# OR 6x over 6h and 30m at 30d) and ONE ticket alert (3x over 1d and 2h OR 1x over 3d and 6h) per SLO, so
# one outage is one notification per receiver. Factors scale with the SLO period (core/slo_math.py).
PAGE_ALERT = "ErrorBudgetBurnFast"
TICKET_ALERT = "ErrorBudgetBurnSlow"
BURN_RATE_ALERTS: tuple[tuple[str, str], ...] = ((PAGE_ALERT, "page"), (TICKET_ALERT, "ticket"))
ABSENT_ALERT = "SLOMetricAbsent"  # the SLI's metrics are gone (Pyrra's SLOMetricAbsent): every SLO alert is blind
ERROR_RATIO_WINDOWS: tuple[str, ...] = ("5m", "30m", "1h", "2h", "6h", "1d", "3d")
LATENCY_ALERT = "LatencyP99High"
LOG_BURST_ALERT = "LogErrorBurst"


def error_ratio_record(window: str) -> str:
    return f"slo:sli_error:ratio_rate{window}"


# Sloth's meta records (sloth pkg/common/conventions): its Grafana dashboards read these.
OBJECTIVE_RECORD = "slo:objective:ratio"
BUDGET_RECORD = "slo:error_budget:ratio"
PERIOD_DAYS_RECORD = "slo:time_period:days"
CURRENT_BURN_RECORD = "slo:current_burn_rate:ratio"
PERIOD_BURN_RECORD = "slo:period_burn_rate:ratio"
BUDGET_REMAINING_RECORD = "slo:period_error_budget_remaining:ratio"
SLO_INFO_RECORD = "sloth_slo_info"


# Diagnosis steps for metrics of a known convention: a runbook section whose alert reads one of these
# metrics gets the steps. ctx-assets' own metrics (contracts/semconv.py) lead to its own tools.
PIPELINE_METRICS = (sc.METRIC_RUNS, sc.METRIC_GATE_VIOLATIONS, sc.METRIC_STAGE_DURATION, sc.METRIC_CALIBRATION_MISMATCH)
PIPELINE_DIAGNOSIS = (
    "`ctx trace --last` shows the last run as a tree: stages with durations, the failed gate and its "
    "violations, blocked artifacts (`--json` for span objects; `ctx trace RUN_ID` for an older run).",
    "`ctx trace --artifact ID` or `ctx trace --checksum SHA` (the `contextcore.io/source-checksum` of a "
    "deployed file) names the run that produced it.",
    "Dagster UI (`ctx ui`, http://127.0.0.1:3000): Runs → the failed run → its asset checks; "
    "Automation → `manifest_sensor` for ticks that failed or were skipped.",
    "`ctx status MANIFEST` lists the stale and missing artifacts with the cause.",
)


def playbook(query: str) -> list[str]:
    """The diagnosis steps a query's metrics call for (empty for unknown metrics)."""
    return list(PIPELINE_DIAGNOSIS) if any(m.removesuffix("_total") in query for m in PIPELINE_METRICS) else []


SEVERITY_BY_CRITICALITY = {"critical": "P1", "high": "P2", "medium": "P3", "low": "P4"}
# Alertmanager severity label for the page and ticket alert classes.
PAGE_SEVERITY = {"critical": "critical", "high": "critical", "medium": "warning", "low": "warning"}
TICKET_SEVERITY = {"critical": "warning", "high": "warning", "medium": "warning", "low": "info"}


def anchor(heading: str) -> str:
    """GitHub-style heading anchor: lowercase, spaces to dashes, punctuation dropped."""
    out = "".join(c for c in heading.lower() if c.isalnum() or c in " -_")
    return out.strip().replace(" ", "-")


SEMANTIC_CONVENTIONS = {
    "metrics": {"requests": REQUESTS_METRIC, "latency_histogram": BUCKET_METRIC,
                "error_matcher": ERROR_MATCHER, "source": "OpenTelemetry HTTP semantic conventions"},
    "labels": {"target": "job", "namespace": "namespace", "severity": "severity", "priority": "priority"},
    "recording_rules": {w: error_ratio_record(w) for w in ERROR_RATIO_WINDOWS},
    "annotations": [ANNOTATION_ARTIFACT_ID, ANNOTATION_SOURCE_CHECKSUM, ANNOTATION_PROJECT],
    "alerts": [a[0] for a in BURN_RATE_ALERTS] + [ABSENT_ALERT, LATENCY_ALERT, LOG_BURST_ALERT],
}
