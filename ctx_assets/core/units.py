"""Parsing of the manifest's string quantities: durations, percentages, channels."""

from __future__ import annotations

import re

_DURATION_RE = re.compile(r"^(\d+(?:\.\d+)?)(ms|s|m|h|d|w)$")
_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_PROM_DURATION_RE = re.compile(r"^\d+(ms|s|m|h|d|w|y)$")
_PERCENT_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*%?\s*$")
_CHANNEL_RE = re.compile(r"^(#[a-z0-9][a-z0-9._-]*|pagerduty:[A-Za-z0-9._-]+|email:[^@\s]+@[^@\s]+)$")


def is_availability_metric(metric_key: str) -> bool:
    """A key result about availability or a success rate (validation, SLO target and window, operator,
    KPI panel, the SLI source): `checkout_availability`, `build_success_rate`, `success.rate`."""
    key = re.sub(r"[^a-z0-9]+", "_", metric_key.lower())
    return "availability" in key or "success_rate" in key


def is_latency_metric(metric_key: str) -> bool:
    """A key result about latency or duration (needs a time unit; lower is better)."""
    key = metric_key.lower()
    return "latency" in key or "duration" in key


def duration_seconds(text: str) -> float | None:
    """'200ms' -> 0.2, '30d' -> 2592000; None when not a duration."""
    m = _DURATION_RE.match(str(text).strip())
    return float(m.group(1)) * _SECONDS[m.group(2)] if m else None


def is_prom_duration(text: str) -> bool:
    return bool(_PROM_DURATION_RE.match(str(text).strip()))


def percent(text: str) -> float | None:
    """'99.95' or '99.95%' -> 99.95 when within (0, 100); else None."""
    m = _PERCENT_RE.match(str(text))
    if not m:
        return None
    v = float(m.group(1))
    return v if 0 < v < 100 else None


def channel_kind(channel: str) -> str | None:
    """'#payments-alerts' -> slack, 'pagerduty:checkout' -> pagerduty, 'email:a@b' -> email."""
    if not _CHANNEL_RE.match(channel):
        return None
    if channel.startswith("#"):
        return "slack"
    return channel.split(":", 1)[0]


def prom_duration(seconds: float) -> str:
    """Largest whole unit Prometheus accepts: 2592000 -> '30d', 300 -> '5m'."""
    for unit in ("w", "d", "h", "m", "s"):
        size = _SECONDS[unit]
        if seconds >= size and seconds % size == 0:
            # weeks read badly in SLO windows ("4w" vs "28d"); prefer days
            if unit == "w":
                continue
            return f"{int(seconds // size)}{unit}"
    return f"{int(seconds * 1000)}ms"
