"""Alertmanager route-tree evaluation (what `amtool config routes test` answers), in process.

`amtool config routes test` takes one config per process; batching forbids a
process per artifact, so the product evaluates routes itself and the tests
check that this agrees with the real amtool.
"""

from __future__ import annotations

import re
from typing import Any

_MATCHER = re.compile(r'^\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"?(.*?)"?\s*$')


def _matches(matcher: str, labels: dict[str, str]) -> bool:
    m = _MATCHER.match(matcher)
    if not m:
        raise ValueError(f"bad matcher {matcher!r}")
    name, op, value = m.groups()
    actual = labels.get(name, "")
    if op == "=":
        return actual == value
    if op == "!=":
        return actual != value
    hit = re.fullmatch(value, actual) is not None
    return hit if op == "=~" else not hit


def route_receivers(route: dict[str, Any], labels: dict[str, str]) -> list[str]:
    """Receivers an alert with `labels` reaches, as Alertmanager routes it (continue honoured)."""
    def walk(node: dict[str, Any], inherited: str) -> list[str]:
        receiver = node.get("receiver", inherited)
        out: list[str] = []
        for child in node.get("routes", []):
            if all(_matches(m, labels) for m in child.get("matchers", [])):
                out += walk(child, receiver)
                if not child.get("continue", False):
                    break
        return out or [receiver]

    return walk(route, route.get("receiver", ""))
