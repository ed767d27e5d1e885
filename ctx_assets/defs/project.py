"""One manifest, one project: its names in Dagster (asset keys, partitions, jobs, resource key).

Any number of manifests share one code location and one instance: every name a project adds is
derived from its id (`spec.project.id`, else `metadata.name`), so two projects never collide, also
when they share target names, and a user's own definitions never collide with ours.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from dagster import AssetKey, DynamicPartitionsDefinition

_NOT_KEY = re.compile(r"[^A-Za-z0-9_]")
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
        prefix = _NOT_KEY.sub("_", self.id) or "project"
        object.__setattr__(self, "prefix", prefix)
        object.__setattr__(self, "targets", DynamicPartitionsDefinition(name=f"{prefix}__targets"))
        if not self.key_prefix:
            object.__setattr__(self, "key_prefix", (prefix,))

    def key(self, name: str) -> AssetKey:
        return AssetKey([*self.key_prefix, name])

    # Job, op and resource names are global in a code location: each carries the project's prefix.
    @property
    def shared_job(self) -> str:
        return f"{self.prefix}__ctx_shared_stages"

    @property
    def target_job(self) -> str:
        return f"{self.prefix}__ctx_artifacts"

    @property
    def edit_job(self) -> str:
        """The sensor's one run for an edit: the shared stages and the affected artifacts of a target range."""
        return f"{self.prefix}__ctx_edit"

    @property
    def output_job(self) -> str:
        return f"{self.prefix}__ctx_output"

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
    try:
        data = yaml.load(path.read_bytes(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
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
