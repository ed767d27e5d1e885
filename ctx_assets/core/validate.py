"""Manifest validation: schema (pydantic) plus the cross-field rules of SPEC §2.

All problems are collected and returned at once, each located in the file.
Cross-field rules read the raw mapping defensively so they also report when
the schema pass has failed elsewhere.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from contracts.gates import Problem
from contracts.manifest import TARGET_NAME_MAX, TARGET_NAME_RE, TIME_UNITS, ContextManifest

from .loader import LoadedManifest, ManifestLoadError, load_manifest_file, parse_manifest_bytes
from .logql import check_logql
from .sli import PROMQL_PREFIX, promql, substitute, unbalanced
from .units import (
    channel_kind,
    duration_seconds,
    is_availability_metric,
    is_latency_metric,
    is_prom_duration,
    percent,
)

_METRIC_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")


def _loc_path(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _list(v: Any) -> list[Any]:
    return v if isinstance(v, list) else []


def _dict(v: Any) -> dict[str, Any]:
    return v if isinstance(v, dict) else {}


def cross_field_rules(data: dict[str, Any]) -> list[tuple[str, str]]:
    """(field path, message) for every cross-field rule broken."""
    out: list[tuple[str, str]] = []
    spec = _dict(data.get("spec"))
    seen: dict[str, int] = {}
    for i, t in enumerate(_list(spec.get("targets"))):
        name = _dict(t).get("name")
        if not isinstance(name, str) or not name:
            continue
        path = f"spec.targets[{i}].name"
        if len(name) > TARGET_NAME_MAX or not TARGET_NAME_RE.match(name):
            out.append((path, f"target name {name!r} must be a lowercase DNS label "
                              f"([a-z0-9-], ≤{TARGET_NAME_MAX} chars) so it is a safe file name"))
        if name in seen:
            out.append((path, f"duplicate target name {name!r} (first at spec.targets[{seen[name]}])"))
        seen.setdefault(name, i)

    req = _dict(spec.get("requirements"))
    if req.get("availability") is not None and percent(str(req["availability"])) is None:
        out.append(("spec.requirements.availability",
                    f"expected a percentage between 0 and 100 such as \"99.95\", got {req['availability']!r}"))
    for key in ("latencyP50", "latencyP99"):
        if req.get(key) is not None and duration_seconds(str(req[key])) is None:
            out.append((f"spec.requirements.{key}", f"expected a duration such as \"200ms\", got {req[key]!r}"))

    obs = _dict(spec.get("observability"))
    if obs.get("metricsInterval") is not None and not is_prom_duration(str(obs["metricsInterval"])):
        out.append(("spec.observability.metricsInterval",
                    f"expected a Prometheus duration such as \"30s\", got {obs['metricsInterval']!r}"))
    for i, lm in enumerate(_list(obs.get("logMetrics"))):
        path = f"spec.observability.logMetrics[{i}]"
        lm = _dict(lm)
        if not isinstance(lm.get("record"), str) or not _METRIC_NAME.match(lm["record"]):
            out.append((f"{path}.record",
                        f"expected a metric name such as \"app:errors:rate5m\", got {lm.get('record')!r}"))
        problems = check_logql(substitute(str(lm.get("expr", "")), "target", "namespace"), require_metric=True)
        out += [(f"{path}.expr", p) for p in problems]
    for i, ch in enumerate(_list(obs.get("alertChannels"))):
        if not isinstance(ch, str) or channel_kind(ch) is None:
            out.append((f"spec.observability.alertChannels[{i}]",
                        f"expected '#slack-channel', 'pagerduty:SERVICE' or 'email:ADDRESS', got {ch!r}"))

    strategy = _dict(data.get("strategy"))
    objective_ids = {_dict(o).get("id") for o in _list(strategy.get("objectives"))}
    for i, o in enumerate(_list(strategy.get("objectives"))):
        for j, kr in enumerate(_list(_dict(o).get("keyResults"))):
            kr = _dict(kr)
            path = f"strategy.objectives[{i}].keyResults[{j}]"
            key = str(kr.get("metricKey", ""))
            unit = kr.get("unit")
            if is_availability_metric(key) and unit != "%":
                out.append((f"{path}.unit", f"availability key result must use unit '%', got {unit!r}"))
            if is_latency_metric(key) and unit not in TIME_UNITS:
                out.append((f"{path}.unit",
                            f"latency key result must use a time unit (ms or s), got {unit!r}"))
            source = kr.get("dataSource")
            if isinstance(source, str) and source.lower().startswith(PROMQL_PREFIX):
                if promql(source) is None:
                    out.append((f"{path}.dataSource", "expected a PromQL query after 'promql:'"))
                elif unbalanced(promql(source) or ""):
                    out.append((f"{path}.dataSource", f"PromQL has {unbalanced(promql(source) or '')}"))
            if kr.get("window") is not None and duration_seconds(str(kr["window"])) is None:
                out.append((f"{path}.window", f"expected a window such as \"30d\", got {kr['window']!r}"))
    for i, t in enumerate(_list(strategy.get("tactics"))):
        for j, ref in enumerate(_list(_dict(t).get("linkedObjectives"))):
            if ref not in objective_ids:
                out.append((f"strategy.tactics[{i}].linkedObjectives[{j}]",
                            f"links objective {ref!r}, which is not in strategy.objectives"))
    return out


def validate_loaded(loaded: LoadedManifest) -> tuple[ContextManifest | None, list[Problem]]:
    def problem(path: str, message: str) -> Problem:
        line, col = loaded.locate(path)
        return Problem(file=loaded.path, line=line, column=col, path=path, message=message)

    problems: list[Problem] = []
    model: ContextManifest | None = None
    try:
        model = ContextManifest.model_validate(loaded.data)
    except ValidationError as e:
        for err in e.errors():
            msg = err["msg"]
            if err["type"] == "missing":
                msg = "required field is missing"
            elif err["type"] == "too_short" and "targets" in err["loc"]:
                msg = "at least one target is required (nothing to generate otherwise)"
            problems.append(problem(_loc_path(err["loc"]), msg))
    problems += [problem(path, msg) for path, msg in cross_field_rules(loaded.data)]
    problems.sort(key=lambda p: (p.line, p.column, p.path))
    return (model if not problems else None), problems


def validate_bytes(raw: bytes, file: str) -> tuple[LoadedManifest | None, ContextManifest | None, list[Problem]]:
    try:
        loaded = parse_manifest_bytes(raw, file)
    except ManifestLoadError as e:
        return None, None, e.problems
    model, problems = validate_loaded(loaded)
    return loaded, model, problems


def validate_file(path: str | Path) -> tuple[LoadedManifest | None, ContextManifest | None, list[Problem]]:
    try:
        loaded = load_manifest_file(path)
    except ManifestLoadError as e:
        return None, None, e.problems
    model, problems = validate_loaded(loaded)
    return loaded, model, problems
