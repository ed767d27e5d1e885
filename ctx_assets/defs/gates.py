"""Gates as asset checks: names, blocking flags and the GateResult → AssetCheckResult adapter."""

from __future__ import annotations

import warnings

from dagster import AssetCheckResult, AssetCheckSeverity, AssetCheckSpec, AssetKey, PartitionsDefinition

from ctx_assets.contracts.gates import GateName, GateOutcome, GateResult
from ctx_assets.core.pipeline import SEED_GATES as SEED_GATE_NAMES  # the stage a gate belongs to, once
from ctx_assets.core.secrets import scrub

# Partitioned check specs are "preview" in 1.13; they are what gives per-target gate results.
warnings.filterwarnings("ignore", message="Specifying a partitions_def on an AssetCheckSpec")

MANIFEST_GATES = [GateName.manifest_schema]
EXPORT_GATES = [GateName.field_preservation, GateName.derivation_coverage, GateName.dependency_graph_acyclic,
                GateName.secret_scan]
SEED_GATES = list(SEED_GATE_NAMES)
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


def _violations(violations: list, meta: dict[str, object]) -> None:
    for i, v in enumerate(violations[:20]):
        meta[f"gate.violation.{i}.field"] = v.field
        meta[f"gate.violation.{i}.message"] = v.message[:1000]


def to_check(result: GateResult, asset: str) -> AssetCheckResult:
    meta: dict[str, object] = {"gate.result": result.result.value, "gate.violations": len(result.violations)}
    _violations(result.violations, meta)
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


# -- artifact gates: one check evaluation per artifact (docs/architecture.md, "Gates as checks") ------------
ARTIFACT_GATES_CHECK = "artifact_gates"


def artifact_gates_spec(key: AssetKey, gates: list[GateName], partitions_def: PartitionsDefinition) -> AssetCheckSpec:
    names = ", ".join(g.value for g in gates)
    return AssetCheckSpec(ARTIFACT_GATES_CHECK, asset=key, blocking=True, partitions_def=partitions_def,
                          description=f"every gate of this artifact, per target: {names}. The evaluation's "
                                      "metadata has each gate's result (gate.<name>) and the violations.")


def artifact_gates_metadata(gates: list[GateResult]) -> tuple[bool, dict[str, object]]:
    """(passed, metadata): passed unless a blocking gate failed; each gate's result by name."""
    meta: dict[str, object] = {f"gate.{g.gate.value}": g.result.value for g in gates}
    failed = [g for g in gates if g.blocks]
    meta["gate.result"] = "failed" if failed else ("warned" if any(g.result == GateOutcome.warned for g in gates)
                                                    else "passed")
    meta["gate.failed"] = ", ".join(g.gate.value for g in failed)
    shown = [v for g in (failed or [g for g in gates if g.violations]) for v in g.violations]
    meta["gate.violations"] = len(shown)
    _violations(shown, meta)
    return not failed, meta
