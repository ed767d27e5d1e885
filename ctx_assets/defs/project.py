"""One manifest, one project: the asset key prefix and the targets partitions of its code location.

Many manifests share one Dagster instance (SPEC §8): each is its own code location whose asset
keys start with the project id (`online_boutique/dashboard`) and whose targets are their own
dynamic partitions (`online_boutique__targets`), so two manifests never see each other's
records, even when they share target names.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from dagster import AssetKey, DynamicPartitionsDefinition

_NOT_KEY = re.compile(r"[^A-Za-z0-9_]")


@dataclass(frozen=True)
class Project:
    id: str  # as in the manifest (spec.project.id, else metadata.name)
    prefix: str = field(init=False)
    targets: DynamicPartitionsDefinition = field(init=False, compare=False)

    def __post_init__(self) -> None:
        prefix = _NOT_KEY.sub("_", self.id) or "project"
        object.__setattr__(self, "prefix", prefix)
        object.__setattr__(self, "targets", DynamicPartitionsDefinition(name=f"{prefix}__targets"))

    def key(self, name: str) -> AssetKey:
        return AssetKey([self.prefix, name])


def project_of(manifest_path: str | Path) -> Project:
    """The project a manifest describes, read cheaply (the code location loads before any validation).
    A file that cannot be read or parsed still gets a stable project: its file name, so its code
    location loads and the manifest_schema check can say what is wrong."""
    path = Path(manifest_path)
    try:
        data = yaml.load(path.read_bytes(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
        spec_project = ((data.get("spec") or {}).get("project") or {}) if isinstance(data, dict) else {}
        pid = spec_project.get("id") or (data.get("metadata") or {}).get("name")
        if isinstance(pid, str) and pid.strip():
            return Project(pid.strip())
    except (OSError, yaml.YAMLError, AttributeError):
        pass
    return Project(path.name.removesuffix(".yaml").removesuffix(".contextcore"))
