"""`ContextCoreComponent`: ContextCore manifests as a Dagster Component, declared in a `defs.yaml`.

    type: ctx_assets.ContextCoreComponent
    attributes:
      manifests: ["*.contextcore.yaml"]   # paths, folders or globs, relative to this defs.yaml
      out_dir: ../../bundles              # optional; default `out` in the working directory

`dg scaffold defs ctx_assets.ContextCoreComponent NAME` writes that file and a starter manifest.
"""

from __future__ import annotations

import datetime as dt
import textwrap
from pathlib import Path

import dagster as dg
from dagster.components import Scaffolder, ScaffoldRequest

from ctx_assets.core.init_template import render_template
from ctx_assets.definitions import contextcore_definitions


class ContextCoreScaffolder(Scaffolder):
    """Writes a `defs.yaml` that loads as it is, with a starter manifest beside it."""

    def scaffold(self, request: ScaffoldRequest) -> None:
        folder = Path(request.target_path)
        folder.mkdir(parents=True, exist_ok=True)
        name = "".join(c if c.isalnum() else "-" for c in folder.name.lower()).strip("-") or "my-service"
        manifest = folder / f"{name}.contextcore.yaml"
        if not manifest.exists():
            manifest.write_text(render_template(name, manifest.name, dt.date.today().isoformat()))
        (folder / "defs.yaml").write_text(textwrap.dedent(f"""\
            type: {request.type_name}
            attributes:
              # ContextCore manifests: paths, folders or globs, relative to this file.
              manifests:
                - "*.contextcore.yaml"
              # Each bundle goes to <out_dir>/<metadata.name>; relative to this file.
              out_dir: out
            """))


@dg.scaffold_with(ContextCoreScaffolder)
class ContextCoreComponent(dg.Component, dg.Resolvable, dg.Model):
    """ContextCore manifests as Dagster assets: per project the shared stages (manifest, export,
    context_seed), the seven artifact types partitioned by target, provenance, the gates as asset
    checks, three jobs and a sensor that rebuilds what an edit touched."""

    manifests: list[str] = ["*.contextcore.yaml"]
    out_dir: str | None = None

    def build_defs(self, context: dg.ComponentLoadContext) -> dg.Definitions:
        here = Path(context.path)
        names = [n if Path(n).is_absolute() else str(here / n) for n in self.manifests]
        out = None if self.out_dir is None else (Path(self.out_dir) if Path(self.out_dir).is_absolute()
                                                  else here / self.out_dir)
        return contextcore_definitions(names, out_dir=out)
