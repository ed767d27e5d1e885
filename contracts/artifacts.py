"""Artifact types and the expected-output contract (one contract per type)."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, Field


class ArtifactType(StrEnum):
    """The seven artifact types; the value is the name used in code, files, UI and spans."""

    service_monitor = "service_monitor"
    slo_definition = "slo_definition"
    prometheus_rule = "prometheus_rule"
    loki_rule = "loki_rule"
    dashboard = "dashboard"
    notification_policy = "notification_policy"
    runbook = "runbook"

    @property
    def slug(self) -> str:
        return self.value.replace("_", "-")


class DepthTier(StrEnum):
    brief = "brief"
    standard = "standard"
    comprehensive = "comprehensive"


def artifact_id(target: str, artifact_type: ArtifactType | str) -> str:
    """`{target}-{type with _ as -}`, e.g. checkout-api-dashboard."""
    return f"{target}-{ArtifactType(artifact_type).slug}"


class ExpectedOutputContract(BaseModel):
    """What a valid artifact of a type looks like, in one place (the ExpectedOutput pattern)."""

    expected_depth: DepthTier
    min_lines: int
    max_lines: int
    max_tokens: int
    required_fields: list[str] = Field(description="dotted paths that must be present and non-empty")
    completeness_markers: list[str] = Field(description="strings a complete artifact contains")


class DesignCalibrationHint(BaseModel):
    expected_tier: DepthTier
    allowed_tiers: list[DepthTier]
    loc_range: tuple[int, int]
    red_flag: str
