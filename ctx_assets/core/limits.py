"""Sane ranges for numbers and length limits for text in a manifest.

Hostile or accidental values stop at `ctx validate` with a location instead of
failing a gate later (a 1 MB description used to validate and then fail the
size gate of every runbook). The loader already refuses NaN, infinity and
integers longer than it can convert.
"""

from __future__ import annotations

from typing import Any

from .units import duration_seconds, is_prom_duration

# Longest text per field name; every other string (unknown sections included) gets DEFAULT_TEXT_LIMIT.
TEXT_LIMITS = {"description": 2000, "summary": 500, "rationale": 1000, "rule": 1000, "question": 1000,
               "answer": 2000, "mitigation": 1000, "value": 500, "owner": 256, "name": 253, "id": 128,
               "kind": 63, "metricKey": 128, "dataSource": 1000, "epic": 128, "runbook": 2048}
DEFAULT_TEXT_LIMIT = 8192
MAX_NUMBER = 1e12  # no key result target, baseline or rate needs more
# Key-result units and their ranges (inclusive).
_UNIT_RANGE = {"%": (0.0, 100.0), "ratio": (0.0, 1.0)}
_SECONDS = {"latencyP50": (0.0, 3600.0), "latencyP99": (0.0, 3600.0)}
_WINDOW_MAX = 366 * 86400.0
_INTERVAL = (1.0, 3600.0)


def _walk(obj: Any, path: str) -> Any:
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _walk(v, f"{path}.{k}" if path else str(k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _walk(v, f"{path}[{i}]")
    else:
        yield path, obj


def _field(path: str) -> str:
    return path.rsplit(".", 1)[-1].split("[", 1)[0]


def text_problems(data: dict[str, Any]) -> list[tuple[str, str]]:
    out = []
    for path, v in _walk(data, ""):
        if isinstance(v, str):
            name = _field(path)
            limit = TEXT_LIMITS.get(name, DEFAULT_TEXT_LIMIT)
            if len(v) > limit:
                out.append((path, f"text is {len(v):,} characters; the limit for {name} is {limit:,}"))
    return out


def _number(v: Any) -> float | None:
    return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else None


def number_problems(data: dict[str, Any]) -> list[tuple[str, str]]:
    """Each field's sane range: key results, durations, intervals."""
    out: list[tuple[str, str]] = []
    strategy = data.get("strategy") if isinstance(data.get("strategy"), dict) else {}
    for i, o in enumerate(strategy.get("objectives") or []):
        for j, kr in enumerate((o or {}).get("keyResults") or [] if isinstance(o, dict) else []):
            if not isinstance(kr, dict):
                continue
            lo, hi = _UNIT_RANGE.get(kr.get("unit"), (0.0, MAX_NUMBER))
            for key in ("target", "baseline"):
                n = _number(kr.get(key))
                if n is not None and not lo <= n <= hi:
                    out.append((f"strategy.objectives[{i}].keyResults[{j}].{key}",
                                f"{n:g} is out of range for unit {kr.get('unit')!r}: expected {lo:g} to {hi:g}"))
            w = duration_seconds(str(kr["window"])) if kr.get("window") is not None else None
            if w is not None and not 60 <= w <= _WINDOW_MAX:
                out.append((f"strategy.objectives[{i}].keyResults[{j}].window",
                            "window must be between 1m and 366d"))
    spec = data.get("spec") if isinstance(data.get("spec"), dict) else {}
    req = spec.get("requirements") if isinstance(spec.get("requirements"), dict) else {}
    for key, (lo, hi) in _SECONDS.items():
        sec = duration_seconds(str(req[key])) if req.get(key) is not None else None
        if sec is not None and not lo < sec <= hi:
            out.append((f"spec.requirements.{key}", "latency must be above 0 and at most 1h"))
    obs = spec.get("observability") if isinstance(spec.get("observability"), dict) else {}
    interval = obs.get("metricsInterval")
    if interval is not None and is_prom_duration(str(interval)):
        sec = duration_seconds(str(interval).replace("y", "w"))
        if sec is None or not _INTERVAL[0] <= sec <= _INTERVAL[1]:
            out.append(("spec.observability.metricsInterval", "scrape interval must be between 1s and 1h"))
    return out
