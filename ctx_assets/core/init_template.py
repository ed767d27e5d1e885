"""The `ctx init` template: every section scaffolded, valid, exports all seven types."""

from __future__ import annotations

TEMPLATE = """\
# yaml-language-server: $schema={schema}
# ContextCore context manifest v2 (every field: `ctx schema --markdown`). Edit the values, then:
#   ctx validate {path}
#   ctx build {path}
apiVersion: contextcore.io/v1alpha2
kind: ContextManifest
metadata:
  name: {name}
  owners:
    - team: my-team
      slack: "#my-team"
      email: my-team@example.com
      oncall: pagerduty:my-team-primary
  changelog:
    - date: "{today}"
      version: "0.1.0"
      actor: {name}-maintainers
      summary: Initial context manifest
  links:
    repository: https://git.example.com/{name}
    wiki: https://wiki.example.com/{name}
    dashboard: https://grafana.example.com/d/{name}
spec:
  project:
    id: {name}
    name: {name}
    description: What this project does, in one sentence
    epic: EPIC-{upper}
  business:
    criticality: high          # critical | high | medium | low
    value: revenue-generating
    owner: my-team
    stakeholders: [product]
  requirements:
    availability: "99.9"       # percent
    latencyP50: "100ms"
    latencyP99: "250ms"
    errorBudget: "0.1%"
    throughput: "500rps"
  risks:
    - type: availability       # security | compliance | data-integrity | availability | financial | reputational
      description: A single replica takes the service down when it restarts
      priority: P2             # P1..P4
      mitigation: Run at least two replicas with a PodDisruptionBudget
      controls: [PDB]
  targets:                     # one observability bundle per target
    - kind: Deployment
      name: {name}
      namespace: default
  observability:
    traceSampling: 0.1
    metricsInterval: 30s
    logLevel: info
    dashboardPlacement: standard   # featured | standard | archived
    alertChannels:
      - "#my-team-alerts"            # Slack channel
      - pagerduty:my-team-primary    # PagerDuty service (routing key comes from your secret store)
      - email:my-team@example.com
strategy:
  objectives:
    - id: OBJ-RELIABILITY
      description: Users can rely on the service
      keyResults:
        - metricKey: availability
          unit: "%"
          target: 99.9
          targetOperator: gte      # gte | lte | eq
          window: 30d
          dataSource: prometheus
        - metricKey: latency_p99
          unit: ms
          target: 250
          targetOperator: lte
          window: 7d
          dataSource: prometheus
  tactics:
    - id: TAC-REPLICAS
      description: Run two replicas
      status: planned
      linkedObjectives: [OBJ-RELIABILITY]
guidance:
  constraints:
    - id: C-NO-PII-IN-LOGS
      rule: Never log request bodies
      severity: blocking
      appliesTo: [loki_rule]
  questions:
    - id: Q-DASHBOARD-FORMAT
      question: One dashboard per service or per user journey?
      status: open               # open | answered | deferred
      priority: high
"""

# {ctx}: the command as it runs from here (`ctx`, `.venv/bin/ctx` or `python -m ctx_assets.cli`).
NEXT_STEPS = """\
Next steps:
  1. Edit {path}: targets, requirements, risks, alert channels.
  2. {ctx} validate {path}        # every problem with file:line:col, and what build's gates would refuse
  3. {ctx} build {path}           # the bundle, through the Dagster asset graph
  4. {ctx} status {path}          # fresh / stale / missing per artifact
  5. {ctx} trace --last           # the run as a tree of spans with gate events
  6. {ctx} ui {path}              # lineage, checks and the manifest sensor in the Dagster UI
"""


def render_template(name: str, path: str, today: str, schema: str = "contextcore-manifest.schema.json") -> str:
    """`schema`: where the editor's YAML language server finds the manifest's JSON Schema (`ctx schema`)."""
    return TEMPLATE.format(name=name, path=path, today=today, upper=name.upper().replace("-", "_"), schema=schema)
