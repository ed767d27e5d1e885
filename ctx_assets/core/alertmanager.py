"""Alertmanager: the per-target `AlertmanagerConfig` resources as one plain `alertmanager.yml` (pure).

Each target's notification policy is a prometheus-operator `AlertmanagerConfig` (v1alpha1): the operator
merges them into the one configuration Alertmanager loads. Without the operator, this module does the
same merge: one root route whose receiver is project-level, one child route per target (its job and
namespace, as the operator adds the namespace matcher), the inhibition rules, every receiver once, and
credentials read from mounted files where the resources reference Kubernetes Secret keys.
"""

from __future__ import annotations

from typing import Any

from .units import matcher

SECRETS_DIR = "/etc/alertmanager/secrets"  # where a plain deployment mounts the secret's keys as files
# CR integration list → (plain list, {CR field: plain field}); a secret reference becomes a *_file.
_INTEGRATIONS: dict[str, tuple[str, dict[str, str]]] = {
    "slackConfigs": ("slack_configs", {"channel": "channel", "apiURL": "api_url_file",
                                       "sendResolved": "send_resolved"}),
    "pagerdutyConfigs": ("pagerduty_configs", {"routingKey": "routing_key_file", "sendResolved": "send_resolved"}),
    "emailConfigs": ("email_configs", {"to": "to", "sendResolved": "send_resolved"}),
    "opsgenieConfigs": ("opsgenie_configs", {"apiKey": "api_key_file", "sendResolved": "send_resolved"}),
    "webhookConfigs": ("webhook_configs", {"url": "url", "sendResolved": "send_resolved"}),
}
_ROUTE_FIELDS = {"groupBy": "group_by", "groupWait": "group_wait", "groupInterval": "group_interval",
                 "repeatInterval": "repeat_interval", "continue": "continue", "receiver": "receiver"}


def cr_matcher(name: str, value: str, match_type: str = "=") -> dict[str, str]:
    return {"name": name, "value": value, "matchType": match_type}


def plain_matcher(m: dict[str, str]) -> str:
    op = m.get("matchType", "=")
    return matcher(m["name"], m["value"]).replace("=", op, 1)


def plain_receiver(r: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"name": r["name"]}
    for cr_key, (plain_key, fields) in _INTEGRATIONS.items():
        for entry in r.get(cr_key, []):
            conf = {}
            for k, v in entry.items():
                target = fields.get(k)
                if target is None:
                    continue
                conf[target] = f"{SECRETS_DIR}/{v['key']}" if target.endswith("_file") else v
            conf = dict(conf)
            out.setdefault(plain_key, []).append(conf)
    return out


def plain_route(r: dict[str, Any], extra: list[str] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    matchers = (extra or []) + [plain_matcher(m) for m in r.get("matchers", [])]
    if matchers:
        out["matchers"] = matchers
    out.update({plain: list(r[cr]) if isinstance(r[cr], list) else r[cr]
                for cr, plain in _ROUTE_FIELDS.items() if cr in r})
    if r.get("routes"):
        out["routes"] = [plain_route(c) for c in r["routes"]]
    return out


def plain_inhibit(rule: dict[str, Any], namespace: str) -> dict[str, Any]:
    """As the operator scopes a resource's inhibition to its namespace."""
    ns = matcher("namespace", namespace)
    return {"source_matchers": [plain_matcher(m) for m in rule.get("sourceMatch", [])] + [ns],
            "target_matchers": [plain_matcher(m) for m in rule.get("targetMatch", [])] + [ns],
            "equal": list(rule.get("equal", []))}


def plain_config(project_id: str, resources: list[dict[str, Any]]) -> dict[str, Any]:
    """One Alertmanager configuration for every target's AlertmanagerConfig resource. The root receiver is
    project-level (`<project>-default`, the project's ticket channels): an alert no target route matches is
    still seen, by the project's team rather than by whichever target came first."""
    routes, inhibit, receivers = [], [], {}
    default: dict[str, Any] = {"name": f"{project_id}-default"}
    for doc in resources:
        spec, ns = doc["spec"], doc["metadata"]["namespace"]
        top = spec["route"]
        # The operator's namespace matcher first, then the resource's own (job=target).
        routes.append(plain_route(top, [matcher("namespace", ns)]))
        for rule in spec.get("inhibitRules", []):
            p = plain_inhibit(rule, ns)
            if p not in inhibit:
                inhibit.append(p)
        for r in spec.get("receivers", []):
            plain = plain_receiver(r)
            receivers.setdefault(plain["name"], plain)
            if r["name"] == top["receiver"] and len(default) == 1:
                default.update({k: v for k, v in plain.items() if k != "name"})
    first = resources[0]["spec"]["route"] if resources else {}
    root = {"receiver": default["name"], "group_by": first.get("groupBy", ["alertname", "job", "namespace"]),
            "group_wait": first.get("groupWait", "30s"), "group_interval": first.get("groupInterval", "5m"),
            "repeat_interval": first.get("repeatInterval", "4h"), "routes": routes}
    smtp = {"smtp_smarthost": "localhost:25", "smtp_from": f"alertmanager@{project_id}.invalid",
            "smtp_require_tls": True}
    return {"global": {"resolve_timeout": "5m", **smtp}, "route": root, "inhibit_rules": inhibit,
            "receivers": [default, *receivers.values()]}
