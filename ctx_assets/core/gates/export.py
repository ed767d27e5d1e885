"""Export-boundary gates: field preservation, derivation coverage, export integrity."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import BaseModel

from ctx_assets.contracts.artifacts import ArtifactType
from ctx_assets.contracts.export import EXPORT_MODEL_PAIRS, DerivationRule
from ctx_assets.contracts.gates import GateName, GateResult, Violation

from ..checksums import canonical_json, sha256_hex


def _field_names(model: type[BaseModel]) -> set[str]:
    return set(model.model_fields)


def check_field_preservation(
    pairs: Iterable[tuple[type[BaseModel], type[BaseModel]]] = EXPORT_MODEL_PAIRS,
    conversions: Iterable[tuple[BaseModel, BaseModel]] = (),
) -> GateResult:
    """Every source-model field exists in its export model, and every set value survives conversion.

    Generic: compares the models' declared field sets, so no list of fields is hard-coded here.
    """
    violations: list[Violation] = []
    before = after = 0
    per_model: dict[str, dict[str, int]] = {}
    for source, export in pairs:
        s, e = _field_names(source), _field_names(export)
        before += len(s)
        after += len(s & e)
        per_model[f"{source.__name__}->{export.__name__}"] = {"before": len(s), "after": len(s & e)}
        for name in sorted(s - e):
            violations.append(Violation(field=f"{source.__name__}.{name}",
                                        message=f"dropped by {export.__name__} (no such field)"))
    values_before = values_after = 0
    for src, out in conversions:
        kept = out.model_fields_set | {k for k, v in out if v is not None}
        for name in src.model_fields_set:
            if getattr(src, name, None) is None:
                continue
            values_before += 1
            if name in kept:
                values_after += 1
            else:
                violations.append(Violation(field=f"{type(src).__name__}.{name}",
                                            message=f"value lost converting to {type(out).__name__}"))
    return GateResult.of(GateName.field_preservation, violations, fields_before=before, fields_after=after,
                         values_before=values_before, values_after=values_after, models=per_model)


def check_derivation_coverage(rules: Mapping[str, list[DerivationRule]],
                              types: Iterable[ArtifactType] = tuple(ArtifactType)) -> GateResult:
    violations = [Violation(field=f"derivation_rules.{t.value}", message="no derivation rules for this type")
                  for t in types if not rules.get(t.value)]
    return GateResult.of(GateName.derivation_coverage, violations,
                         types_covered=sum(1 for t in types if rules.get(t.value)), types_total=len(list(types)))


def metadata_checksum(metadata: Mapping[str, Any]) -> str:
    """sha256 of the metadata's canonical JSON with its own checksum field blanked."""
    body = dict(metadata)
    body["checksums"] = {**metadata.get("checksums", {}), "metadata_checksum": ""}
    return sha256_hex(canonical_json(body))


def check_export_integrity(metadata: Mapping[str, Any], manifest_bytes: bytes,
                           artifact_manifest_bytes: bytes) -> GateResult:
    """Stale export (manifest changed since), hand-edited metadata, artifact manifest mismatch."""
    violations: list[Violation] = []
    sums = metadata.get("checksums") or {}
    if "schema_version" not in metadata:
        violations.append(Violation(field="schema_version",
                                    message="missing: cannot tell an old-format export from an empty field"))
    actual_source = sha256_hex(manifest_bytes)
    if sums.get("source_checksum") != actual_source:
        violations.append(Violation(field="checksums.source_checksum",
                                    message=f"stale export: made from {str(sums.get('source_checksum'))[:12]}…, "
                                            f"manifest is now {actual_source[:12]}…"))
    actual_am = sha256_hex(artifact_manifest_bytes)
    if sums.get("artifact_manifest_checksum") != actual_am:
        violations.append(Violation(field="checksums.artifact_manifest_checksum",
                                    message="artifact manifest does not match the checksum in the metadata"))
    actual_md = metadata_checksum(metadata)
    if sums.get("metadata_checksum") != actual_md:
        violations.append(Violation(field="checksums.metadata_checksum",
                                    message="metadata content does not match its checksum (hand-edited?)"))
    return GateResult.of(GateName.export_integrity, violations, **{
        "checksum.source.expected": sums.get("source_checksum"), "checksum.source.actual": actual_source,
        "checksum.artifact_manifest.expected": sums.get("artifact_manifest_checksum"),
        "checksum.artifact_manifest.actual": actual_am,
        "checksum.metadata.expected": sums.get("metadata_checksum"), "checksum.metadata.actual": actual_md})
