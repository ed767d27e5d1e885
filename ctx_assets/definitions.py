"""`contextcore_definitions`: the Dagster definitions of one ContextCore manifest or many.

Bound to its manifests when called (as `@dbt_assets(manifest=...)` binds its dbt manifest), with
every name unique per project and no executor, so the result merges into any code location:

    import dagster as dg
    from ctx_assets import contextcore_definitions

    defs = dg.Definitions.merge(my_defs, contextcore_definitions("observability/*.contextcore.yaml"))
"""

from __future__ import annotations

import dataclasses
import glob
from collections.abc import Iterable, Sequence
from pathlib import Path

from dagster import Definitions

from ctx_assets.core.bundle_dir import folder_name
from ctx_assets.core.checksums import sha256_hex
from ctx_assets.resources.output_store import OutputStore

from .defs.assets import project_assets
from .defs.project import Project, project_of
from .defs.resource_keys import shared_resources
from .defs.sensors import manifest_sensor
from .translator import ContextCoreTranslator

PATTERNS = ("*.contextcore.yaml", "*.contextcore.yml")
ManifestPaths = str | Path | Iterable[str | Path]


class ManifestSelectionError(ValueError):
    """The manifests named cannot make one set of definitions (nothing found, two of one project)."""


def manifest_paths(manifests: ManifestPaths) -> list[Path]:
    """Paths, folders (every `*.contextcore.yaml` directly inside) or glob patterns → manifest files,
    each once, in the order named."""
    names = [manifests] if isinstance(manifests, str | Path) else list(manifests)
    found: list[Path] = []
    for raw in names:
        p = Path(raw)
        if p.is_dir():
            inside = sorted({m for pattern in PATTERNS for m in p.glob(pattern)})
            if not inside:
                raise ManifestSelectionError(f"{p}: no *.contextcore.yaml manifest in this folder")
            found += inside
        elif p.is_file():
            found.append(p)
        elif glob.has_magic(str(raw)):
            matches = sorted(Path(m) for m in glob.glob(str(raw), recursive=True) if Path(m).is_file())
            if not matches:
                raise ManifestSelectionError(f"{raw}: no manifest matches this pattern")
            found += matches
        else:
            raise ManifestSelectionError(f"{p}: no such manifest or folder")
    return list(dict.fromkeys(m.resolve() for m in found))


def projects_for(manifests: Sequence[Path], out_root: str | Path | None = None,
                 bundle_dirs: Sequence[str | Path] | None = None,
                 translator: ContextCoreTranslator | None = None) -> list[Project]:
    """One Project per manifest, its bundle in `bundle_dirs[i]` or `<out_root>/<metadata.name>`. Two
    manifests of one project, or two bundles in one folder, are refused: one instance keeps one record
    per project, and one folder holds one bundle."""
    tr = translator or ContextCoreTranslator()
    root = Path(out_root or "out")
    projects: list[Project] = []
    seen: dict[str, Path] = {}
    folders: dict[Path, Path] = {}
    for i, m in enumerate(manifests):
        p = project_of(m)
        if p.prefix in seen:
            raise ManifestSelectionError(
                f"{m} and {seen[p.prefix]} both describe project {p.id!r}; one Dagster instance keeps one "
                "record per project (give each its own spec.project.id)")
        out = Path(bundle_dirs[i] if bundle_dirs else root / folder_name(p.name, m)).resolve()
        if out in folders:
            raise ManifestSelectionError(f"{m} and {folders[out]} would both write their bundle to {out}; "
                                         "give each its own metadata.name")
        seen[p.prefix], folders[out] = m, m
        projects.append(dataclasses.replace(p, out_dir=out, key_prefix=tuple(tr.get_key_prefix(p))))
    return projects


def sensor_name(projects: Sequence[Project]) -> str:
    """`<project>__manifest_sensor`; for many projects one name per set, so two calls merge."""
    if len(projects) == 1:
        return f"{projects[0].prefix}__manifest_sensor"
    digest = sha256_hex(",".join(sorted(p.prefix for p in projects)).encode())[:10]
    return f"contextcore_manifests_sensor__{digest}"


def definitions_for(projects: Sequence[Project], translator: ContextCoreTranslator | None = None) -> Definitions:
    tr = translator or ContextCoreTranslator()
    assets: list = []
    stores = {p.prefix: OutputStore(manifest_path=str(p.manifest), out_dir=str(p.out_dir), project=p.id)
              for p in projects}
    resources: dict = {**shared_resources(), **{p.store_key: stores[p.prefix] for p in projects}}
    for p in projects:
        assets += project_assets(p, tr)
    sensors = [manifest_sensor(list(projects), sensor_name(projects), stores)] if projects else []
    return Definitions(assets=assets, sensors=sensors, resources=resources)


def contextcore_definitions(manifests: ManifestPaths, *, out_dir: str | Path | None = None,
                            translator: ContextCoreTranslator | None = None) -> Definitions:
    """The assets, asset checks (gates), jobs, sensor and resources of one ContextCore manifest or many.

    Args:
        manifests: a manifest path, a folder (every `*.contextcore.yaml` directly inside), a glob
            pattern (`services/**/*.contextcore.yaml`), or a list of these.
        out_dir: the folder each project's bundle goes under, as `<out_dir>/<metadata.name>`;
            default `out` in the code location's working directory.
        translator: a `ContextCoreTranslator` (subclass) deciding asset key prefixes, groups, owners,
            tags, kinds and descriptions.

    Every name is unique per project: asset keys `<project>/<asset>`, partitions `<project>__targets`,
    the resource `ctx_assets_store__<project>`; the tracer and validators (`ctx_assets_tracer`,
    `ctx_assets_validators`) are shared objects. No jobs: runs are asset selections on the location's
    implicit asset job, tagged `ctx/project` and `ctx/stage`. No executor: yours applies.

    Raises:
        ManifestSelectionError: nothing found, or two manifests of one project / one bundle folder.
    """
    tr = translator or ContextCoreTranslator()
    return definitions_for(projects_for(manifest_paths(manifests), out_dir, translator=tr), tr)
