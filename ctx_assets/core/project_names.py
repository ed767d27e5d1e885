"""A project's name in Dagster: the asset-key prefix, op and partition names made from its id."""

from __future__ import annotations

import re

_NOT_KEY = re.compile(r"[^A-Za-z0-9_]")


def key_prefix(project_id: str) -> str:
    """`online-boutique` → `online_boutique`: Dagster names allow letters, digits and underscores."""
    return _NOT_KEY.sub("_", project_id) or "project"
