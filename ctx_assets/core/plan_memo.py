"""The plan memo: what the last successful build of an output folder planned, so a command that finds the
manifest, the code and the export unchanged skips re-exporting and re-planning (issue 23).

At 1,000 targets the export and plan take ~2 s and the seed is a 33 MB file; `ctx status` and a no-op
`ctx build` need only each artifact's fingerprint, path and the shared stages' gate results. The memo holds
those, and is used only when every input it was made from is byte-for-byte the same: the manifest's bytes,
ctx's own code, and the export and seed files on disk (their checksums). Anything else is a miss and the
command plans as before.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import orjson

from .checksums import file_checksum, sha256_hex
from .export_paths import ARTIFACT_MANIFEST_PATH, ONBOARDING_PATH, SEED_PATH
from .fingerprints import task_fingerprint
from .fsio import write_atomic
from .staging import current

MEMO_VERSION = 1
PLANNED_FILES = (ARTIFACT_MANIFEST_PATH, ONBOARDING_PATH, SEED_PATH)


@lru_cache(maxsize=1)
def code_fingerprint() -> str:
    """sha256 over ctx's own source (core and contracts: everything export and plan run): a changed
    generator or derivation rule in a checkout without a version bump still misses the memo."""
    import ctx_assets.contracts as contracts
    import ctx_assets.core as core

    h = hashlib.sha256()
    for package in (core, contracts):
        for root in package.__path__:
            for folder, dirs, files in sorted(os.walk(root)):
                dirs.sort()
                for name in sorted(files):
                    if name.endswith(".py"):
                        h.update(name.encode())
                        h.update(Path(folder, name).read_bytes())
    return h.hexdigest()


def cache_file(home: Path, kind: str, out: Path, suffix: str = ".json") -> Path:
    """One cache file (or folder) of `kind` per output folder, in the project-local home's cache (never in
    the bundle)."""
    return home / "cache" / kind / f"{sha256_hex(str(out.resolve()).encode())[:16]}{suffix}"


def memo_path(home: Path, out: Path) -> Path:
    return cache_file(home, "plans", out)


@dataclass(frozen=True)
class MemoTask:
    artifact_id: str
    artifact_type: str
    target: str
    output_path: str
    fingerprint: str
    code_version: str


@dataclass(frozen=True)
class PlanMemo:
    source_checksum: str
    gates: list[dict[str, Any]]  # the shared stages' gate results, as `ctx build` reports them
    chain: list[dict[str, Any]]  # the seed's provenance chain
    tasks: list[MemoTask]


def write_memo(home: Path, out: Path, source_checksum: str, gates: list[dict[str, Any]],
               seed: dict[str, Any], code_versions: dict[str, str]) -> None:
    """Record a successful plan of `out` (its export and seed are staged or in the bundle now: the memo
    holds their checksums, so it is used only once the output stage has swapped them in)."""
    files = {rel: file_checksum(current(out, rel)) for rel in PLANNED_FILES}
    if None in files.values():
        return
    tasks = [[t["artifact_id"], t["artifact_type"], t["target"], t["output_path"],
              task_fingerprint(t, code_versions[t["artifact_type"]]), code_versions[t["artifact_type"]]]
             for t in seed["tasks"]]
    doc = {"version": MEMO_VERSION, "code": code_fingerprint(), "source_checksum": source_checksum,
           "files": files, "gates": gates, "chain": seed.get("provenance", {}).get("chain", []), "tasks": tasks}
    with contextlib.suppress(OSError):  # a cache: a home that cannot take it costs the next command its plan
        write_atomic(memo_path(home, out), orjson.dumps(doc))


def read_memo(home: Path, out: Path, manifest_bytes: bytes) -> PlanMemo | None:
    """The memo of `out` if it still describes this manifest, this code and the files on disk; else None."""
    try:
        doc = orjson.loads(memo_path(home, out).read_bytes())
    except (OSError, ValueError):
        return None
    try:
        if doc["version"] != MEMO_VERSION or doc["source_checksum"] != sha256_hex(manifest_bytes) \
                or doc["code"] != code_fingerprint():
            return None
        if any(file_checksum(out / rel) != digest for rel, digest in doc["files"].items()):
            return None  # the export or the seed was rebuilt, edited or deleted since
        return PlanMemo(doc["source_checksum"], doc["gates"], doc["chain"], [MemoTask(*t) for t in doc["tasks"]])
    except (KeyError, TypeError, ValueError):
        return None
