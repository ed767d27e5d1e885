"""Asset jobs of a project: the shared stages, the artifacts of a range of targets, both in one run (an edit),
the output.
Their names carry the project's prefix (Project.shared_job, …): job names are global in a code location."""

from dagster import AssetSelection, define_asset_job

from ctx_assets.core.artifact_types import TYPE_ORDER

from .project import Project


def project_jobs(p: Project) -> list:
    shared = [p.key("manifest"), p.key("export"), p.key("context_seed")]
    return [
        define_asset_job(p.shared_job, selection=AssetSelection.assets(*shared),
                         description=f"{p.id}: Manifest → Export → Plan ingestion"),
        define_asset_job(p.target_job, selection=AssetSelection.assets(*[p.key(t.value) for t in TYPE_ORDER]),
                         description=f"{p.id}: the seven artifact types over a range of targets"),
        define_asset_job(p.edit_job, selection=AssetSelection.assets(*shared, *[p.key(t.value) for t in TYPE_ORDER]),
                         description=f"{p.id}: an edit as one run: Manifest → Export → Plan ingestion → the "
                                     "affected artifact types over a range of targets (the sensor's)"),
        define_asset_job(p.output_job, selection=AssetSelection.assets(p.key("provenance")),
                         description=f"{p.id}: Output: provenance"),
    ]
