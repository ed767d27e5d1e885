"""Counted nouns in messages: `1 target`, `2 targets`; lists cut short: `a, b and 3 more`."""

from __future__ import annotations


def plural(n: int, noun: str, nouns: str | None = None) -> str:
    return f"{n} {noun if n == 1 else nouns or noun + 's'}"


def first_of(items: list[str], shown: int = 5) -> str:
    """The first `shown` items, then how many more there are."""
    return ", ".join(items[:shown]) + (f" and {len(items) - shown} more" if len(items) > shown else "")
