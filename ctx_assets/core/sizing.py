"""Size estimation before generation (problem statement §2.5): lines and tokens from parameters.

Used by plan ingestion for calibration and by DESIGN before IMPLEMENT; the
size_estimate gate then compares the estimate with the contract's bounds.
"""

from __future__ import annotations

from typing import Any

from ctx_assets.contracts.artifacts import ArtifactType as T
from ctx_assets.contracts.artifacts import DepthTier

from . import conventions as cv
from . import slo_math
from .sli import belongs_to

CHARS_PER_TOKEN = 4
CHARS_PER_LINE = {T.dashboard: 28, T.runbook: 60}
DEFAULT_CHARS_PER_LINE = 45


def estimate_lines(artifact_type: T, params: dict[str, Any]) -> int:
    n_alerts = len(cv.BURN_RATE_ALERTS) + (1 if params.get("latency_p99_seconds") else 0)
    # Constants measured on our own complete output (tests check the estimate stays within 25%).
    if artifact_type is T.service_monitor:
        return 30
    if artifact_type is T.slo_definition:
        return 42
    if artifact_type is T.prometheus_rule:  # a key result's SLI query adds job/namespace labels per record
        records = len(slo_math.windows(params.get("window"))) * (11 if params.get("sli_query") else 9)
        return 103 + records + 12 * (n_alerts + len(params.get("key_result_alerts", [])))
    if artifact_type is T.loki_rule:
        return 30 + 5 * len(params.get("log_metrics", []))
    if artifact_type is T.dashboard:
        bound = [kr for kr in params.get("key_results", []) if belongs_to(kr, params.get("target", ""))]
        return 515 + 48 * len(bound)
    if artifact_type is T.notification_policy:
        return 66 + 4 * len(params.get("receivers", []))
    if artifact_type is T.runbook:
        return 45 + 5 * len(params.get("risks", [])) + 20 * len(params.get("alerts", []))
    return 50


def estimate_tokens(artifact_type: T, lines: int) -> int:
    return lines * CHARS_PER_LINE.get(artifact_type, DEFAULT_CHARS_PER_LINE) // CHARS_PER_TOKEN


def tier_for_lines(lines: int) -> DepthTier:
    """The workflow's LOC-based tiers: brief ≤ 50, standard 51–150, comprehensive > 150."""
    if lines <= 50:
        return DepthTier.brief
    if lines <= 150:
        return DepthTier.standard
    return DepthTier.comprehensive
