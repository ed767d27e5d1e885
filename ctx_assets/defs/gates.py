"""Gates as asset checks: names, blocking flags and the GateResult → AssetCheckResult adapter."""

from __future__ import annotations

import warnings

from dagster import AssetCheckResult, AssetCheckSeverity, AssetCheckSpec, PartitionsDefinition

from contracts.gates import GateName, GateOutcome, GateResult
from ctx_assets.core.secrets import scrub

# Partitioned check specs are "preview" in 1.13; they are what gives per-target gate results (SPEC §3).
warnings.filterwarnings("ignore", message="Specifying a partitions_def on an AssetCheckSpec")

MANIFEST_GATES = [GateName.manifest_schema]
EXPORT_GATES = [GateName.field_preservation, GateName.derivation_coverage, GateName.dependency_graph_acyclic,
                GateName.secret_scan]
SEED_GATES = [GateName.export_integrity, GateName.seed_completeness]
ARTIFACT_GATES = [GateName.size_estimate, GateName.design_calibration, GateName.output_contract,
                  GateName.artifact_schema, GateName.secret_scan]
EXTERNAL_TYPES = {"prometheus_rule", "loki_rule", "notification_policy"}
NON_BLOCKING = {GateName.design_calibration}

_DESCRIPTIONS = {
    GateName.manifest_schema: "manifest v2 schema and cross-field rules",
    GateName.field_preservation: "export models keep every source-model field and value",
    GateName.derivation_coverage: "every artifact type has derivation rules",
    GateName.dependency_graph_acyclic: "artifact dependency graph has no cycle",
    GateName.secret_scan: "no credential in the output",
    GateName.export_integrity: "export matches the manifest and its own checksums",
    GateName.seed_completeness: "one task per planned artifact; plan and context agree",
    GateName.size_estimate: "estimated size fits the expected-output contract (before IMPLEMENT)",
    GateName.design_calibration: "design depth tier matches the artifact type",
    GateName.output_contract: "required fields, completeness markers, line and token bounds",
    GateName.artifact_schema: "output parses as its format's typed model",
    GateName.external_validators: "promtool / amtool accept the file",
}


def specs(asset: str, gates: list[GateName],
          partitions_def: PartitionsDefinition | None = None) -> list[AssetCheckSpec]:
    return [AssetCheckSpec(g.value, asset=asset, blocking=g not in NON_BLOCKING, description=_DESCRIPTIONS[g],
                           partitions_def=partitions_def) for g in gates]


def to_check(result: GateResult, asset: str) -> AssetCheckResult:
    meta: dict[str, object] = {"gate.result": result.result.value, "gate.violations": len(result.violations)}
    for i, v in enumerate(result.violations[:20]):
        meta[f"gate.violation.{i}.field"] = v.field
        meta[f"gate.violation.{i}.message"] = v.message[:1000]
    for k, v in result.details.items():
        if isinstance(v, str | int | float | bool):
            meta[k] = v
    return AssetCheckResult(  # metadata lands in the Dagster event log: through the one redaction path
        asset_key=asset, check_name=result.gate.value, passed=result.result != GateOutcome.failed, metadata=scrub(meta),
        severity=AssetCheckSeverity.WARN if result.result == GateOutcome.warned or not result.blocking
        else AssetCheckSeverity.ERROR)


def not_run(gate: GateName, asset: str, why: str) -> AssetCheckResult:
    return AssetCheckResult(asset_key=asset, check_name=gate.value, passed=False,
                            metadata={"gate.result": "not run", "reason": why})
