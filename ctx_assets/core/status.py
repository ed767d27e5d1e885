"""Freshness of every artifact: fresh, stale (with the cause) or missing (`ctx status`).

Compares what the current manifest would feed each generator (the seed task's
fingerprint and its parts) with what the last materialization recorded, and the
file on disk with the checksum that was written.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .checksums import canonical_json, file_checksum, sha256_hex
from .fingerprints import task_fingerprint
from .text import first_of

FRESH, STALE, MISSING = "fresh", "stale", "missing"


def fingerprint_parts(task: dict[str, Any]) -> dict[str, str]:
    """Short hashes of each input of a task, so a stale artifact can name what changed."""
    parts = {f"parameters.{k}": v for k, v in task["resolved_parameters"].items()}
    for key in ("derivation_rules", "expected_output_contract", "design_constraints", "depends_on", "output_path",
                "design_calibration", "design_principles", "generator"):
        parts[key] = task.get(key)
    return {k: sha256_hex(canonical_json(v))[:12] for k, v in parts.items()}


def inputs_text(task: dict[str, Any]) -> str:
    """The fingerprint parts as one compact line (`key=hash key=hash`), as recorded with a build."""
    return " ".join(f"{k}={v}" for k, v in fingerprint_parts(task).items())


def _parse_inputs(text: str) -> dict[str, str]:
    return dict(item.split("=", 1) for item in text.split() if "=" in item)


@dataclass
class ArtifactStatus:
    artifact_id: str
    artifact_type: str
    target: str
    path: str
    status: str
    cause: str = ""

    def as_dict(self) -> dict[str, str]:
        return {"id": self.artifact_id, "type": self.artifact_type, "target": self.target, "path": self.path,
                "status": self.status, "cause": self.cause}


def artifact_status(task: dict[str, Any], code_version: str, recorded: dict[str, Any] | None,
                    out: Path) -> ArtifactStatus:
    """`recorded`: the metadata of the artifact's last materialization (None when never built)."""
    s = ArtifactStatus(task["artifact_id"], task["artifact_type"], task["target"], task["output_path"], FRESH)
    path = os.path.join(out, task["output_path"])  # a string: 7,000 Paths cost more than their stats
    if recorded is None or not recorded.get("checksum"):
        s.status, s.cause = MISSING, "never built"
        return s
    if not os.path.exists(path):
        s.status, s.cause = MISSING, "file deleted from the output folder"
        return s
    if recorded.get("code_version") != code_version:
        s.status, s.cause = STALE, f"generator code version {recorded.get('code_version')} → {code_version}"
    elif recorded.get("fingerprint") != task_fingerprint(task, code_version):
        old = _parse_inputs(str(recorded.get("inputs") or ""))
        changed = sorted(k for k, v in fingerprint_parts(task).items() if old.get(k) != v)
        s.status, s.cause = STALE, "inputs changed: " + (", ".join(changed[:6]) if changed else "seed task")
    elif file_checksum(path) != recorded.get("checksum"):
        s.status, s.cause = STALE, "file on disk differs from the built one (edited by hand?)"
    return s


PROVENANCE_ID = "provenance"


def provenance_status(seed: dict[str, Any], recorded: dict[tuple[str, str], dict[str, Any]], out: Path,
                      path: str) -> ArtifactStatus:
    """export/provenance.json (at `path` in `out`) against the seed and what the instance recorded: stale when
    an artifact was rebuilt after it (its checksum there is not the recorded one) or when it describes another
    manifest version (its chain is not the seed's)."""
    s = ArtifactStatus(PROVENANCE_ID, PROVENANCE_ID, "", path, FRESH)
    try:
        doc = json.loads((out / path).read_bytes())
        listed = doc["artifacts"]
    except FileNotFoundError:
        s.status, s.cause = MISSING, "never written"
        return s
    except (OSError, ValueError, KeyError, TypeError):
        s.status, s.cause = STALE, "unreadable (edited by hand?)"
        return s
    newer = [t["artifact_id"] for t in seed.get("tasks", [])
             if (rec := recorded.get((t["artifact_type"], t["target"]))) and rec.get("checksum")
             and (listed.get(t["artifact_id"]) or {}).get("checksum") != rec["checksum"]]
    if newer:
        s.status = STALE
        s.cause = "artifacts rebuilt after it: " + first_of(newer)
    elif doc.get("chain") != seed.get("provenance", {}).get("chain"):
        s.status, s.cause = STALE, "the manifest changed since it was written"
    elif changed := [rel for rel, digest in (doc.get("bundle_files") or {}).items()
                     if file_checksum(os.path.join(out, rel)) != digest]:
        s.status = STALE
        s.cause = "bundle-level files changed or deleted since: " + first_of(changed)
    return s
