"""Input fingerprints: what an artifact is built from, hashed, for precise staleness.

A seed task holds everything DESIGN and IMPLEMENT read (parameters, rules,
contract, constraints); with the generator's code version it determines the
output completely. Equal fingerprints mean an unchanged artifact, so an edit to
one target leaves every other target fresh. The manifest's own checksum is
deliberately left out: it changes with any edit and would make everything stale.
"""

from __future__ import annotations

from typing import Any

from .checksums import canonical_json, sha256_hex

_IGNORED = ("coverage",)  # coverage describes the bundle's state, not an input of the generator


def task_fingerprint(task: dict[str, Any], code_version: str) -> str:
    body = {k: v for k, v in task.items() if k not in _IGNORED}
    return sha256_hex(canonical_json({"task": body, "code_version": code_version}))


def seed_fingerprints(seed: dict[str, Any]) -> dict[str, str]:
    from .generators import registry

    reg = registry()
    return {t["artifact_id"]: task_fingerprint(t, reg[t["artifact_type"]].code_version) for t in seed["tasks"]}
