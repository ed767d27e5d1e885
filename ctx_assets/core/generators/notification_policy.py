"""Alertmanager configuration: a route per target and severity, receivers from alertChannels.

Pages (severity=critical) go to PagerDuty when the team has it, tickets to
Slack and e-mail; warnings are inhibited while a critical alert fires for the
same target. Credentials are never inlined: PagerDuty routing keys and the
Slack webhook are read from files mounted from the team's secret store.
"""

from __future__ import annotations

from typing import Any, ClassVar

from contracts.artifacts import ArtifactType

from .. import yamlout
from ._common import designed
from .base import Design, Rendered, comment_header
from .schemas import AlertmanagerModel, check_model

SECRETS_DIR = "/etc/alertmanager/secrets"


def _receiver_configs(channels: list[dict[str, str]]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for ch in channels:
        if ch["kind"] == "slack":
            out.setdefault("slack_configs", []).append({
                "channel": f"#{ch['value']}", "api_url_file": f"{SECRETS_DIR}/slack-webhook-url",
                "send_resolved": True})
        elif ch["kind"] == "pagerduty":
            out.setdefault("pagerduty_configs", []).append({
                "routing_key_file": f"{SECRETS_DIR}/pagerduty-{ch['value']}", "send_resolved": True})
        elif ch["kind"] == "email":
            out.setdefault("email_configs", []).append({"to": ch["value"], "send_resolved": True})
    return out


class NotificationPolicyGenerator:
    artifact_type: ClassVar[ArtifactType] = ArtifactType.notification_policy
    code_version: ClassVar[str] = "1"

    def design(self, task: dict[str, Any], source_checksum: str) -> Design:
        p = task["resolved_parameters"]
        chans = p["receivers"]
        pagers = [c for c in chans if c["kind"] == "pagerduty"]
        tickets = [c for c in chans if c["kind"] in ("slack", "email")]
        # Pages reach a pager when there is one, plus chat so the team sees them.
        page = pagers + [c for c in tickets if c["kind"] == "slack"] if pagers else tickets
        return designed(task, source_checksum, {"page": page, "ticket": tickets or pagers})

    def implement(self, d: Design) -> Rendered:
        p, plan = d.params, d.plan
        t, ns = p["target"], p["namespace"]
        page, ticket = f"{t}-page", f"{t}-ticket"
        doc = {
            "global": {"resolve_timeout": "5m", "smtp_smarthost": "localhost:25",
                       "smtp_from": f"alertmanager@{p['project_id']}.invalid", "smtp_require_tls": True},
            "route": {
                "receiver": ticket, "group_by": ["alertname", "job", "namespace"], "group_wait": p["group_wait"],
                "group_interval": "5m", "repeat_interval": p["repeat_interval"],
                "routes": [{
                    "matchers": [f'job="{t}"', f'namespace="{ns}"'], "receiver": ticket,
                    "routes": [
                        {"matchers": [f'severity="{p["page_severity"]}"'], "receiver": page},
                        {"matchers": ['severity=~"warning|info"'], "receiver": ticket},
                    ],
                }],
            },
            "inhibit_rules": [{"source_matchers": ['severity="critical"'],
                               "target_matchers": ['severity=~"warning|info"'],
                               "equal": ["job", "namespace"]}],
            "receivers": [{"name": page, **_receiver_configs(plan["page"])},
                          {"name": ticket, **_receiver_configs(plan["ticket"])}],
        }
        return Rendered(yamlout.dump(doc, header=comment_header(d)), doc)

    def check_schema(self, r: Rendered) -> list[tuple[str, str]]:
        return check_model(AlertmanagerModel, r.document)
