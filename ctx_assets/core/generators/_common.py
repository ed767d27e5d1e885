"""Small helpers the generators share."""

from __future__ import annotations

from typing import Any

from ctx_assets.contracts.artifacts import ArtifactType

from ..sizing import estimate_lines, estimate_tokens, tier_for_lines
from .base import Design, base_design


def designed(task: dict[str, Any], source_checksum: str, plan: dict[str, Any]) -> Design:
    """A design whose size estimate comes before any rendering (problem statement §2.5)."""
    at = ArtifactType(task["artifact_type"])
    lines = estimate_lines(at, task["resolved_parameters"])
    return base_design(task, source_checksum, plan, lines, estimate_tokens(at, lines), tier_for_lines(lines))


def get_path(doc: Any, dotted: str) -> Any:
    """doc['a']['b'] for 'a.b'; None when any step is missing."""
    cur = doc
    for part in dotted.split("."):
        if not isinstance(cur, dict) or part not in cur:
            return None
        cur = cur[part]
    return cur
