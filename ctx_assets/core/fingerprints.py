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


# The fingerprints of the last plan's tasks by the task object (core/plan.py hands them over): the stale
# choice and the plan memo of a build ask for 7,000 at 1,000 targets right after the plan made them. Holding
# the task keeps its id its own; tasks are shared read-only, so a kept fingerprint stays true.
_known: dict[int, tuple[dict[str, Any], str, str]] = {}


def task_fingerprint(task: dict[str, Any], code_version: str) -> str:
    hit = _known.get(id(task))
    if hit is not None and hit[0] is task and hit[1] == code_version:
        return hit[2]
    return compute_fingerprint(task, code_version)


def compute_fingerprint(task: dict[str, Any], code_version: str) -> str:
    body = {k: v for k, v in task.items() if k not in _IGNORED}
    return sha256_hex(canonical_json({"task": body, "code_version": code_version}))


def remember(known: list[tuple[dict[str, Any], str, str]]) -> None:
    """(task, code version, fingerprint) of a plan's tasks, replacing the previous plan's."""
    _known.clear()
    _known.update((id(t), (t, cv, fp)) for t, cv, fp in known)


def code_versions() -> dict[str, str]:
    """Each artifact type's generator code version: part of its tasks' fingerprints."""
    from .generators import registry

    return {k.value: gen.code_version for k, gen in registry().items()}


def seed_fingerprints(seed: dict[str, Any]) -> dict[str, str]:
    versions = code_versions()
    return {t["artifact_id"]: task_fingerprint(t, versions[t["artifact_type"]]) for t in seed["tasks"]}
