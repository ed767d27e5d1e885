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


def _f(default: Any = ..., description: str = "", examples: list[Any] | None = None, **kw: Any) -> Any:
    """A field with its reference text: `ctx schema` and docs/manifest.md are generated from these."""
    return Field(default, description=description, examples=examples, **kw)


class Owner(_Model):
    """A team that owns the project: escalation in the runbook, Dagster asset owners."""

    team: str | None = _f(None, "Team name.", ["payments"])
    slack: str | None = _f(None, "Team Slack channel.", ["#payments"])
    email: str | None = _f(None, "Team e-mail address.", ["payments@example.com"])
    oncall: str | None = _f(None, "On-call rotation (free text, e.g. a PagerDuty service).",
                            ["pagerduty:payments-primary"])


class ChangelogEntry(_Model):
    """One change to the manifest."""

    date: str | None = _f(None, "YYYY-MM-DD; must be a real date.", ["2026-01-15"])
    version: str | None = _f(None, "Version of the manifest.", ["1.2.0"])
    actor: str | None = _f(None, "Who made the change.", ["payments-maintainers"])
    summary: str = _f(..., "What changed (required).", ["Raised availability to 99.95"])


class Metadata(_Model):
    """Who and what the manifest describes."""

    name: str = _f(..., "Project name (required). The project id when spec.project.id is absent, and the "
                        "default output folder out/<name>.", ["checkout"], min_length=1)
    owners: list[Owner] = _f(default_factory=list, description="Owning teams.")
    changelog: list[ChangelogEntry] = _f(default_factory=list, description="Changes, newest last.")
    last_updated: str | None = _f(None, "Date of the last change (YYYY-MM-DD).", ["2026-01-15"])
    links: dict[str, str] = _f(default_factory=dict, description="Named URLs. `runbook` and `grafana`/`dashboard` "
                               "make the bundle's runbook and dashboard links absolute.",
                               examples=[{"repository": "https://git.example.com/checkout",
                                          "grafana": "https://grafana.example.com"}])


class Project(_Model):
    """The project as a whole."""

    id: str | None = _f(None, "Project id: a lowercase DNS label (asset key prefix, label value in every "
                              "artifact). Default: metadata.name.", ["checkout"])
    name: str | None = _f(None, "Display name.", ["Checkout"])
    description: str | None = _f(None, "One sentence on what it does (≤2,000 characters).",
                                 ["Takes payment for a basket"])
    epic: str | None = _f(None, "Epic id the build's root span carries (task.id).", ["EPIC-42"])


class Business(_Model):
    """Why the project matters: criticality sets alert severities and routing."""

    criticality: Criticality = _f(Criticality.medium, "critical → P1 … low → P4 alert severities.", ["high"])
    value: str | None = _f(None, "Business value, free text.", ["revenue-generating"])
    owner: str | None = _f(None, "Business owner.", ["payments"])
    cost_center: str | None = _f(None, "Cost center.", ["CC-1234"])
    stakeholders: list[str] = _f(default_factory=list, description="Stakeholders.", examples=[["product"]])


class Requirements(_Model):
    """Service-level requirements, as strings (a bare number is read as its text)."""

    availability: str | None = _f(None, "Availability SLO in percent, 0–100: the SLO of every target.",
                                  ["99.95"])
    latency_p50: str | None = _f(None, "p50 latency goal: a duration.", ["100ms"], alias="latencyP50")
    latency_p99: str | None = _f(None, "p99 latency goal: a duration; drives the latency alert.", ["250ms"],
                                 alias="latencyP99")
    error_budget: str | None = _f(None, "Error budget, free text.", ["0.05%"])
    throughput: str | None = _f(None, "Expected throughput, free text.", ["5000rps"])

    @field_validator("availability", "latency_p50", "latency_p99", "error_budget", "throughput",
                     mode="before")
    @classmethod
    def _numbers_as_strings(cls, v: Any) -> Any:
        # `availability: 99.95` unquoted is a float in YAML; ContextCore means the string.
        return str(v) if isinstance(v, int | float) and not isinstance(v, bool) else v


class Risk(_Model):
    """A risk and its mitigation: the runbook's Risks section."""

    type: RiskType = _f(..., "Kind of risk (required).", ["availability"])
    description: str = _f(..., "The risk (required).", ["A single replica takes the service down"])
    priority: RiskPriority = _f(RiskPriority.P3, "P1 (highest) … P4.", ["P2"])
    mitigation: str | None = _f(None, "What is done about it. Never a credential: a secret anywhere in the "
                                      "manifest blocks the whole project (secret_scan).",
                                ["Run two replicas with a PodDisruptionBudget"])
    controls: list[str] = _f(default_factory=list, description="Controls in place.", examples=[["PDB"]])


class Target(_Model):
    """A workload to observe: one bundle (seven artifacts) per target."""

    kind: str = _f(..., "Kubernetes kind (required).", ["Deployment"], min_length=1)
    name: str = _f(..., "Target name (required): a lowercase DNS label, unique; it becomes file names, the "
                        "`job` label and $target in queries.", ["checkout-api"], min_length=1)
    namespace: str = _f("default", "Kubernetes namespace: a lowercase DNS label; $namespace in queries.",
                        ["shop"])


class Observability(_Model):
    """How the targets are observed and alerted."""

    trace_sampling: float | None = _f(None, "Trace sampling ratio, 0–1.", [0.1], ge=0, le=1)
    metrics_interval: str = _f("30s", "Scrape interval: a Prometheus duration.", ["30s"])
    log_level: str | None = _f(None, "Log level, free text.", ["info"])
    dashboard_placement: DashboardPlacement = _f(DashboardPlacement.standard, "Dashboard tag and folder.",
                                                 ["featured"])
    alert_channels: list[str] = _f(
        default_factory=list, description="Receivers: `#channel` or `slack:#channel`, `pagerduty:SERVICE`, "
        "`opsgenie:TEAM`, `email:ADDRESS`, `webhook:URL`; any other name is a receiver you complete. Never a "
        "credential (a Slack webhook URL is refused: its secret is read from a file).",
        examples=[["#checkout-alerts", "pagerduty:checkout-primary", "email:oncall@example.com"]])
    runbook: str | None = _f(None, "Base URL of the published runbooks (absolute runbook_url annotations).",
                             ["https://runbooks.example.com/checkout"])


class Spec(_Model):
    """What to build and to what standard."""

    project: Project = _f(default_factory=Project, description="The project.")
    business: Business = _f(default_factory=Business, description="Criticality and ownership.")
    requirements: Requirements = _f(default_factory=Requirements, description="SLO requirements.")
    risks: list[Risk] = _f(default_factory=list, description="Risks, in the runbook.")
    targets: list[Target] = _f(..., "Workloads (at least one).", min_length=1)
    observability: Observability = _f(default_factory=Observability, description="Scraping, dashboards, "
                                      "alert channels.")


class KeyResult(_Model):
    """A measurable key result. With a `promql:` dataSource it drives SLIs and alerts (see below)."""

    metric_key: str = _f(..., "Metric name (required). Containing `availability` or `success_rate` it is an "
                              "availability key result (unit %); containing `latency` or `duration` a latency "
                              "one (unit ms or s).", ["availability"])
    unit: MetricUnit = _f(..., "Unit (required).", ["%"])
    target: float = _f(..., "Target value in `unit` (required).", [99.95])
    target_operator: TargetOperator | None = _f(None, "gte / lte / eq. Default: gte for availability, lte "
                                                      "for latency, else eq.", ["gte"])
    baseline: float | None = _f(None, "Current value, for reference.", [99.5])
    window: str | None = _f(None, "Window: the SLO period of an availability SLI (default 30d).", ["30d"])
    data_source: str | None = _f(
        None, "How it is measured: `promql:<PromQL>` (parsed with the Prometheus grammar; `$target` and "
        "`$namespace` are each target's name and namespace) or any other text such as `prometheus` "
        "(documentation only: project-level, drawn on the overview dashboard).",
        ['promql:avg_over_time(up{job="$target"}[30d])', "prometheus"])


class Objective(_Model):
    """An objective and its key results."""

    id: str = _f(..., "Objective id (required); tactics link to it.", ["OBJ-1"])
    description: str = _f(..., "The objective (required).", ["Checkout is always available"])
    key_results: list[KeyResult] = _f(default_factory=list, description="Key results.")


class Tactic(_Model):
    """A tactic serving objectives."""

    id: str = _f(..., "Tactic id (required).", ["TAC-1"])
    description: str = _f(..., "The tactic (required).", ["Canary every release"])
    status: str | None = _f(None, "Status, free text.", ["in_progress"])
    linked_objectives: list[str] = _f(default_factory=list, description="Objective ids; each must exist.",
                                      examples=[["OBJ-1"]])


class Strategy(_Model):
    """Objectives, key results and tactics."""

    objectives: list[Objective] = _f(default_factory=list, description="Objectives.")
    tactics: list[Tactic] = _f(default_factory=list, description="Tactics.")
    strategy_groups: list[dict[str, Any]] = _f(default_factory=list, description="Passed through.")


class Constraint(_Model):
    """A design constraint: reaches the plan (seed) of the artifacts it applies to."""

    id: str = _f(..., "Constraint id (required).", ["C-1"])
    rule: str = _f(..., "The rule (required).", ["Every alert links a runbook"])
    severity: ConstraintSeverity = _f(ConstraintSeverity.blocking, "blocking / warning / advisory.", ["warning"])
    rationale: str | None = _f(None, "Why.", ["On-call needs the procedure"])
    applies_to: list[str] = _f(default_factory=list, description="Artifact types or targets it applies to.",
                               examples=[["prometheus_rule"]])


class Question(_Model):
    """An open design question: a span in the trace, linked to the artifacts it constrains."""

    id: str = _f(..., "Question id (required).", ["Q-1"])
    question: str = _f(..., "The question (required); words like dashboard, alert, runbook scope it.",
                       ["Should the dashboard show per-region panels?"])
    status: QuestionStatus = _f(QuestionStatus.open, "open / answered / deferred.", ["open"])
    priority: str = _f("medium", "Priority, free text.", ["high"])
    answer: str | None = _f(None, "The answer, once answered.", ["Yes, from v2"])
    answered_by: str | None = _f(None, "Who answered.", ["sre-team"])
    answered_at: str | None = _f(None, "When (YYYY-MM-DD).", ["2026-02-01"])


class Guidance(_Model):
    """Guidance for the artifacts' design."""

    focus: Any = _f(None, "Focus, passed through.")
    constraints: list[Constraint] = _f(default_factory=list, description="Design constraints.")
    preferences: list[Any] = _f(default_factory=list, description="Passed through.")
    questions: list[Question] = _f(default_factory=list, description="Design questions.")


class ContextManifest(_Model):
    """A ContextCore context manifest v2. Unknown fields and sections are kept and passed through
    (ContextCore compatibility)."""

    api_version: str = _f(API_VERSION, "Must be `contextcore.io/v1alpha2` (v1alpha1: run `ctx migrate`).",
                          [API_VERSION], json_schema_extra={"const": API_VERSION})
    kind: str = _f(KIND, "Must be `ContextManifest`.", [KIND], json_schema_extra={"const": KIND})
    metadata: Metadata = _f(..., "Name, owners, changelog, links (required).")
    spec: Spec = _f(..., "Targets and requirements (required).")
    strategy: Strategy = _f(default_factory=Strategy, description="Objectives and key results.")
    guidance: Guidance = _f(default_factory=Guidance, description="Constraints and questions.")
    insights: list[Any] = _f(default_factory=list, description="Passed through.")
    state: Any = _f(None, "Passed through.")

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
