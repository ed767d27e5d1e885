"""The Dagster code location of one manifest: thin wiring of assets, checks, sensors and resources.

`defs` is the manifest named by CTX_MANIFEST (default: the bundled example); `ctx ui a.yaml b.yaml`
serves one such location per manifest on one instance (asset keys prefixed by each project id).
"""

import os
from typing import Any

from dagster import Definitions, in_process_executor

from ctx_assets.resources.output_store import OutputStore, default_manifest, default_out
from ctx_assets.resources.tracing import PipelineTracer
from ctx_assets.resources.validators import ExternalValidators

from .defs.assets import project_assets
from .defs.jobs import project_jobs
from .defs.project import project_of
from .defs.sensors import manifest_sensor


def build_definitions(manifest_path: str | None = None, out_dir: str | None = None,
                      tracing: bool = True) -> Definitions:
    manifest = manifest_path or default_manifest()
    project = project_of(manifest)
    jobs = project_jobs(project)
    return Definitions(
        assets=project_assets(project),
        jobs=jobs,
        sensors=[manifest_sensor(project, jobs)],
        executor=executor(),
        resources={"store": OutputStore(manifest_path=manifest, out_dir=out_dir or default_out(manifest)),
                   "validators": ExternalValidators(), "tracer": PipelineTracer(enabled=tracing)},
    )


def executor() -> Any:
    """In process: a process per step costs ~1 s each (SPEC §3). With CTX_CELERY_BROKER set (the [celery]
    extra), runs launched through the instance (the daemon's sensor runs) send their steps to celery
    workers on that broker (docs/scaling.md §2); `ctx build` always runs in process."""
    if not os.environ.get("CTX_CELERY_BROKER"):
        return in_process_executor
    from dagster_celery import celery_executor

    # The broker doubles as the result backend: one service to run (Redis), no RabbitMQ for rpc://.
    return celery_executor.configured({"broker": {"env": "CTX_CELERY_BROKER"},
                                       "backend": {"env": "CTX_CELERY_BROKER"}}, name="celery")


defs = build_definitions()
