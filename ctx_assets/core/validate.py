"""Manifest validation: schema (pydantic) plus the cross-field rules.

All problems are collected and returned at once, each located in the file.
Cross-field rules read the raw mapping defensively so they also report when
the schema pass has failed elsewhere.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ctx_assets.contracts.gates import Problem
from ctx_assets.contracts.manifest import TARGET_NAME_MAX, TARGET_NAME_RE, TIME_UNITS, V1_API_VERSION, ContextManifest

from .checksums import sha256_hex
from .limits import number_problems, text_problems
from .loader import STDIN, LoadedManifest, ManifestLoadError, parse_manifest_bytes, read_manifest
from .logql import check_logql
from .secrets import redact_text
from .sli import PROMQL_PREFIX, parse_problem, promql, substitute
from .units import (
    CHANNEL_FORMS,
    duration_seconds,
    is_availability_metric,
    is_latency_metric,
    is_prom_duration,
    parse_channel,
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


def _dns_label(value: Any, what: str) -> str | None:
    """Why `value` is not a DNS label (RFC 1123), or None. Such names reach PromQL/LogQL label
    matchers, Kubernetes objects and file names, so nothing else may pass."""
    if not isinstance(value, str):
        return None  # the schema pass reports the type
    if len(value) > TARGET_NAME_MAX or not TARGET_NAME_RE.match(value):
        return (f"{what} {value!r} must be a lowercase DNS label ([a-z0-9-], starting and ending with a letter "
                f"or digit, ≤{TARGET_NAME_MAX} chars)")
    return None


def _channel_problem(ch: Any) -> str | None:
    if not isinstance(ch, str):
        return None  # the schema pass reports the type
    if not ch.strip():
        return "an alert channel must be a non-empty string"
    if any(ord(c) < 32 or ord(c) == 127 for c in ch):
        return "an alert channel may not contain control characters or line breaks"
    if parse_channel(ch) is None:
        prefix = next(p for p in CHANNEL_FORMS if ch.startswith(p))
        forms = {"#": "'#channel' (lowercase, [a-z0-9._-])", "email:": "'email:name@example.com'",
                 "webhook:": "'webhook:https://host/path'"}
        want = forms.get(prefix, f"'{prefix}NAME' with NAME of [A-Za-z0-9._-], ≤63 chars")
        return f"{ch!r} starts like a {CHANNEL_FORMS[prefix][0]} channel but is not one: expected {want}"
    return None


_DATE_LIKE = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})(?:[Tt ](\d{1,2}):(\d{2})(?::(\d{2}))?)?")


def _date_problem(value: Any) -> str | None:
    """A value written as a date (`2026-13-45`) must be a real one (the loader keeps dates as the text
    the author wrote; YAML would have called it a timestamp)."""
    m = _DATE_LIKE.match(value) if isinstance(value, str) else None
    if m is None:
        return None
    try:
        dt.datetime(*(int(x) for x in m.groups(default="0")))
    except ValueError as e:
        return f"{value!r} is not a valid date ({e}); expected YYYY-MM-DD"
    return None


def cross_field_rules(data: dict[str, Any]) -> list[tuple[str, str]]:
    """(field path, message) for every cross-field rule broken."""
    out: list[tuple[str, str]] = []
    spec = _dict(data.get("spec"))
    seen: dict[str, int] = {}
    for i, t in enumerate(_list(spec.get("targets"))):
        t = _dict(t)
        name = t.get("name")
        if isinstance(t.get("namespace"), str) and (why := _dns_label(t["namespace"], "namespace")):
            out.append((f"spec.targets[{i}].namespace", why))
        if not isinstance(name, str) or not name:
            continue
        path = f"spec.targets[{i}].name"
        if why := _dns_label(name, "target name"):
            out.append((path, why + " so it is a safe file name"))
        if name in seen:
            out.append((path, f"duplicate target name {name!r} (first at spec.targets[{seen[name]}])"))
        seen.setdefault(name, i)
    project_id = _dict(spec.get("project")).get("id")
    id_path = "spec.project.id" if project_id is not None else "metadata.name"
    if why := _dns_label(project_id if project_id is not None else _dict(data.get("metadata")).get("name"),
                         "project id"):
        out.append((id_path, why + " (it becomes a label value and part of addresses in every artifact)"))

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
        if why := _channel_problem(ch):
            out.append((f"spec.observability.alertChannels[{i}]", why))

    meta = _dict(data.get("metadata"))
    dates = [("metadata.lastUpdated", meta.get("lastUpdated"))]
    dates += [(f"metadata.changelog[{i}].date", _dict(c).get("date"))
              for i, c in enumerate(_list(meta.get("changelog")))]
    dates += [(f"guidance.questions[{i}].answeredAt", _dict(q).get("answeredAt"))
              for i, q in enumerate(_list(_dict(data.get("guidance")).get("questions")))]
    out += [(p, why) for p, v in dates if (why := _date_problem(v))]

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
                elif why := parse_problem(promql(source) or ""):
                    out.append((f"{path}.dataSource", why))
            if kr.get("window") is not None and duration_seconds(str(kr["window"])) is None:
                out.append((f"{path}.window", f"expected a window such as \"30d\", got {kr['window']!r}"))
    for i, t in enumerate(_list(strategy.get("tactics"))):
        for j, ref in enumerate(_list(_dict(t).get("linkedObjectives"))):
            if ref not in objective_ids:
                out.append((f"strategy.tactics[{i}].linkedObjectives[{j}]",
                            f"links objective {ref!r}, which is not in strategy.objectives"))
    return out + number_problems(data) + text_problems(data)


def validate_loaded(loaded: LoadedManifest) -> tuple[ContextManifest | None, list[Problem]]:
    def problem(path: str, message: str) -> Problem:
        line, col = loaded.locate(path)
        # Messages quote values; whatever quotes a credential leaves the process redacted.
        return Problem(file=loaded.path, line=line, column=col, path=path, message=redact_text(message))

    if loaded.data.get("apiVersion") == V1_API_VERSION:  # every other message would be noise
        return None, [problem("apiVersion", f"{V1_API_VERSION} is a ContextCore v1.1 manifest; convert it to v2 "
                                            f"with `ctx migrate {loaded.path} --out NEW.contextcore.yaml`")]
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


Validated = tuple[LoadedManifest | None, ContextManifest | None, list[Problem]]
_LAST: dict[tuple[str, str], Validated] = {}


def validate_file(path: str | Path) -> Validated:
    """Memoized on the file's bytes: a build validates the same manifest in several stages (the CLI,
    the manifest and export assets), ~0.2 s each at 1,000 targets. The file is read once per call, with
    the loader's limits (`read_manifest`: regular files or `-`, size). Callers never mutate the result."""
    try:
        raw = read_manifest(path)
    except ManifestLoadError as e:
        return None, None, e.problems
    name = "<stdin>" if str(path) == STDIN else str(path)
    key = (name, sha256_hex(raw))
    if key in _LAST:
        return _LAST[key]
    try:
        loaded = parse_manifest_bytes(raw, name)
    except ManifestLoadError as e:
        return None, None, e.problems
    model, problems = validate_loaded(loaded)
    _LAST.clear()
    _LAST[key] = (loaded, model, problems)
    return loaded, model, problems
