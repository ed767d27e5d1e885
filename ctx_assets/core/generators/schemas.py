"""Typed models of each output format: enough to catch malformed output in the product.

The upstream schemas (CRDs, OpenSLO, Grafana) are checked in the conformance
tests; these run on every artifact of every build (artifact_schema gate).
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .. import conventions as cv

_DNS = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
_DURATION = r"^(\d+(ms|s|m|h|d|w|y))+$"


class _M(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)


def check_model(model: type[BaseModel], doc: Any) -> list[tuple[str, str]]:
    try:
        model.model_validate(doc)
    except ValidationError as e:
        return [(".".join(str(x) for x in err["loc"]) or "(document)", err["msg"]) for err in e.errors()]
    return []


_QUOTED = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_BRACKETS = re.compile(r"[(){}\[\]\"'`]")
_OPEN = {")": "(", "}": "{", "]": "["}


def _balanced(expr: str) -> str:
    """Brackets nest and quotes close, outside string literals (regexes do the scanning)."""
    stack: list[str] = []
    for ch in _BRACKETS.findall(_QUOTED.sub("", expr)):
        if ch in "\"'`":
            raise ValueError("unbalanced quotes")
        if ch in "({[":
            stack.append(ch)
        elif not stack or stack.pop() != _OPEN[ch]:
            raise ValueError(f"unbalanced {ch!r}")
    if stack:
        raise ValueError("unbalanced brackets")
    return expr


class K8sMeta(_M):
    name: str = Field(pattern=_DNS, max_length=253)
    namespace: str = Field(pattern=_DNS)
    annotations: dict[str, str]

    @field_validator("annotations")
    @classmethod
    def _provenance(cls, v: dict[str, str]) -> dict[str, str]:
        for key in (cv.ANNOTATION_ARTIFACT_ID, cv.ANNOTATION_SOURCE_CHECKSUM):
            if not v.get(key):
                raise ValueError(f"missing {key}")
        return v


class Endpoint(_M):
    port: str = Field(min_length=1)
    interval: str = Field(pattern=_DURATION)
    scrapeTimeout: str | None = Field(default=None, pattern=_DURATION)


class ServiceMonitorSpec(_M):
    selector: dict[str, Any]
    endpoints: list[Endpoint] = Field(min_length=1)


class ServiceMonitorModel(_M):
    apiVersion: Literal["monitoring.coreos.com/v1"]
    kind: Literal["ServiceMonitor"]
    metadata: K8sMeta
    spec: ServiceMonitorSpec


class Rule(_M):
    record: str | None = Field(default=None, pattern=r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
    alert: str | None = Field(default=None, pattern=r"^[a-zA-Z_][a-zA-Z0-9_]*$")
    expr: str = Field(min_length=1)
    for_: str | None = Field(default=None, alias="for", pattern=_DURATION)
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)

    _expr = field_validator("expr")(lambda cls, v: _balanced(v))

    @model_validator(mode="after")
    def _one_kind(self) -> Rule:
        if bool(self.record) == bool(self.alert):
            raise ValueError("a rule has exactly one of record or alert")
        return self


class AlertRule(Rule):
    @model_validator(mode="after")
    def _alert_annotations(self) -> AlertRule:
        if self.alert:
            missing = {"summary", "description", "runbook_url"} - set(self.annotations)
            if missing:
                raise ValueError(f"alert {self.alert} lacks annotations {sorted(missing)}")
            if "severity" not in self.labels:
                raise ValueError(f"alert {self.alert} lacks a severity label")
        return self


class RuleGroup(_M):
    name: str = Field(min_length=1)
    interval: str | None = Field(default=None, pattern=_DURATION)
    rules: list[AlertRule] = Field(min_length=1)


class PrometheusRuleModel(_M):
    apiVersion: Literal["monitoring.coreos.com/v1"]
    kind: Literal["PrometheusRule"]
    metadata: K8sMeta
    spec: dict[Literal["groups"], list[RuleGroup]]


class LokiRulesModel(_M):
    groups: list[RuleGroup] = Field(min_length=1)


class MetricSource(_M):
    metricSource: dict[str, Any]


class RatioMetric(_M):
    counter: bool
    good: MetricSource
    total: MetricSource


class Objective(_M):
    target: float = Field(gt=0, lt=1)


class SLOSpec(_M):
    service: str
    indicator: dict[str, Any]
    timeWindow: list[dict[str, Any]] = Field(min_length=1, max_length=1)
    budgetingMethod: Literal["Occurrences", "Timeslices", "RatioTimeslices"]
    objectives: list[Objective] = Field(min_length=1)

    @field_validator("indicator")
    @classmethod
    def _ratio(cls, v: dict[str, Any]) -> dict[str, Any]:
        RatioMetric.model_validate(v.get("spec", {}).get("ratioMetric"))
        return v


class OpenSLOModel(_M):
    apiVersion: Literal["openslo/v1"]
    kind: Literal["SLO"]
    metadata: dict[str, Any]
    spec: SLOSpec


class Route(_M):
    receiver: str | None = None
    matchers: list[str] = Field(default_factory=list)
    routes: list[Route] = Field(default_factory=list)


class Receiver(_M):
    name: str = Field(min_length=1)


class AlertmanagerModel(_M):
    route: Route
    receivers: list[Receiver] = Field(min_length=1)
    inhibit_rules: list[dict[str, Any]] = Field(default_factory=list)

    @model_validator(mode="after")
    def _receivers_exist(self) -> AlertmanagerModel:
        if not self.route.receiver:
            raise ValueError("the root route needs a receiver")
        _routes_use_defined_receivers(self.route, self.receivers)
        return self


class CrRoute(_M):
    receiver: str | None = None
    matchers: list[dict[str, str]] = Field(default_factory=list)
    routes: list[CrRoute] = Field(default_factory=list)


class AlertmanagerConfigSpec(_M):
    route: CrRoute
    receivers: list[Receiver] = Field(min_length=1)
    inhibitRules: list[dict[str, Any]] = Field(default_factory=list)

    @model_validator(mode="after")
    def _receivers_exist(self) -> AlertmanagerConfigSpec:
        _routes_use_defined_receivers(self.route, self.receivers)
        return self


def _routes_use_defined_receivers(route: Any, receivers: list[Receiver]) -> None:
    """Receiver names are unique and every route in the tree names one of them."""
    names = [r.name for r in receivers]
    if len(set(names)) != len(names):
        raise ValueError("receiver names must be unique")
    stack = [route]
    while stack:
        r = stack.pop()
        if r.receiver and r.receiver not in names:
            raise ValueError(f"route uses undefined receiver {r.receiver!r}")
        stack += r.routes


class AlertmanagerConfigModel(_M):
    apiVersion: Literal["monitoring.coreos.com/v1alpha1"]
    kind: Literal["AlertmanagerConfig"]
    metadata: K8sMeta
    spec: AlertmanagerConfigSpec


def check_dashboard(doc: dict[str, Any]) -> list[tuple[str, str]]:
    """What the Grafana JSON schema does not check: overlap, 24 columns, unique ids and refIds."""
    out: list[tuple[str, str]] = []
    for key in ("uid", "title", "panels", "schemaVersion"):
        if not doc.get(key):
            out.append((key, "required"))
    if doc.get("uid") and (len(doc["uid"]) > 40 or not re.match(r"^[a-zA-Z0-9_-]+$", doc["uid"])):
        out.append(("uid", "must be ≤ 40 characters of [a-zA-Z0-9_-]"))
    placed: list[tuple[int, int, int, int, object]] = []
    ids: set[int] = set()
    for i, panel in enumerate(doc.get("panels", [])):
        g, pid = panel.get("gridPos") or {}, panel.get("id")
        if pid in ids:
            out.append((f"panels[{i}].id", f"duplicate panel id {pid}"))
        ids.add(pid)
        x, y, w, h = g.get("x", -1), g.get("y", -1), g.get("w", 0), g.get("h", 0)
        if x < 0 or y < 0 or w <= 0 or h <= 0 or x + w > 24:
            out.append((f"panels[{i}].gridPos", f"invalid position {g} (x + w must be ≤ 24)"))
            continue
        other = next((o for o in placed if x < o[0] + o[2] and o[0] < x + w and y < o[1] + o[3] and o[1] < y + h),
                     None)
        if other is not None:
            out.append((f"panels[{i}].gridPos", f"overlaps panel {other[4]}"))
        placed.append((x, y, w, h, pid))
        refs = [t.get("refId") for t in panel.get("targets", [])]
        if len(set(refs)) != len(refs):
            out.append((f"panels[{i}].targets", "duplicate refId"))
    return out


def check_markdown_headings(text: str, sections: list[str]) -> list[tuple[str, str]]:
    headings = {line[3:].strip() for line in text.splitlines() if line.startswith("## ")}
    return [(f"## {s}", "section missing") for s in sections if s not in headings]
