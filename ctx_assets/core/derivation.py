"""How each artifact's parameters follow from the manifest: rules (the audit trail) and values.

`DERIVATION_RULES` documents every business → artifact mapping, for every type
(loki_rule included, problem statement §1.3). `resolve_parameters` computes the
concrete values, so DESIGN never re-derives them from source pointers (§1.1).
"""

from __future__ import annotations

import hashlib
from typing import Any
from urllib.parse import urlsplit

from ctx_assets.contracts.artifacts import ArtifactType as T
from ctx_assets.contracts.export import DerivationRule
from ctx_assets.contracts.manifest import ContextManifest, Target

from . import conventions as cv
from . import slo_math as sm
from .artifact_types import output_path
from .sli import SliSources, bound_targets, source_query, split_ratio, substitute, target_text, to_base_unit
from .units import duration_seconds, is_availability_metric, is_latency_metric, matcher, parse_channel, percent


def _r(prop: str, source: str, transformation: str, rationale: str) -> DerivationRule:
    return DerivationRule(property=prop, source_field=source, transformation=transformation, rationale=rationale)


_TARGET = [
    _r("namespace", "spec.targets[].namespace", "copied", "objects live beside the workload"),
    _r("selector", "spec.targets[].name", "job label / app.kubernetes.io/name", "one bundle per workload"),
]
DERIVATION_RULES: dict[T, list[DerivationRule]] = {
    T.service_monitor: _TARGET + [
        _r("interval", "spec.observability.metricsInterval", "copied (Prometheus duration)",
           "scrape as often as the team asked"),
    ],
    T.slo_definition: _TARGET + [
        _r("target_fraction", "spec.requirements.availability", "percent / 100", "OpenSLO targets are fractions"),
        _r("window", "strategy.objectives[].keyResults[metricKey~availability].window", "rolling window; 30d default",
           "the objective's own evaluation window"),
        _r("budgeting_method", "constant", "Occurrences", "request-based SLI"),
    ],
    T.prometheus_rule: _TARGET + [
        _r("severity", "spec.business.criticality", "critical→P1, high→P2, medium→P3, low→P4",
           "page hard only for what matters most"),
        _r("objective", "spec.requirements.availability", "percent / 100 → error budget 1 - objective",
           "burn rates are multiples of the budget"),
        _r("latency_p99_seconds", "spec.requirements.latencyP99", "duration → seconds", "latency alert threshold"),
        _r("runbook_url", "spec.observability.runbook", "base + runbooks/{target}-runbook.md#alert",
           "every alert links its runbook section"),
        _r("dashboard_url", "metadata.links.dashboard", "grafana base + /d/{uid}", "every alert links its dashboard"),
    ],
    T.loki_rule: _TARGET + [
        _r("log_selectors", "spec.targets[].namespace, spec.targets[].name", '{namespace="…", app="…"}',
           "select the workload's own streams only"),
        _r("log_format", "spec.observability.logFormat", "json (default) | logfmt | plain → parser stage",
           "the error filter must match the log format"),
        _r("burst_threshold_per_second", "spec.business.criticality", "critical 1, high 2, medium 5, low 10",
           "more critical services alert on smaller bursts"),
    ],
    T.dashboard: _TARGET + [
        _r("placement", "spec.observability.dashboardPlacement", "tag and folder", "featured dashboards surface first"),
        _r("refresh", "spec.observability.metricsInterval", "copied", "no faster than the scrape"),
        _r("objective", "spec.requirements.availability", "percent / 100", "SLO stat thresholds"),
        _r("key_results", "strategy.objectives[].keyResults", "one KPI panel each with operator and window",
           "business KPIs next to the SLO"),
    ],
    T.notification_policy: _TARGET + [
        _r("receivers", "spec.observability.alertChannels",
           "#chan → slack, pagerduty:X → pagerduty, email:A → email, opsgenie:X → opsgenie, webhook:X → webhook; "
           "any other name → a receiver of that name to complete", "route to where the team listens"),
        _r("page_severity", "spec.business.criticality", "critical/high → critical, else warning",
           "pages go to pagers, tickets to chat and mail"),
        _r("repeat_interval", "spec.business.criticality", "critical 1h, high 2h, medium 4h, low 12h",
           "re-notify sooner for critical services"),
    ],
    T.runbook: _TARGET + [
        _r("risks", "spec.risks[]", "one section each with mitigation and controls", "known failure modes first"),
        _r("owners", "metadata.owners[]", "escalation table", "who to call"),
        _r("alerts", "prometheus_rule + loki_rule alert names", "one section each (Meaning, Impact, Diagnosis, "
           "Mitigation)", "every runbook_url resolves to a heading"),
    ],
}

_BURST = {"critical": 1, "high": 2, "medium": 5, "low": 10}
_REPEAT = {"critical": "1h", "high": "2h", "medium": "4h", "low": "12h"}
PRIORITY_BY_CRITICALITY = {
    "critical": {t: "required" for t in T},
    "high": {t: "required" for t in T},
    "medium": {T.service_monitor: "required", T.slo_definition: "required", T.prometheus_rule: "required",
               T.dashboard: "required", T.loki_rule: "recommended", T.notification_policy: "recommended",
               T.runbook: "recommended"},
    "low": {T.service_monitor: "required", T.dashboard: "required", T.slo_definition: "recommended",
            T.prometheus_rule: "recommended", T.loki_rule: "optional", T.notification_policy: "optional",
            T.runbook: "optional"},
}


def objective_percent(m: ContextManifest) -> float:
    if m.spec.requirements.availability and (p := percent(m.spec.requirements.availability)):
        return p
    for o in m.strategy.objectives:
        for kr in o.key_results:
            if is_availability_metric(kr.metric_key) and 0 < kr.target < 100:
                return kr.target
    return 99.9


def slo_window(m: ContextManifest) -> str:
    for o in m.strategy.objectives:
        for kr in o.key_results:
            if is_availability_metric(kr.metric_key) and kr.window:
                return kr.window
    return "30d"


def dashboard_uid(project_id: str, target: str) -> str:
    return "ctx-" + hashlib.sha256(f"{project_id}/{target}".encode()).hexdigest()[:16]


def _grafana_base(m: ContextManifest) -> str:
    link = m.metadata.links.get("grafana") or m.metadata.links.get("dashboard") or ""
    parts = urlsplit(link)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""


def runbook_base(m: ContextManifest) -> str:
    """Where the runbooks are served: `spec.observability.runbook`, else `metadata.links.runbook(s)`."""
    base = m.spec.observability.runbook or m.metadata.links.get("runbooks") or m.metadata.links.get("runbook") or ""
    return base.rstrip("/") if urlsplit(base).scheme in ("http", "https") else ""


def runbook_link(m: ContextManifest, target: str) -> str:
    """The runbook's URL: absolute under the runbook base, relative (the bundle's path) only without one."""
    path = output_path(T.runbook, target)
    base = runbook_base(m)
    return f"{base}/{path.split('/', 1)[1]}" if base else path


def runbook_url(m: ContextManifest, target: str, alert: str) -> str:
    return f"{runbook_link(m, target)}#{cv.anchor(alert)}"


def receivers(channels: list[str]) -> list[dict[str, str]]:
    """alertChannels as ContextCore has them (free strings): known forms parsed, any other name kept."""
    out = []
    for ch in channels:
        kind, value = parse_channel(ch) or ("named", ch)  # validation has refused malformed known forms
        out.append({"kind": kind, "value": value, "channel": ch})
    return out


def _key_results(m: ContextManifest, sli: SliSources) -> list[dict[str, Any]]:
    """Key results with the targets they belong to (`boundTo`: "*", a list, or [] for project-level)."""
    out = []
    names = [t.name for t in m.spec.targets]
    sources = {(k.objective, k.metric_key) for k in (sli.ratio, sli.latency) if k}
    for o in m.strategy.objectives:
        for kr in o.key_results:
            d = kr.dump()
            d["objectiveId"] = o.id
            d["targetOperator"] = infer_operator(kr.metric_key, kr.target_operator)
            d["boundTo"] = bound_targets(source_query(kr.data_source), names, (o.id, kr.metric_key) in sources)
            out.append(d)
    return out


def infer_operator(metric_key: str, stated: str | None) -> str:
    """Stated operator, else availability → gte, latency → lte, otherwise eq."""
    if stated:
        return stated
    if is_availability_metric(metric_key):
        return "gte"
    if is_latency_metric(metric_key):
        return "lte"
    return "eq"


class Shared:
    """Values every target of a manifest shares, computed once (and written once, as YAML anchors)."""

    def __init__(self, m: ContextManifest):
        obs = m.spec.observability
        self.crit = str(m.spec.business.criticality)
        self.objective_pct = objective_percent(m)
        self.window = slo_window(m)
        self.sli = SliSources(m.strategy.objectives, infer_operator)
        lat = self.sli.latency  # a latency key result with a query sets the threshold in its own terms
        self.latency = to_base_unit(lat.target, lat.unit) if lat else duration_seconds(
            m.spec.requirements.latency_p99 or "")
        self.latency_text = target_text(lat.target, lat.unit) if lat else m.spec.requirements.latency_p99
        self.log_format = str((obs.model_extra or {}).get("logFormat", "json"))
        # Metrics the Loki ruler derives from the logs (dual telemetry), validated in validate.py.
        self.log_metrics = [dict(x) for x in (obs.model_extra or {}).get("logMetrics") or []]
        self.alerts = [a[0] for a in cv.BURN_RATE_ALERTS] + [cv.ABSENT_ALERT] \
            + ([cv.LATENCY_ALERT] if self.latency else []) \
            + [cv.LOG_BURST_ALERT] + [a["alert"] for a in self.sli.alerts("", "")]
        self.grafana = _grafana_base(m)
        self.key_results = _key_results(m, self.sli)
        self.risks = [r.dump() for r in m.spec.risks]
        self.owners = [o.dump() for o in m.metadata.owners]
        self.receivers = receivers(obs.alert_channels)

    def anchors(self) -> dict[int, str]:
        return {id(self.key_results): "key-results", id(self.risks): "risks", id(self.owners): "owners",
                id(self.receivers): "receivers", id(self.alerts): "alerts"}


def derivation_rules(shared: Shared) -> dict[T, list[DerivationRule]]:
    """The audit trail: the fixed rules plus, per SLI, the source that won (a key result's query or
    the HTTP semconv default)."""
    extra = shared.sli.audit()
    if shared.log_metrics:
        extra[T.loki_rule] = [_r("log_metrics", "spec.observability.logMetrics", "one recording rule each; $target "
                                 "and $namespace substituted", "dual telemetry: metrics derived from structured logs")]
    return {t: DERIVATION_RULES[t] + extra.get(t, []) for t in T}


def _sli_parameters(sh: Shared, t: Target) -> dict[T, dict[str, Any]]:
    """What key results with a query change, per type; nothing when none has one (defaults stand)."""
    ratio, lat = sh.sli.ratio, sh.sli.latency
    out: dict[T, dict[str, Any]] = {k: {} for k in T}
    if ratio:
        q = substitute(ratio.query, t.name, t.namespace)
        good_total = split_ratio(q)
        for k in (T.slo_definition, T.prometheus_rule, T.dashboard, T.runbook):
            out[k].update(sli_query=q, sli_source=ratio.field)
        out[T.slo_definition].update(good_query=good_total[0] if good_total else q,
                                     total_query=good_total[1] if good_total else "vector(1)",
                                     counter=bool(good_total))
    if lat:
        for k in (T.prometheus_rule, T.dashboard, T.runbook):
            out[k].update(latency_query=substitute(lat.query, t.name, t.namespace), latency_source=lat.field)
    if sh.log_metrics:
        out[T.loki_rule]["log_metrics"] = [{"record": x["record"], "expr": substitute(x["expr"], t.name, t.namespace)}
                                           for x in sh.log_metrics]
    alerts = sh.sli.alerts(t.name, t.namespace)
    if alerts:
        out[T.prometheus_rule]["key_result_alerts"] = out[T.runbook]["key_result_alerts"] = alerts
    return out


def resolve_parameters(m: ContextManifest, t: Target, shared: Shared | None = None) -> dict[T, dict[str, Any]]:
    """Concrete parameters per artifact type for one target."""
    sh = shared or Shared(m)
    crit, objective_pct, latency, alerts, grafana = sh.crit, sh.objective_pct, sh.latency, sh.alerts, sh.grafana
    obs = m.spec.observability
    uid = dashboard_uid(m.project_id, t.name)
    selector = f'{matcher("job", t.name)},{matcher("namespace", t.namespace)}'
    base = {"target": t.name, "namespace": t.namespace, "kind": t.kind, "project_id": m.project_id,
            "criticality": crit}
    log_format = sh.log_format
    sli = _sli_parameters(sh, t)
    params = {
        T.service_monitor: {**base, "interval": obs.metrics_interval, "port": "metrics", "path": "/metrics",
                            "selector": {"app.kubernetes.io/name": t.name}},
        T.slo_definition: {**base, "objective_percent": objective_pct, "target_fraction": round(objective_pct / 100, 6),
                           "window": sh.window, "budgeting_method": "Occurrences",
                           "good_query":
                               f"sum(rate({cv.REQUESTS_METRIC}{{{selector},{cv.STATUS_LABEL}!~\"5..\"}}[5m]))",
                           "total_query": f"sum(rate({cv.REQUESTS_METRIC}{{{selector}}}[5m]))"},
        T.prometheus_rule: {**base, "objective": round(objective_pct / 100, 6), "window": sh.window,
                            "latency_p99_seconds": latency, "severity": cv.SEVERITY_BY_CRITICALITY[crit],
                            "page_severity": cv.PAGE_SEVERITY[crit], "ticket_severity": cv.TICKET_SEVERITY[crit],
                            "runbook_url": {a: runbook_url(m, t.name, a) for a in alerts},
                            "scrape_interval": obs.metrics_interval,
                            "dashboard_url": f"{grafana}/d/{uid}", "selector": selector},
        T.loki_rule: {**base, "log_selector": f'{{{matcher("namespace", t.namespace)}, {matcher("app", t.name)}}}',
                      "log_format": log_format, "error_filter": _error_filter(log_format),
                      "burst_threshold_per_second": _BURST[crit],
                      "runbook_url": runbook_url(m, t.name, cv.LOG_BURST_ALERT)},
        T.dashboard: {**base, "uid": uid, "title": f"{m.metadata.name} / {t.name}",
                      "placement": str(obs.dashboard_placement),
                      "refresh": obs.metrics_interval, "objective": round(objective_pct / 100, 6),
                      "latency_p99_seconds": latency, "runbook_path": runbook_link(m, t.name),
                      "window": sh.window, "period": sm.period_name(sh.window),
                      "key_results": sh.key_results, "selector": selector},
        T.notification_policy: {**base, "receivers": sh.receivers,
                                "page_severity": cv.PAGE_SEVERITY[crit], "ticket_severity": cv.TICKET_SEVERITY[crit],
                                "group_wait": "30s", "repeat_interval": _REPEAT[crit]},
        T.runbook: {**base, "risks": sh.risks, "owners": sh.owners,
                    "alerts": alerts, "dashboard_path": output_path(T.dashboard, t.name),
                    "dashboard_url": f"{grafana}/d/{uid}", "wiki": m.metadata.links.get("wiki"),
                    "objective_percent": objective_pct, "latency_p99": sh.latency_text, "window": sh.window,
                    "description": m.spec.project.description},
    }
    for kind, extra in sli.items():
        params[kind].update(extra)
    return params


def _error_filter(log_format: str) -> str:
    if log_format == "logfmt":
        return '| logfmt | level=~"(?i)(error|fatal)"'
    if log_format == "plain":
        return '|~ "(?i)(error|fatal|panic)"'
    return '| json | level=~"(?i)(error|fatal)"'
