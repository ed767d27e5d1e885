"""Counted nouns in messages: `1 target`, `2 targets`."""

from __future__ import annotations


def plural(n: int, noun: str, nouns: str | None = None) -> str:
    return f"{n} {noun if n == 1 else nouns or noun + 's'}"
