"""The Dagster code location: thin wiring of assets, checks, sensors and resources."""

from dagster import Definitions, in_process_executor

from resources.output_store import OutputStore, default_manifest, default_out
from resources.tracing import PipelineTracer
from resources.validators import ExternalValidators

from .defs.assets import ALL_ASSETS
from .defs.jobs import JOBS
from .defs.sensors import manifest_sensor


def build_definitions(manifest_path: str | None = None, out_dir: str | None = None,
                      tracing: bool = True) -> Definitions:
    manifest = manifest_path or default_manifest()
    return Definitions(
        assets=ALL_ASSETS,
        jobs=JOBS,
        sensors=[manifest_sensor],
        # In process: a process per step costs ~1 s each (SPEC §3); see docs/scaling.md to distribute.
        executor=in_process_executor,
        resources={"store": OutputStore(manifest_path=manifest, out_dir=out_dir or default_out(manifest)),
                   "validators": ExternalValidators(), "tracer": PipelineTracer(enabled=tracing)},
    )


defs = build_definitions()
