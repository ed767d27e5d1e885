"""One manifest, one project: its names in Dagster (asset keys, partitions, jobs, resource key).

Any number of manifests share one code location and one instance: every name a project adds is
derived from its id (`spec.project.id`, else `metadata.name`), so two projects never collide, also
when they share target names, and a user's own definitions never collide with ours.
"""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from dagster import AssetKey, DynamicPartitionsDefinition

from ctx_assets.core.artifact_types import TYPE_ORDER
from ctx_assets.core.loader import MAX_BYTES as MAX_MANIFEST_BYTES
from ctx_assets.core.project_names import key_prefix

PROJECT_TAG = "ctx/project"  # on every run: the project it builds
STAGE_TAG = "ctx/stage"  # on every run: shared, artifacts or output
STAGES = {"shared": ("manifest", "export", "context_seed"), "artifacts": tuple(t.value for t in TYPE_ORDER),
          "output": ("provenance",)}
_NOT_TEAM = re.compile(r"[^A-Za-z0-9_-]")


@dataclass(frozen=True)
class Project:
    """A manifest as Dagster sees it, read cheaply (the code location loads before any validation)."""

    id: str  # as in the manifest (spec.project.id, else metadata.name)
    manifest: Path | None = field(default=None, compare=False)
    out_dir: Path | None = field(default=None, compare=False)  # the bundle folder
    name: str | None = field(default=None, compare=False)  # metadata.name
    owners: tuple[str, ...] = field(default=(), compare=False)  # Dagster owners: team:NAME or e-mail
    criticality: str | None = field(default=None, compare=False)
    key_prefix: tuple[str, ...] = field(default=(), compare=False)  # the translator's; default (prefix,)
    prefix: str = field(init=False)
    targets: DynamicPartitionsDefinition = field(init=False, compare=False)

    def __post_init__(self) -> None:
        prefix = key_prefix(self.id)
        object.__setattr__(self, "prefix", prefix)
        object.__setattr__(self, "targets", DynamicPartitionsDefinition(name=f"{prefix}__targets"))
        if not self.key_prefix:
            object.__setattr__(self, "key_prefix", (prefix,))

    def key(self, name: str) -> AssetKey:
        return AssetKey([*self.key_prefix, name])

    def stage_keys(self, stage: str) -> list[AssetKey]:
        """The assets a run of `stage` materializes: `shared` (manifest, export, context_seed), `artifacts`
        (the seven types) or `output` (provenance). Runs are asset selections on the code location's
        implicit asset job, tagged with the stage (STAGE_TAG) and the project (PROJECT_TAG): no job of
        our own, since 600 job snapshots made 200 projects a 232 MB repository snapshot."""
        return [self.key(name) for name in STAGES[stage]]

    def run_tags(self, stage: str) -> dict[str, str]:
        return {PROJECT_TAG: self.prefix, STAGE_TAG: stage}

    # Op and resource names are global in a code location: each carries the project's prefix.
    @property
    def store_key(self) -> str:
        return f"ctx_assets_store__{self.prefix}"


def _owners(metadata: object) -> tuple[str, ...]:
    out: list[str] = []
    for o in (metadata.get("owners") or []) if isinstance(metadata, dict) else []:
        if not isinstance(o, dict):
            continue
        team = o.get("team")
        if isinstance(team, str) and _NOT_TEAM.sub("", team):
            out.append(f"team:{_NOT_TEAM.sub('-', team.strip())}")
        email = o.get("email")
        if isinstance(email, str) and re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", email):
            out.append(email)
    return tuple(dict.fromkeys(out))


def project_of(manifest_path: str | Path) -> Project:
    """The project a manifest describes. A file that cannot be read or parsed still gets a stable
    project, its file name, so the code location loads and the manifest_schema check says what is wrong."""
    path = Path(manifest_path)
    try:  # a regular file within the loader's size cap; its names only, so the fast parser
        with path.open("rb") as f:
            if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
                raise OSError("not a regular file")
            raw = f.read(MAX_MANIFEST_BYTES + 1)
        data = yaml.load(raw, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)) \
            if len(raw) <= MAX_MANIFEST_BYTES else None
    except (OSError, yaml.YAMLError):
        data = None
    spec = (data.get("spec") or {}) if isinstance(data, dict) else {}
    metadata = (data.get("metadata") or {}) if isinstance(data, dict) else {}
    spec = spec if isinstance(spec, dict) else {}
    metadata = metadata if isinstance(metadata, dict) else {}
    spec_project = spec.get("project") if isinstance(spec.get("project"), dict) else {}
    business = spec.get("business") if isinstance(spec.get("business"), dict) else {}
    name = metadata.get("name") if isinstance(metadata.get("name"), str) else None
    pid = spec_project.get("id") or name
    if not (isinstance(pid, str) and pid.strip()):
        pid = path.name.removesuffix(".yaml").removesuffix(".yml").removesuffix(".contextcore")
    crit = business.get("criticality")
    return Project(pid.strip(), manifest=path, name=name, owners=_owners(metadata),
                   criticality=crit if isinstance(crit, str) else None)
