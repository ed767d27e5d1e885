"""Notification policy: the target's `AlertmanagerConfig` (monitoring.coreos.com/v1alpha1).

A route for the target (job; the operator adds its namespace) and one per severity, receivers from
alertChannels. Pages (severity=critical) go to PagerDuty or Opsgenie when the team has it, tickets to
Slack, e-mail and webhooks; a ticket is inhibited while the page of the same SLO fires for the same
target (the latency alert is its own SLO, so an error page never hides it). Credentials are never
inlined: routing keys, API keys and the Slack webhook are keys of one Kubernetes Secret
(`<project>-alert-channels`, mounted as files under /etc/alertmanager/secrets in the plain bundle).
A channel ContextCore allows but we do not know (`pagerduty-critical`) becomes a receiver of that name
with no integration, and the artifact_schema gate warns what to add to it. Without the operator,
core/alertmanager.py merges every target's resource into one `alertmanager/alertmanager.yml`.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

from ctx_assets.contracts.artifacts import ArtifactType

from .. import yamlout
from ..alertmanager import cr_matcher, plain_config
from ..units import NAMED_CHANNEL
from ._common import designed
from .base import Design, Rendered, comment_header, k8s_metadata
from .schemas import AlertmanagerConfigModel, AlertmanagerModel, check_model

_PAGERS = {"pagerduty", "opsgenie"}
# A named channel (ContextCore allows any string) pages when its name says so, else it gets tickets.
_PAGE_NAME = re.compile(r"page|pager|oncall|on-call|critical|urgent|sev1|p1|opsgenie", re.IGNORECASE)
# What a named receiver needs, by what its name suggests; the generic fallback is a webhook.
_INTEGRATION_HINTS = [("pagerduty", "pagerduty_configs with routing_key_file"), ("opsgenie", "opsgenie_configs with "
                      "api_key_file"), ("slack", "slack_configs with channel and api_url_file"),
                      ("mail", "email_configs with to"), ("", "webhook_configs with url")]


def secret_name(project_id: str) -> str:
    return f"{project_id}-alert-channels"


def _config(ch: dict[str, str], secret: str) -> tuple[str, dict[str, Any]] | None:
    """(AlertmanagerConfig integration list, entry) for a known channel; credentials are Secret keys."""
    kind, value = ch["kind"], ch["value"]

    def ref(key: str) -> dict[str, str]:
        return {"name": secret, "key": key}

    return {
        "slack": ("slackConfigs", {"channel": f"#{value}", "apiURL": ref("slack-webhook-url"), "sendResolved": True}),
        "pagerduty": ("pagerdutyConfigs", {"routingKey": ref(f"pagerduty-{value}"), "sendResolved": True}),
        "email": ("emailConfigs", {"to": value, "sendResolved": True}),
        "opsgenie": ("opsgenieConfigs", {"apiKey": ref(f"opsgenie-{value}"), "sendResolved": True}),
        "webhook": ("webhookConfigs", {"url": value, "sendResolved": True}),
    }.get(kind)


def _receiver_configs(channels: list[dict[str, str]], secret: str) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for ch in channels:
        entry = _config(ch, secret)
        if entry:
            out.setdefault(entry[0], []).append(entry[1])
    return out


def _pages(ch: dict[str, str]) -> bool:
    return ch["kind"] in _PAGERS or (ch["kind"] == NAMED_CHANNEL and bool(_PAGE_NAME.search(ch["value"])))


def role_receivers(own: str, channels: list[dict[str, str]]) -> list[str]:
    """The receivers an alert of one role (page or ticket) reaches: the target's own receiver when a
    known channel feeds it (or nothing else exists), then each named receiver."""
    named = list(dict.fromkeys(c["value"] for c in channels if c["kind"] == NAMED_CHANNEL))
    known = any(c["kind"] != NAMED_CHANNEL for c in channels)
    return ([own] if known or not named else []) + named


def _role_routes(m: dict[str, str], own: str, channels: list[dict[str, str]]) -> list[dict[str, Any]]:
    """One route per receiver of the role; all but the last `continue`, so an alert reaches each."""
    names = role_receivers(own, channels)
    return [{"receiver": n, "matchers": [m], **({"continue": True} if i < len(names) - 1 else {})}
            for i, n in enumerate(names)]


def named_receiver_warning(name: str) -> tuple[str, str]:
    what = next(h for key, h in _INTEGRATION_HINTS if key in name.lower())
    return (f"receivers[{name}]", f"receiver {name!r} (alertChannels) has no integration yet: add {what} to it, "
                                  "or write the channel as '#slack-channel', 'pagerduty:SERVICE', 'email:ADDRESS', "
                                  "'opsgenie:TEAM' or 'webhook:URL'")


class NotificationPolicyGenerator:
    artifact_type: ClassVar[ArtifactType] = ArtifactType.notification_policy
    code_version: ClassVar[str] = "3"  # issue 19: an AlertmanagerConfig resource, not a whole config

    def design(self, task: dict[str, Any], source_checksum: str) -> Design:
        p = task["resolved_parameters"]
        chans = p["receivers"]
        pagers = [c for c in chans if _pages(c)]
        tickets = [c for c in chans if not _pages(c)]
        # Pages reach a pager when there is one, plus chat so the team sees them.
        page = pagers + [c for c in tickets if c["kind"] == "slack"] if pagers else tickets
        return designed(task, source_checksum, {"page": page, "ticket": tickets or pagers})

    def implement(self, d: Design) -> Rendered:
        p, plan = d.params, d.plan
        t = p["target"]
        page, ticket = f"{t}-page", f"{t}-ticket"
        secret = secret_name(p["project_id"])
        named = list(dict.fromkeys(c["value"] for role in ("page", "ticket") for c in plan[role]
                                   if c["kind"] == NAMED_CHANNEL))
        doc = {
            "apiVersion": "monitoring.coreos.com/v1alpha1", "kind": "AlertmanagerConfig",
            "metadata": k8s_metadata(d, f"{t}-notification"),
            "spec": {
                "route": {
                    "receiver": ticket, "groupBy": ["alertname", "job", "namespace"], "groupWait": p["group_wait"],
                    "groupInterval": "5m", "repeatInterval": p["repeat_interval"],
                    "matchers": [cr_matcher("job", t)],  # the operator adds namespace="<this namespace>"
                    "routes": _role_routes(cr_matcher("severity", p["page_severity"]), page, plan["page"])
                    + _role_routes(cr_matcher("severity", "warning|info", "=~"), ticket, plan["ticket"]),
                },
                # A ticket waits while the page of the same SLO fires; other SLOs (latency) are not silenced.
                "inhibitRules": [{"sourceMatch": [cr_matcher("severity", "critical")],
                                  "targetMatch": [cr_matcher("severity", "warning|info", "=~")],
                                  "equal": ["job", "namespace", "slo"]}],
                "receivers": [{"name": page, **_receiver_configs(plan["page"], secret)},
                              {"name": ticket, **_receiver_configs(plan["ticket"], secret)}]
                + [{"name": n} for n in named],
            },
        }
        return Rendered(yamlout.dump(doc, header=comment_header(d)), doc,
                        warnings=[named_receiver_warning(n) for n in named])

    def check_schema(self, r: Rendered) -> list[tuple[str, str]]:
        """The resource's own shape, and the plain configuration it stands for (what Alertmanager loads)."""
        return check_model(AlertmanagerConfigModel, r.document) or check_model(
            AlertmanagerModel, plain_config(r.document["metadata"]["labels"]["app.kubernetes.io/part-of"],
                                            [r.document]))
