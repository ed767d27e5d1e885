"""Key results that say how they are measured drive the SLIs (`dataSource: "promql:…"`).

ContextCore key results carry a `dataSource`. When it is `promql:<expr>`, the expression wins
over the OpenTelemetry HTTP defaults of conventions.py; queries return Prometheus base units
(ContextCore's own example reads `avg_over_time(up[30d])` for a "%" availability and a
`_seconds` histogram for a latency in ms), so targets are converted to them:

* the first availability key result with a query is the SLI: its query is the good fraction
  (0–1) over the range of its selectors; the error ratio over a window w is
  `1 - (query with every range selector set to [w])`;
* the first latency key result with a query (a p99 one first) replaces the latency alert: the
  query is in seconds, the key result's target (in its unit) is the threshold;
* every other key result with a query becomes an alert when it is off its target.

`$target` and `$namespace` in a query are the target's name and namespace, so one key result
can serve many targets. Which source won is recorded in the derivation audit trail.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ctx_assets.contracts.artifacts import ArtifactType as T
from ctx_assets.contracts.export import DerivationRule

from .units import is_availability_metric, is_latency_metric

PROMQL_PREFIX = "promql:"
OWN_RECORDS = ("slo:sli_error:", "slo:error_budget:")  # recording rules of the generated PrometheusRule
_RANGE = re.compile(r"\[(\d+(?:ms|s|m|h|d|w|y))\]")
_TO_BASE = {"%": 0.01, "ms": 0.001, "rpm": 1 / 60}
_OFF_TARGET = {"gte": "<", "lte": ">", "eq": "!="}  # the comparison that means "target missed"
DEFAULT_SOURCE = "conventions: OpenTelemetry HTTP semconv (http_server_request_duration_seconds)"


def promql(data_source: Any) -> str | None:
    """The PromQL of a `promql:…` dataSource, else None (e.g. `prometheus`, `datadog:…`)."""
    if isinstance(data_source, str) and data_source[:len(PROMQL_PREFIX)].lower() == PROMQL_PREFIX:
        return data_source[len(PROMQL_PREFIX):].strip() or None
    return None


def source_query(data_source: Any) -> str | None:
    """The query a key result is measured by, when it can drive an SLI: not one that reads the SLO
    recording rules this product generates (`promql:slo:sli_error:ratio_rate1d`, as a migrated v1.1
    manifest has) — those are the default SLI already, and as its source they would be circular."""
    q = promql(data_source)
    return None if q is None or any(r in q for r in OWN_RECORDS) else q


_EQUALS = re.compile(r"""(?<![!=~])=\s*["']([a-z0-9](?:[-a-z0-9]*[a-z0-9])?)["']""")
EVERY_TARGET = "*"


def bound_targets(query: str | None, targets: list[str], sli_source: bool) -> str | list[str]:
    """Which targets a key result belongs to, from its dataSource: every target when it is an SLI source
    (its query is each target's SLI) or its query is templated (`$target`, `$namespace`); the targets an
    equality matcher names (`job="frontend"`); else none — a project-level key result, drawn on the project
    overview only (a `dataSource: prometheus` names no series, so no target's metrics can stand for it)."""
    if sli_source or (query and ("$target" in query or "$namespace" in query)):
        return EVERY_TARGET
    named = set(_EQUALS.findall(query or ""))
    return [t for t in targets if t in named]


def belongs_to(kr: dict[str, Any], target: str) -> bool:
    bound = kr.get("boundTo", [])
    return bound == EVERY_TARGET or target in bound


def substitute(query: str, target: str, namespace: str) -> str:
    return query.replace("$namespace", namespace).replace("$target", target)


def with_window(query: str, window: str) -> str:
    """Every plain range selector `[5m]` set to `[window]` (subqueries `[1h:5m]` stay as written)."""
    return _RANGE.sub(f"[{window}]", query)


def has_range(query: str) -> bool:
    return bool(_RANGE.search(query))


def _top_level_slashes(query: str) -> tuple[list[int], int, str]:
    """Offsets of `/` outside brackets and strings, the final bracket depth, an unclosed quote."""
    depth, quote, cuts = 0, "", []
    for i, ch in enumerate(query):
        if quote:
            quote = "" if ch == quote and query[i - 1] != "\\" else quote
        elif ch in "\"'`":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == "/" and depth == 0:
            cuts.append(i)
    return cuts, depth, quote


def _parse(query: str) -> tuple[Any, str | None]:
    """(expression, None) or (None, why): promql-parser (Rust-backed, the Prometheus grammar), imported
    when a query is met. A Rust panic surfaces as pyo3's PanicException, a BaseException: caught too."""
    import promql_parser

    try:
        return promql_parser.parse(query), None
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as e:  # noqa: BLE001 (ValueError for a syntax error; a panic otherwise)
        return None, str(e) if isinstance(e, ValueError) else type(e).__name__


def parse_problem(query: str) -> str | None:
    """Why a `promql:` query is not ONE well-formed PromQL expression that may be embedded in the
    generated rules (`1 - (q)`, `(q) > t`), or None. Parsed by promql-parser (the Prometheus grammar,
    not a regex): a query that closes a bracket it did not open (`…[5m])) or vector(1) or (up`), holds
    two expressions, or whose comment would swallow what follows it is refused; so is a range vector or
    a string, which no rule can compare. `$target`/`$namespace` stand for DNS labels."""
    import promql_parser as pp

    text = substitute(query, "target", "namespace")
    expr, why = _parse(text)
    if expr is None:
        return f"PromQL does not parse (one well-formed expression expected): {why}"
    if isinstance(expr, pp.MatrixSelector | pp.SubqueryExpr):
        return "PromQL is a range vector (`x[5m]`); wrap it in a function such as avg_over_time(...)"
    if isinstance(expr, pp.StringLiteral):
        return "PromQL is a string; expected an instant vector or a scalar"
    wrapped, why = _parse(f"1 - ({text})")  # the shape every generated rule embeds it in
    if wrapped is None or not (isinstance(wrapped, pp.BinaryExpr) and isinstance(wrapped.rhs, pp.ParenExpr)):
        return f"PromQL must be one expression that can be embedded in a rule ({why or 'it is not'})"
    return None


def split_ratio(query: str) -> tuple[str, str] | None:
    """(numerator, denominator) when the query is one top-level division `A / B`, else None (the parser
    decides what is top level: `a / b or c` is an `or`, `a / on(x) b` keeps its matching)."""
    import promql_parser as pp

    cuts, _, _ = _top_level_slashes(query)
    if len(cuts) != 1:
        return None
    a, b = query[:cuts[0]].strip(), query[cuts[0] + 1:].strip()
    top, _ = _parse(substitute(query, "target", "namespace"))
    if not (a and b and isinstance(top, pp.BinaryExpr) and str(top.op) == "/" and top.modifier is None):
        return None
    if any(_parse(substitute(x, "target", "namespace"))[0] is None for x in (a, b)):
        return None
    return a, b


def target_text(target: float, unit: str) -> str:
    """150 ms → '150ms', 99.9 % → '99.9%', 5 count → '5 count'."""
    return f"{target:g}{unit}" if unit in ("%", "ms", "s") else f"{target:g} {unit}"


def to_base_unit(value: float, unit: str) -> float:
    return round(value * _TO_BASE.get(unit, 1.0), 10)


def alert_name(metric_key: str) -> str:
    """`gate_violations` → `GateViolationsOffTarget` (a valid Prometheus alert name)."""
    words = [w for w in re.split(r"[^A-Za-z0-9]+", metric_key) if w]
    return "".join(w[:1].upper() + w[1:] for w in words) + "OffTarget" if words else "KeyResultOffTarget"


@dataclass(frozen=True)
class KeyResultQuery:
    field: str  # where it came from, e.g. strategy.objectives[0].keyResults[1].dataSource
    objective: str
    metric_key: str
    unit: str
    target: float
    operator: str
    window: str | None
    query: str

    def off_target(self, query: str) -> str:
        """PromQL that is non-empty while the key result misses its target."""
        return f"({query}) {_OFF_TARGET.get(self.operator, '!=')} {to_base_unit(self.target, self.unit)!r}"


class SliSources:
    """Which key result (if any) measures the availability SLI, the latency alert, and the rest."""

    def __init__(self, objectives: list[Any], operator_of: Any):
        found: list[KeyResultQuery] = []
        for i, o in enumerate(objectives):
            for j, kr in enumerate(o.key_results):
                q = source_query(kr.data_source)
                if q:
                    found.append(KeyResultQuery(
                        f"strategy.objectives[{i}].keyResults[{j}].dataSource", o.id, kr.metric_key, str(kr.unit),
                        kr.target, operator_of(kr.metric_key, kr.target_operator), kr.window, q))
        self.ratio = next((k for k in found if is_availability_metric(k.metric_key)), None)
        latency = [k for k in found if is_latency_metric(k.metric_key)]
        self.latency = next((k for k in latency if "99" in k.metric_key), latency[0] if latency else None)
        self.others = [k for k in found if k not in (self.ratio, self.latency)]

    def alerts(self, target: str, namespace: str) -> list[dict[str, Any]]:
        """The key results that become alerts of their own, with their queries for this target."""
        return [{"alert": alert_name(k.metric_key), "metric_key": k.metric_key, "objective": k.objective,
                 "expr": k.off_target(substitute(k.query, target, namespace)),
                 "query": substitute(k.query, target, namespace), "operator": k.operator, "target": k.target,
                 "unit": k.unit, "window": k.window, "source": k.field} for k in self.others]

    def audit(self) -> dict[T, list[DerivationRule]]:
        """The derivation rules that say which source won, per artifact type."""
        def rule(prop: str, k: KeyResultQuery | None, how: str, default: str) -> DerivationRule:
            if k is None:
                return DerivationRule(property=prop, source_field=DEFAULT_SOURCE, transformation=default,
                                      rationale="no key result names a promql: dataSource for it")
            return DerivationRule(property=prop, source_field=k.field, transformation=how,
                                  rationale=f"key result {k.metric_key} says how it is measured; its query wins "
                                            "over the HTTP semconv default")

        ratio = rule("sli", self.ratio, "good fraction; range selectors set per window; error ratio = 1 - it",
                     'non-5xx / all requests (http_response_status_code!~"5..")')
        latency = rule("latency_sli", self.latency, "query in seconds > key result target in seconds",
                       "histogram_quantile(0.99, http_server_request_duration_seconds_bucket) > latencyP99")
        others = [DerivationRule(property="key_result_alerts", source_field=k.field,
                                 transformation=f"query {_OFF_TARGET.get(k.operator, '!=')} target → "
                                                f"{alert_name(k.metric_key)}",
                                 rationale="a key result with a query is watched against its target")
                  for k in self.others]
        return {T.slo_definition: [ratio], T.prometheus_rule: [ratio, latency, *others],
                T.dashboard: [ratio, latency], T.runbook: others}
