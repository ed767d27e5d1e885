"""Asset jobs `ctx build` runs: the shared stages, the artifacts of a range of targets, the output."""

from dagster import AssetSelection, define_asset_job

from ctx_assets.core.artifact_types import TYPE_ORDER

from .project import Project

SHARED_JOB = "ctx_shared_stages"
TARGET_JOB = "ctx_artifacts"
OUTPUT_JOB = "ctx_output"


def project_jobs(p: Project) -> list:
    shared = [p.key("manifest"), p.key("export"), p.key("context_seed")]
    return [
        define_asset_job(SHARED_JOB, selection=AssetSelection.assets(*shared),
                         description="Manifest → Export → Plan ingestion"),
        define_asset_job(TARGET_JOB, selection=AssetSelection.assets(*[p.key(t.value) for t in TYPE_ORDER]),
                         description="The seven artifact types over a range of targets: one run per build"),
        define_asset_job(OUTPUT_JOB, selection=AssetSelection.assets(p.key("provenance")),
                         description="Output: provenance"),
    ]
