"""Context manifest v2 (`contextcore.io/v1alpha2`, kind ContextManifest).

Every model allows extra fields: a manifest ContextCore accepts must load and
dump here unchanged, so unknown sections and fields ride along untouched.
Field names are snake_case in Python and camelCase in YAML (aliases).
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic.alias_generators import to_camel

API_VERSION = "contextcore.io/v1alpha2"
V1_API_VERSION = "contextcore.io/v1alpha1"  # ContextCore v1.1: `ctx migrate` converts it
KIND = "ContextManifest"
# Target names become file names and Kubernetes object names (DNS-1123 label).
TARGET_NAME_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
TARGET_NAME_MAX = 63


class _Model(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="allow", use_enum_values=True,
        allow_inf_nan=False,
    )

    def dump(self) -> dict[str, Any]:
        """camelCase dict with unknown fields preserved and unset defaults left out."""
        return self.model_dump(by_alias=True, exclude_unset=True, mode="json")


class Criticality(StrEnum):
    critical = "critical"
    high = "high"
    medium = "medium"
    low = "low"


class RiskType(StrEnum):
    security = "security"
    compliance = "compliance"
    data_integrity = "data-integrity"
    availability = "availability"
    financial = "financial"
    reputational = "reputational"


class RiskPriority(StrEnum):
    P1 = "P1"
    P2 = "P2"
    P3 = "P3"
    P4 = "P4"


class DashboardPlacement(StrEnum):
    featured = "featured"
    standard = "standard"
    archived = "archived"


class MetricUnit(StrEnum):
    percent = "%"
    ms = "ms"
    s = "s"
    rps = "rps"
    rpm = "rpm"
    count = "count"
    ratio = "ratio"


TIME_UNITS = frozenset({MetricUnit.ms.value, MetricUnit.s.value})


class TargetOperator(StrEnum):
    gte = "gte"
    lte = "lte"
    eq = "eq"


class ConstraintSeverity(StrEnum):
    blocking = "blocking"
    warning = "warning"
    advisory = "advisory"


class QuestionStatus(StrEnum):
    open = "open"
    answered = "answered"
    deferred = "deferred"


class Owner(_Model):
    team: str | None = None
    slack: str | None = None
    email: str | None = None
    oncall: str | None = None


class ChangelogEntry(_Model):
    date: str | None = None
    version: str | None = None
    actor: str | None = None
    summary: str


class Metadata(_Model):
    name: str = Field(min_length=1)
    owners: list[Owner] = Field(default_factory=list)
    changelog: list[ChangelogEntry] = Field(default_factory=list)
    last_updated: str | None = None
    links: dict[str, str] = Field(default_factory=dict)


class Project(_Model):
    id: str | None = None
    name: str | None = None
    description: str | None = None
    epic: str | None = None


class Business(_Model):
    criticality: Criticality = Criticality.medium
    value: str | None = None
    owner: str | None = None
    cost_center: str | None = None
    stakeholders: list[str] = Field(default_factory=list)


class Requirements(_Model):
    availability: str | None = None
    latency_p50: str | None = Field(default=None, alias="latencyP50")
    latency_p99: str | None = Field(default=None, alias="latencyP99")
    error_budget: str | None = None
    throughput: str | None = None

    @field_validator("availability", "latency_p50", "latency_p99", "error_budget", "throughput",
                     mode="before")
    @classmethod
    def _numbers_as_strings(cls, v: Any) -> Any:
        # `availability: 99.95` unquoted is a float in YAML; ContextCore means the string.
        return str(v) if isinstance(v, int | float) and not isinstance(v, bool) else v


class Risk(_Model):
    type: RiskType
    description: str
    priority: RiskPriority = RiskPriority.P3
    mitigation: str | None = None
    controls: list[str] = Field(default_factory=list)


class Target(_Model):
    kind: str = Field(min_length=1)
    name: str = Field(min_length=1)
    namespace: str = "default"


class Observability(_Model):
    trace_sampling: float | None = Field(default=None, ge=0, le=1)
    metrics_interval: str = "30s"
    log_level: str | None = None
    dashboard_placement: DashboardPlacement = DashboardPlacement.standard
    alert_channels: list[str] = Field(default_factory=list)
    runbook: str | None = None


class Spec(_Model):
    project: Project = Field(default_factory=Project)
    business: Business = Field(default_factory=Business)
    requirements: Requirements = Field(default_factory=Requirements)
    risks: list[Risk] = Field(default_factory=list)
    targets: list[Target] = Field(min_length=1)
    observability: Observability = Field(default_factory=Observability)


class KeyResult(_Model):
    metric_key: str
    unit: MetricUnit
    target: float
    target_operator: TargetOperator | None = None
    baseline: float | None = None
    window: str | None = None
    data_source: str | None = None


class Objective(_Model):
    id: str
    description: str
    key_results: list[KeyResult] = Field(default_factory=list)


class Tactic(_Model):
    id: str
    description: str
    status: str | None = None
    linked_objectives: list[str] = Field(default_factory=list)


class Strategy(_Model):
    objectives: list[Objective] = Field(default_factory=list)
    tactics: list[Tactic] = Field(default_factory=list)
    strategy_groups: list[dict[str, Any]] = Field(default_factory=list)


class Constraint(_Model):
    id: str
    rule: str
    severity: ConstraintSeverity = ConstraintSeverity.blocking
    rationale: str | None = None
    applies_to: list[str] = Field(default_factory=list)


class Question(_Model):
    id: str
    question: str
    status: QuestionStatus = QuestionStatus.open
    priority: str = "medium"
    answer: str | None = None
    answered_by: str | None = None
    answered_at: str | None = None


class Guidance(_Model):
    focus: Any = None
    constraints: list[Constraint] = Field(default_factory=list)
    preferences: list[Any] = Field(default_factory=list)
    questions: list[Question] = Field(default_factory=list)


class ContextManifest(_Model):
    api_version: str = Field(default=API_VERSION)
    kind: str = Field(default=KIND)
    metadata: Metadata
    spec: Spec
    strategy: Strategy = Field(default_factory=Strategy)
    guidance: Guidance = Field(default_factory=Guidance)
    insights: list[Any] = Field(default_factory=list)
    state: Any = None

    @field_validator("api_version")
    @classmethod
    def _api_version(cls, v: str) -> str:
        if v != API_VERSION:
            raise ValueError(f"expected {API_VERSION!r}")
        return v

    @field_validator("kind")
    @classmethod
    def _kind(cls, v: str) -> str:
        if v != KIND:
            raise ValueError(f"expected {KIND!r}")
        return v

    @property
    def project_id(self) -> str:
        return self.spec.project.id or self.metadata.name
