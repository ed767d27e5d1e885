"""SLO math in one place (pure): windows, burn factors, period names, and the PromQL of each figure.

Every formula here is stated with its source in docs/slo-math.md:

* error budget           b = 1 - objective                                   (SRE workbook ch. 5)
* burn rate              error ratio over a window / b                       (SRE workbook ch. 5)
* burn factor of an alert  budget fraction consumed × period ÷ long window  (Sloth `getBurnRateFactor`)
  with the workbook's windows: page 2 % in 1h (short 5m), 5 % in 6h (30m); ticket 10 % in 1d (2h),
  10 % in 3d (6h) — 14.4 / 6 / 3 / 1 at 30d, 13.44 / 5.6 / 2.8 / 0.933 at 28d;
* period availability    1 - error ratio over the period, from the counters themselves (Pyrra's
                         `increase(…[4w])`), so it is true from the history Prometheus holds;
* budget remaining       1 - period error ratio / b  (Sloth `slo:period_error_budget_remaining:ratio`).

Window names follow Prometheus' own duration format (Sloth names its records the same way): 28d is
`4w`, 30d stays `30d`, 7d is `1w`.
"""

from __future__ import annotations

from dataclasses import dataclass

from .units import duration_seconds

DEFAULT_PERIOD = "30d"
# (severity class, fraction of the budget consumed, long window, short window): SRE workbook table 5-8,
# Sloth's google-30d / google-28d window sets.
WORKBOOK_WINDOWS: tuple[tuple[str, float, str, str], ...] = (
    ("page", 0.02, "1h", "5m"),
    ("page", 0.05, "6h", "30m"),
    ("ticket", 0.10, "1d", "2h"),
    ("ticket", 0.10, "3d", "6h"),
)
SHORT_WINDOWS: tuple[str, ...] = ("5m", "30m", "1h", "2h", "6h", "1d", "3d")
_UNITS = (("y", 365 * 86400), ("w", 7 * 86400), ("d", 86400), ("h", 3600), ("m", 60), ("s", 1))


def prom_name(seconds: float) -> str:
    """A duration as Prometheus prints it (model.Duration.String): 2419200 → '4w', 2592000 → '30d'.
    Years and weeks only when they divide it exactly (Prometheus: "90d" reads better than "12w6d")."""
    ms = round(seconds * 1000)
    if ms == 0:
        return "0s"
    out = ""
    for unit, size in _UNITS:
        mult = size * 1000
        if unit in ("y", "w") and ms % mult:
            continue
        n, ms = divmod(ms, mult)
        if n:
            out += f"{n}{unit}"
    return out + (f"{ms}ms" if ms else "")


def seconds(text: str) -> float:
    """A Prometheus duration, compound forms included ('2m30s' → 150)."""
    total, num = 0.0, ""
    i = 0
    while i < len(text):
        ch = text[i]
        if ch.isdigit():
            num += ch
            i += 1
            continue
        unit = "ms" if text[i:i + 2] == "ms" else ch
        total += int(num or 0) * (0.001 if unit == "ms" else dict(_UNITS)[unit])
        num, i = "", i + len(unit)
    return total


def period_seconds(window: str | None) -> float:
    return duration_seconds(window or DEFAULT_PERIOD) or duration_seconds(DEFAULT_PERIOD) or 2592000.0


def period_name(window: str | None) -> str:
    """The record suffix of the SLO period: '28d' → '4w' (as Sloth names `ratio_rate4w`)."""
    return prom_name(period_seconds(window))


def burn_factor(budget_fraction: float, period_s: float, long_window_s: float) -> float:
    """How many times the sustainable rate burns `budget_fraction` of the budget within the long window."""
    return round(budget_fraction * period_s / long_window_s, 10)


@dataclass(frozen=True)
class BurnCondition:
    severity: str  # page | ticket
    budget_fraction: float
    long: str
    short: str
    factor: float
    exhaust_days: float  # the whole budget is gone in this many days at this factor


def burn_conditions(window: str | None) -> list[BurnCondition]:
    """The workbook's four multiwindow conditions with factors scaled to the SLO period."""
    p = period_seconds(window)
    out = []
    for severity, fraction, long, short in WORKBOOK_WINDOWS:
        f = burn_factor(fraction, p, duration_seconds(long) or 1)
        out.append(BurnCondition(severity, fraction, long, short, f, round(p / 86400 / f, 1)))
    return out


def windows(window: str | None) -> list[str]:
    """Every window an error ratio is recorded for: the alert windows, then the period."""
    name = period_name(window)
    return list(SHORT_WINDOWS) + ([name] if name not in SHORT_WINDOWS else [])


def error_ratio(errors: str, total: str, by: str, window: str) -> str:
    """errors / total over `window`; an absent error series counts as 0 (a service that never failed
    records 0, not "no data"), while no traffic at all stays empty (there is nothing to judge)."""
    tot = f"sum by ({by}) (rate({total}[{window}]))"
    return f"(sum by ({by}) (rate({errors}[{window}])) or 0 * {tot}) / {tot}"


def ratio_from_good_fraction(query: str) -> str:
    return f"1 - ({query})"


def mean_of_recorded(record: str, selector: str, window: str) -> str:
    """The fallback for an SLI query with no range to widen: the mean of the recorded 5m ratios (Sloth's
    period formula; true only once the period has been recorded)."""
    return f"avg_over_time({record}{{{selector}}}[{window}])"


def availability(error_ratio_expr: str) -> str:
    return f"1 - {error_ratio_expr}"


def budget_remaining(period_ratio: str, budget: float) -> str:
    return f"1 - {period_ratio} / {budget!r}"


def exhaust_text(days: float) -> str:
    return f"about {days:g} days" if days >= 1 else f"about {days * 24:.0f} hours"
