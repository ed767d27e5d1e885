"""Where the shared stages' files sit in a bundle: one place, imported by every stage and command (a
command that only reads them, like `ctx status`, then loads none of the stages' code)."""

ARTIFACT_MANIFEST_PATH = "export/artifact-manifest.yaml"  # export
ONBOARDING_PATH = "export/onboarding-metadata.json"  # export
SEED_PATH = "export/artisan-context-seed.json"  # plan ingestion
PROVENANCE_PATH = "export/provenance.json"  # output
