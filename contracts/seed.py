"""The artisan context seed: one task per artifact, in dependency order."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from .artifacts import DesignCalibrationHint, ExpectedOutputContract
from .export import DerivationRule

SEED_SCHEMA_ID = "contextcore.io/artisan-context-seed/v1"
SEED_SCHEMA_VERSION = "1.0.0"


class DesignCalibration(BaseModel):
    expected_tier: str  # from the artifact type
    estimated_tier: str  # from the size estimate
    estimated_lines: int
    estimated_tokens: int
    matches: bool
    hint: DesignCalibrationHint


class DesignConstraint(BaseModel):
    source: str  # guidance.questions | guidance.constraints
    id: str
    text: str
    severity: str
    status: str | None = None


class SeedTask(BaseModel):
    task_id: str
    artifact_id: str
    artifact_type: str
    target: str
    depends_on: list[str]
    generator: str
    output_path: str
    derivation_rules: list[DerivationRule]
    resolved_parameters: dict[str, Any]
    expected_output_contract: ExpectedOutputContract
    design_calibration: DesignCalibration
    design_constraints: list[DesignConstraint]
    design_principles: list[str]
    coverage: dict[str, Any]


class ArtifactManifestRef(BaseModel):
    path: str
    checksum: str


class ContextSeed(BaseModel):
    schema_id: str = SEED_SCHEMA_ID
    schema_version: str = SEED_SCHEMA_VERSION
    project_id: str
    artifact_manifest: ArtifactManifestRef
    onboarding_metadata: ArtifactManifestRef
    artifact_types: dict[str, dict[str, Any]]
    output_path_conventions: dict[str, str]
    semantic_conventions: dict[str, Any]
    coverage: dict[str, Any]
    design_principles: list[dict[str, Any]]
    tasks: list[SeedTask]
    provenance: dict[str, Any] = Field(default_factory=dict)
