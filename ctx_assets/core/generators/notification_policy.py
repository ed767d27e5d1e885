"""Alertmanager configuration: a route per target and severity, receivers from alertChannels.

Pages (severity=critical) go to PagerDuty or Opsgenie when the team has it,
tickets to Slack, e-mail and webhooks; warnings are inhibited while a critical
alert fires for the same target. Credentials are never inlined: routing keys,
API keys, webhook URLs and the Slack webhook are read from files mounted from
the team's secret store. A channel ContextCore allows but we do not know
(`pagerduty-critical`) becomes a receiver of that name with no integration,
and the artifact_schema gate warns what to add to it.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

from ctx_assets.contracts.artifacts import ArtifactType

from .. import yamlout
from ..units import NAMED_CHANNEL, matcher
from ._common import designed
from .base import Design, Rendered, comment_header
from .schemas import AlertmanagerModel, check_model

SECRETS_DIR = "/etc/alertmanager/secrets"
_PAGERS = {"pagerduty", "opsgenie"}
# A named channel (ContextCore allows any string) pages when its name says so, else it gets tickets.
_PAGE_NAME = re.compile(r"page|pager|oncall|on-call|critical|urgent|sev1|p1|opsgenie", re.IGNORECASE)
# What a named receiver needs, by what its name suggests; the generic fallback is a webhook.
_INTEGRATION_HINTS = [("pagerduty", "pagerduty_configs with routing_key_file"), ("opsgenie", "opsgenie_configs with "
                      "api_key_file"), ("slack", "slack_configs with channel and api_url_file"),
                      ("mail", "email_configs with to"), ("", "webhook_configs with url")]


def _config(ch: dict[str, str]) -> tuple[str, dict[str, Any]] | None:
    """(Alertmanager config list, entry) for a known channel; credentials are read from mounted files."""
    kind, value = ch["kind"], ch["value"]
    secret = f"{SECRETS_DIR}/{kind}-{value}"
    return {
        "slack": ("slack_configs", {"channel": f"#{value}", "api_url_file": f"{SECRETS_DIR}/slack-webhook-url",
                                    "send_resolved": True}),
        "pagerduty": ("pagerduty_configs", {"routing_key_file": secret, "send_resolved": True}),
        "email": ("email_configs", {"to": value, "send_resolved": True}),
        "opsgenie": ("opsgenie_configs", {"api_key_file": secret, "send_resolved": True}),
        "webhook": ("webhook_configs", {"url": value, "send_resolved": True}),
    }.get(kind)


def _receiver_configs(channels: list[dict[str, str]]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for ch in channels:
        entry = _config(ch)
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


def _role_routes(matcher: str, own: str, channels: list[dict[str, str]]) -> list[dict[str, Any]]:
    """One route per receiver of the role; all but the last `continue`, so an alert reaches each."""
    names = role_receivers(own, channels)
    return [{"matchers": [matcher], "receiver": n, **({"continue": True} if i < len(names) - 1 else {})}
            for i, n in enumerate(names)]


def named_receiver_warning(name: str) -> tuple[str, str]:
    what = next(h for key, h in _INTEGRATION_HINTS if key in name.lower())
    return (f"receivers[{name}]", f"receiver {name!r} (alertChannels) has no integration yet: add {what} to it, "
                                  "or write the channel as '#slack-channel', 'pagerduty:SERVICE', 'email:ADDRESS', "
                                  "'opsgenie:TEAM' or 'webhook:URL'")


class NotificationPolicyGenerator:
    artifact_type: ClassVar[ArtifactType] = ArtifactType.notification_policy
    code_version: ClassVar[str] = "2"

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
        t, ns = p["target"], p["namespace"]
        page, ticket = f"{t}-page", f"{t}-ticket"
        named = list(dict.fromkeys(c["value"] for role in ("page", "ticket") for c in plan[role]
                                   if c["kind"] == NAMED_CHANNEL))
        doc = {
            "global": {"resolve_timeout": "5m", "smtp_smarthost": "localhost:25",
                       "smtp_from": f"alertmanager@{p['project_id']}.invalid", "smtp_require_tls": True},
            "route": {
                "receiver": ticket, "group_by": ["alertname", "job", "namespace"], "group_wait": p["group_wait"],
                "group_interval": "5m", "repeat_interval": p["repeat_interval"],
                "routes": [{
                    "matchers": [matcher("job", t), matcher("namespace", ns)], "receiver": ticket,
                    "routes": _role_routes(f'severity="{p["page_severity"]}"', page, plan["page"])
                    + _role_routes('severity=~"warning|info"', ticket, plan["ticket"]),
                }],
            },
            "inhibit_rules": [{"source_matchers": ['severity="critical"'],
                               "target_matchers": ['severity=~"warning|info"'],
                               "equal": ["job", "namespace"]}],
            "receivers": [{"name": page, **_receiver_configs(plan["page"])},
                          {"name": ticket, **_receiver_configs(plan["ticket"])}] + [{"name": n} for n in named],
        }
        return Rendered(yamlout.dump(doc, header=comment_header(d)), doc,
                        warnings=[named_receiver_warning(n) for n in named])

    def check_schema(self, r: Rendered) -> list[tuple[str, str]]:
        return check_model(AlertmanagerModel, r.document)
