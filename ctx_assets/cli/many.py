"""`ctx build|status|export FOLDER`: every manifest of a folder or glob, one line per project, totals.

The exit code is the worst of the projects' (3 > 2 > 1 > 0): an environment fault stops the whole
command at once, since it would stop every project after it too.
"""

from __future__ import annotations

import glob
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ctx_assets.core.text import plural

from .common import CliError

if TYPE_CHECKING:  # `ctx status FILE` imports this module and must not load Dagster
    from ctx_assets.defs.project import Project


def is_many(path: str) -> bool:
    """A folder or a glob pattern names many manifests; a file names one."""
    return Path(path).is_dir() or (not Path(path).exists() and glob.has_magic(path))


def projects(path: str, out: str | None) -> list[Project]:
    """The projects of the folder or glob `path`, each with its manifest and its bundle folder
    `<out>/<metadata.name>` (default out/); nothing found, two manifests of one project or two bundles in
    one folder are refused before anything runs."""
    from ctx_assets.definitions import ManifestSelectionError, manifest_paths, projects_for

    try:
        return projects_for(manifest_paths([path]), out or "out")
    except ManifestSelectionError as e:
        raise CliError(str(e)) from e


@dataclass
class Totals:
    projects: int = 0
    by_code: dict[int, int] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)

    def add(self, code: int, **counts: int) -> None:
        self.projects += 1
        self.by_code[code] = self.by_code.get(code, 0) + 1
        for k, v in counts.items():
            self.counts[k] = self.counts.get(k, 0) + v

    @property
    def worst(self) -> int:
        return max(self.by_code, default=0)

    def line(self) -> str:
        ok = self.by_code.get(0, 0)
        parts = [f"{plural(self.projects, 'project')}: {ok} ok"]
        for code, what in ((1, "failed a gate"), (2, "invalid"), (3, "environment fault")):
            if self.by_code.get(code):
                parts.append(f"{self.by_code[code]} {what}")
        parts += [f"{v:,} {k}" for k, v in self.counts.items()]
        return ", ".join(parts)
