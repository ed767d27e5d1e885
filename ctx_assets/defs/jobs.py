"""Asset jobs `ctx build` runs: the shared stages, the artifacts of a range of targets, the output."""

from dagster import AssetSelection, define_asset_job

from .assets import ARTIFACT_KEYS, SHARED_KEYS

SHARED_JOB = "ctx_shared_stages"
TARGET_JOB = "ctx_artifacts"
OUTPUT_JOB = "ctx_output"

shared_job = define_asset_job(SHARED_JOB, selection=AssetSelection.assets(*SHARED_KEYS),
                              description="Manifest → Export → Plan ingestion")
target_job = define_asset_job(TARGET_JOB, selection=AssetSelection.assets(*ARTIFACT_KEYS),
                              description="The seven artifact types over a range of targets: one run per build")
output_job = define_asset_job(OUTPUT_JOB, selection=AssetSelection.assets("provenance"),
                              description="Output: provenance")
JOBS = [shared_job, target_job, output_job]
