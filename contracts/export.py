"""Export contracts: the artifact manifest and the onboarding metadata.

Export models mirror source models field for field; the field-preservation gate
compares the pairs in `EXPORT_MODEL_PAIRS` generically, so a field added to a
source model and not carried here fails that gate (problem statement §1.2).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from . import manifest as src
from .artifacts import ArtifactType, DesignCalibrationHint, ExpectedOutputContract

ONBOARDING_SCHEMA_ID = "contextcore.io/onboarding-metadata/v1"
ONBOARDING_SCHEMA_VERSION = "1.0.0"
ARTIFACT_MANIFEST_KIND = "ArtifactManifest"


class _Export(BaseModel):
    # extra="ignore" is deliberate: that is how fields get dropped silently, and
    # what the field-preservation gate exists to catch.
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore",
                              use_enum_values=True)


class KeyResultExport(_Export):
    metric_key: str
    unit: str
    target: float
    target_operator: str | None = None
    baseline: float | None = None
    window: str | None = None
    data_source: str | None = None


class ObjectiveExport(_Export):
    id: str
    description: str
    key_results: list[KeyResultExport] = Field(default_factory=list)


class GuidanceQuestionExport(_Export):
    id: str
    question: str
    status: str
    priority: str
    answer: str | None = None
    answered_by: str | None = None
    answered_at: str | None = None


class ConstraintExport(_Export):
    id: str
    rule: str
    severity: str
    rationale: str | None = None
    applies_to: list[str] = Field(default_factory=list)


class RiskExport(_Export):
    type: str
    description: str
    priority: str
    mitigation: str | None = None
    controls: list[str] = Field(default_factory=list)


class TargetExport(_Export):
    kind: str
    name: str
    namespace: str


# (source model, export model): every source field must exist in the export model.
EXPORT_MODEL_PAIRS: list[tuple[type[BaseModel], type[BaseModel]]] = [
    (src.KeyResult, KeyResultExport),
    (src.Objective, ObjectiveExport),
    (src.Question, GuidanceQuestionExport),
    (src.Constraint, ConstraintExport),
    (src.Risk, RiskExport),
    (src.Target, TargetExport),
]


class DerivationRule(BaseModel):
    property: str
    source_field: str = Field(alias="sourceField")
    transformation: str
    rationale: str
    model_config = ConfigDict(populate_by_name=True)


class ArtifactSpec(BaseModel):
    id: str
    type: ArtifactType
    target: str
    namespace: str
    priority: str  # required | recommended | optional
    output_path: str = Field(alias="outputPath")
    generator: str
    depends_on: list[str] = Field(default_factory=list, alias="dependsOn")
    derived_from: list[DerivationRule] = Field(default_factory=list, alias="derivedFrom")
    parameters: dict[str, Any] = Field(default_factory=dict)
    model_config = ConfigDict(populate_by_name=True, use_enum_values=True)


class ArtifactManifest(BaseModel):
    api_version: str = Field(default="contextcore.io/v1alpha2", alias="apiVersion")
    kind: str = ARTIFACT_MANIFEST_KIND
    metadata: dict[str, Any]
    artifacts: list[ArtifactSpec]
    coverage: dict[str, Any]
    model_config = ConfigDict(populate_by_name=True)


class Checksums(BaseModel):
    source_checksum: str
    artifact_manifest_checksum: str
    metadata_checksum: str = ""  # sha256 of the metadata with this field empty


class OnboardingMetadata(BaseModel):
    schema_id: str = ONBOARDING_SCHEMA_ID
    schema_version: str = ONBOARDING_SCHEMA_VERSION
    project_id: str
    project: dict[str, Any]
    targets: list[TargetExport]
    artifact_types: dict[str, dict[str, Any]]
    derivation_rules: dict[str, list[DerivationRule]]
    objectives: list[ObjectiveExport]
    artifact_dependency_graph: dict[str, list[str]]
    artifact_index: dict[str, dict[str, str]]  # id -> type, target, output_path, priority
    resolved_artifact_parameters: dict[str, dict[str, Any]]
    open_questions: list[GuidanceQuestionExport]
    guidance_constraints: list[ConstraintExport]
    risks: list[RiskExport]
    expected_output_contracts: dict[str, ExpectedOutputContract]
    design_calibration_hints: dict[str, DesignCalibrationHint]
    output_path_conventions: dict[str, str]
    semantic_conventions: dict[str, Any]
    coverage: dict[str, Any]
    field_preservation: dict[str, Any]
    checksums: Checksums
