"""Typed results shared by every gate and by manifest validation."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field


class GateName(StrEnum):
    """The gates; these strings are the asset-check and span names."""

    manifest_schema = "manifest_schema"
    field_preservation = "field_preservation"
    derivation_coverage = "derivation_coverage"
    dependency_graph_acyclic = "dependency_graph_acyclic"
    export_integrity = "export_integrity"
    seed_completeness = "seed_completeness"
    size_estimate = "size_estimate"
    design_calibration = "design_calibration"
    output_contract = "output_contract"
    artifact_schema = "artifact_schema"
    external_validators = "external_validators"
    secret_scan = "secret_scan"


class GateOutcome(StrEnum):
    passed = "passed"
    failed = "failed"
    warned = "warned"


class Violation(BaseModel):
    field: str
    message: str


class GateResult(BaseModel):
    gate: GateName
    result: GateOutcome
    blocking: bool = True
    violations: list[Violation] = Field(default_factory=list)
    # Extra numbers a gate reports (before/after counts, checksums, calibration values).
    details: dict[str, Any] = Field(default_factory=dict)
    artifact_id: str | None = None

    @property
    def ok(self) -> bool:
        return self.result != GateOutcome.failed

    @property
    def blocks(self) -> bool:
        return self.blocking and self.result == GateOutcome.failed

    @classmethod
    def of(
        cls,
        gate: GateName,
        violations: list[Violation],
        *,
        blocking: bool = True,
        warn_only: bool = False,
        **details: Any,
    ) -> GateResult:
        """Failed (or warned, when `warn_only`) if there are violations, else passed."""
        if not violations:
            outcome = GateOutcome.passed
        else:
            outcome = GateOutcome.warned if warn_only else GateOutcome.failed
        return cls(gate=gate, result=outcome, blocking=blocking, violations=violations,
                   details=details)


class Problem(BaseModel):
    """One manifest problem, located in the source file."""

    file: str
    line: int
    column: int
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.path}: " if self.path else ""
        return f"{self.file}:{self.line}:{self.column}: {where}{self.message}"
