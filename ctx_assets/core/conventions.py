"""Names that generated artifacts share: metrics, labels, alerts, annotations, recording rules.

One place, so the PrometheusRule, the dashboard, the runbook and the Loki rules
always agree (the export surfaces these as `semantic_conventions`).
"""

from __future__ import annotations

# OpenTelemetry HTTP semantic conventions as Prometheus exports them.
REQUEST_DURATION_METRIC = "http_server_request_duration_seconds"
REQUESTS_METRIC = f"{REQUEST_DURATION_METRIC}_count"
BUCKET_METRIC = f"{REQUEST_DURATION_METRIC}_bucket"
STATUS_LABEL = "http_response_status_code"
ERROR_MATCHER = f'{STATUS_LABEL}=~"5.."'

ANNOTATION_ARTIFACT_ID = "contextcore.io/artifact-id"
ANNOTATION_SOURCE_CHECKSUM = "contextcore.io/source-checksum"
ANNOTATION_PROJECT = "contextcore.io/project-id"

# SRE workbook multiwindow, multi-burn-rate alerts: (name, severity class, factor, long, short)
BURN_RATE_ALERTS: tuple[tuple[str, str, float, str, str], ...] = (
    ("ErrorBudgetBurnFast", "page", 14.4, "1h", "5m"),
    ("ErrorBudgetBurnMedium", "page", 6.0, "6h", "30m"),
    ("ErrorBudgetBurnSlow", "ticket", 3.0, "1d", "2h"),
    ("ErrorBudgetBurnSteady", "ticket", 1.0, "3d", "6h"),
)
ERROR_RATIO_WINDOWS: tuple[str, ...] = ("5m", "30m", "1h", "2h", "6h", "1d", "3d")
LATENCY_ALERT = "LatencyP99High"
LOG_BURST_ALERT = "LogErrorBurst"


def error_ratio_record(window: str) -> str:
    return f"slo:sli_error:ratio_rate{window}"


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
    "alerts": [a[0] for a in BURN_RATE_ALERTS] + [LATENCY_ALERT, LOG_BURST_ALERT],
}
