"""Parsing of the manifest's string quantities: durations, percentages, channels."""

from __future__ import annotations

import re

_DURATION_RE = re.compile(r"^(\d+(?:\.\d+)?)(ms|s|m|h|d|w)$")
_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_PROM_DURATION_RE = re.compile(r"^\d+(ms|s|m|h|d|w|y)$")
_PERCENT_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*%?\s*$")
_NAME = r"[A-Za-z0-9][A-Za-z0-9._-]{0,62}"
# Known channel forms (ContextCore's and Alertmanager's integrations): prefix -> (kind, value pattern).
CHANNEL_FORMS: dict[str, tuple[str, re.Pattern[str]]] = {
    "#": ("slack", re.compile(r"[a-z0-9][a-z0-9._-]{0,79}")),
    "slack:": ("slack", re.compile(r"#?[a-z0-9][a-z0-9._-]{0,79}")),
    "pagerduty:": ("pagerduty", re.compile(_NAME)),
    "email:": ("email", re.compile(r"[^@\s\"<>,;]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")),
    "opsgenie:": ("opsgenie", re.compile(_NAME)),
    # Alertmanager ≤0.25 has no url_file for webhooks: the URL is written into the config, so it passes
    # the secret scan first (a URL carrying a token is refused there).
    "webhook:": ("webhook", re.compile(r"https?://[A-Za-z0-9.-]+(?::\d+)?(?:/[^\s\"'<>]*)?")),
}
NAMED_CHANNEL = "named"  # any other string: a receiver of that name the user completes


def is_availability_metric(metric_key: str) -> bool:
    """A key result about availability or a success rate (validation, SLO target and window, operator,
    KPI panel, the SLI source): `checkout_availability`, `build_success_rate`, `success.rate`."""
    key = re.sub(r"[^a-z0-9]+", "_", metric_key.lower())
    return "availability" in key or "success_rate" in key


def is_latency_metric(metric_key: str) -> bool:
    """A key result about latency or duration (needs a time unit; lower is better)."""
    key = metric_key.lower()
    return "latency" in key or "duration" in key


def matcher(label: str, value: str) -> str:
    """`label="value"` for PromQL, LogQL and Alertmanager matchers, the value escaped as their
    double-quoted strings require. Names are DNS labels by validation; this keeps any other text
    that reaches a query from breaking out of its string."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'{label}="{escaped}"'


def metric_name(text: str) -> str:
    """Free text (a key result's metricKey such as `latency.p99`) as a valid Prometheus metric name."""
    name = re.sub(r"[^A-Za-z0-9_:]", "_", text)
    return name if re.match(r"[A-Za-z_:]", name) else f"_{name}"


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


def parse_channel(channel: str) -> tuple[str, str] | None:
    """(kind, value): '#payments' -> ('slack', 'payments'), 'pagerduty:checkout' -> ('pagerduty', 'checkout'),
    'pagerduty-critical' -> ('named', 'pagerduty-critical'). None: a known prefix with a malformed value."""
    for prefix, (kind, value_re) in CHANNEL_FORMS.items():
        if channel.startswith(prefix):
            value = channel[len(prefix):]
            return (kind, value.lstrip("#")) if value_re.fullmatch(value) else None
    return NAMED_CHANNEL, channel


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
