"""Export stage: manifest → artifact manifest + onboarding metadata.

Pure: a validated manifest and its bytes in, serialised files and gate results
out. Nothing computed here is dropped before writing (problem statement §1.1).
The hot path builds plain dicts (1,000 targets = 7,000 artifact specs); the
pydantic models in contracts/export.py define the shapes and tests validate
the output against them.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Any

import orjson
from pydantic import ValidationError

from ctx_assets.contracts.artifacts import ArtifactType, artifact_id
from ctx_assets.contracts.export import (
    ARTIFACT_MANIFEST_KIND,
    ONBOARDING_SCHEMA_ID,
    ONBOARDING_SCHEMA_VERSION,
    ConstraintExport,
    GuidanceQuestionExport,
    ObjectiveExport,
    RiskExport,
    TargetExport,
)
from ctx_assets.contracts.gates import GateName, GateResult, Violation
from ctx_assets.contracts.manifest import API_VERSION, ContextManifest, Target

from . import yamlout
from .artifact_types import TYPE_ORDER, TYPES, output_path
from .checksums import pretty_json, sha256_hex
from .conventions import SEMANTIC_CONVENTIONS
from .derivation import PRIORITY_BY_CRITICALITY, Shared, derivation_rules, infer_operator, resolve_parameters
from .export_paths import ARTIFACT_MANIFEST_PATH, ONBOARDING_PATH
from .gates.export import check_derivation_coverage, check_field_preservation, metadata_checksum
from .gates.graph import check_acyclic
from .plan_memo import code_fingerprint
from .secrets import redact, scan_text
from .slices import SliceCache, digest


@dataclass
class ExportResult:
    manifest: ContextManifest  # with any secrets redacted
    artifact_manifest: dict[str, Any]
    onboarding: dict[str, Any]
    files: dict[str, bytes]  # relative path -> content
    gates: list[GateResult] = field(default_factory=list)
    source_checksum: str = ""

    @property
    def blocked(self) -> bool:
        return any(g.blocks for g in self.gates)


def redact_manifest(m: ContextManifest) -> tuple[ContextManifest, list[Violation]]:
    """Secrets are removed at the input boundary, so nothing derived from the manifest can carry one."""
    original = m.dump()
    data, found = redact(original)
    if not found:
        return m, found
    try:
        return ContextManifest.model_validate(data), found
    except ValidationError as e:  # a redacted neighbour of a split credential in a typed field (an enum):
        for err in e.errors():  # the schema held that value before, so it is no credential: put it back
            _restore(data, original, err["loc"])
        return ContextManifest.model_validate(data), found


def _restore(data: Any, original: Any, loc: tuple[Any, ...]) -> None:
    for part in loc[:-1]:
        if isinstance(data, dict | list) and isinstance(original, dict | list):
            try:
                data, original = data[part], original[part]
            except (KeyError, IndexError, TypeError):
                return
    with contextlib.suppress(KeyError, IndexError, TypeError):
        data[loc[-1]] = original[loc[-1]]


def _rules_as_dicts(shared: Shared) -> dict[str, list[dict[str, str]]]:
    return {t.value: [r.model_dump(by_alias=True) for r in rules] for t, rules in derivation_rules(shared).items()}


def target_specs(m: ContextManifest, t: Target, rules: dict[str, list[dict[str, str]]],
                 shared: Shared) -> list[dict[str, Any]]:
    """One target's artifact specs, one per type."""
    crit = str(m.spec.business.criticality)
    params = resolve_parameters(m, t, shared)
    specs: list[dict[str, Any]] = []
    for at in TYPE_ORDER:
        info = TYPES[at]
        specs.append({
            "id": artifact_id(t.name, at), "type": at.value, "target": t.name, "namespace": t.namespace,
            "priority": PRIORITY_BY_CRITICALITY[crit][at], "outputPath": output_path(at, t.name),
            "generator": info.generator, "dependsOn": [artifact_id(t.name, d) for d in info.depends_on],
            "derivedFrom": rules[at.value], "parameters": params[at]})
    return specs


def artifact_specs(m: ContextManifest, rules: dict[str, list[dict[str, str]]],
                   shared: Shared) -> list[dict[str, Any]]:
    return [s for t in m.spec.targets for s in target_specs(m, t, rules, shared)]


def derivation_context(m: ContextManifest) -> str:
    """The digest of everything a target's specs are derived from besides the target itself: the manifest
    without its targets (the guidance too: questions and constraints reach the seed, not the specs), the
    targets' names (key results name the targets they bind), and ctx's own code."""
    body = m.dump()
    spec = {k: v for k, v in body.get("spec", {}).items() if k != "targets"}
    rest = {k: v for k, v in body.items() if k not in ("spec", "guidance")}
    return digest(code_fingerprint(), rest, spec, [t.name for t in m.spec.targets])


def _artifacts_yaml(m: ContextManifest, rules: dict[str, list[dict[str, str]]], shared: Shared,
                    anchors: dict[int, str], cache: SliceCache) -> tuple[list[dict[str, Any]], bytes]:
    """Every artifact spec and the artifact manifest's `artifacts:` block, target by target: a target whose
    slice key is in `cache` is read from it (its specs and its YAML), the others are derived."""
    context = derivation_context(m)
    seen: set[str] = set()  # YAML anchors written so far: the first target's piece writes them, later ones refer
    specs: list[dict[str, Any]] = []
    pieces: list[bytes] = []
    for t in m.spec.targets:
        key = digest(context, t.model_dump(by_alias=True), sorted(seen))
        cached = cache.get(key)
        if cached is not None:
            own, names, text = orjson.loads(cached)
            piece = text.encode()  # (a str in the JSON: one piece, one parse)
        else:
            own, before = target_specs(m, t, rules, shared), set(seen)
            piece = yamlout.dump_items(own, anchors, seen)
            names = sorted(seen - before)
            cache.put(key, orjson.dumps([own, names, piece.decode()]))
        seen.update(names)
        specs += own
        pieces.append(piece)
    block = b"artifacts:\n" + b"".join(pieces) if pieces else b"artifacts: []\n"
    return specs, block


def coverage(specs: list[dict[str, Any]], existing: set[str] | frozenset[str] = frozenset()) -> dict[str, Any]:
    """Per target and per type: required, existing, gaps (problem statement §2.4.1)."""
    by_target: dict[str, dict[str, Any]] = {}
    by_type: dict[str, dict[str, int]] = {t.value: {"required": 0, "existing": 0, "gaps": 0} for t in ArtifactType}
    for s in specs:
        entry = by_target.setdefault(s["target"], {"namespace": s["namespace"], "required": [], "existing": [],
                                                   "gaps": []})
        entry["required"].append(s["type"])
        row = by_type[s["type"]]
        row["required"] += 1
        bucket = "existing" if s["id"] in existing else "gaps"
        entry[bucket].append(s["type"])
        row[bucket] += 1
    total = len(specs)
    have = sum(len(e["existing"]) for e in by_target.values())
    return {"percent": round(100 * have / total, 1) if total else 100.0, "required": total, "existing": have,
            "gaps": total - have, "by_target": by_target, "by_type": by_type}


def _converted(m: ContextManifest) -> tuple[dict[str, list[Any]], list[tuple[Any, Any]]]:
    """Source models → export models, keeping the pairs for the field-preservation gate."""
    pairs: list[tuple[Any, Any]] = []
    objectives = []
    for o in m.strategy.objectives:
        exp = ObjectiveExport.model_validate(o.dump())
        for src_kr, exp_kr in zip(o.key_results, exp.key_results, strict=True):
            exp_kr.target_operator = infer_operator(src_kr.metric_key, src_kr.target_operator)
            pairs.append((src_kr, exp_kr))
        pairs.append((o, exp))
        objectives.append(exp)
    out: dict[str, list[Any]] = {"objectives": objectives}
    for key, items, model in (("questions", m.guidance.questions, GuidanceQuestionExport),
                              ("constraints", m.guidance.constraints, ConstraintExport),
                              ("risks", m.spec.risks, RiskExport),
                              ("targets", m.spec.targets, TargetExport)):
        converted = [model.model_validate(i.model_dump(by_alias=True)) for i in items]
        pairs += list(zip(items, converted, strict=True))
        out[key] = converted
    return out, pairs


def _dump(models: list[Any]) -> list[dict[str, Any]]:
    return [x.model_dump(by_alias=True, mode="json") for x in models]


def build_export(m: ContextManifest, manifest_bytes: bytes, existing: set[str] | frozenset[str] = frozenset(),
                 cache: SliceCache | None = None) -> ExportResult:
    """`cache`: the slices of this output folder's last export (core/slices.py); the result is the same
    bytes with or without it."""
    source_checksum = sha256_hex(manifest_bytes)
    m, secrets = redact_manifest(m)
    shared = Shared(m)
    rules = _rules_as_dicts(shared)
    anchors = {id(v): f"derivation-{k.replace('_', '-')}" for k, v in rules.items()} | shared.anchors()
    specs, artifacts_yaml = _artifacts_yaml(m, rules, shared, anchors, cache or SliceCache())
    cov = coverage(specs, existing)
    graph = {s["id"]: s["dependsOn"] for s in specs}
    crit = str(m.spec.business.criticality)

    am = {"apiVersion": API_VERSION, "kind": ARTIFACT_MANIFEST_KIND,
          "metadata": {"name": m.metadata.name, "projectId": m.project_id, "sourceChecksum": source_checksum,
                       "criticality": crit, "targetCount": len(m.spec.targets), "artifactCount": len(specs)},
          "artifacts": specs, "coverage": cov}
    # yamlout.dump(am, anchors=anchors), written in pieces: the keys before `artifacts`, its block, the rest
    am_bytes = (yamlout.dump({k: am[k] for k in ("apiVersion", "kind", "metadata")}) + artifacts_yaml
                + yamlout.dump({"coverage": cov}))

    conv, pairs = _converted(m)
    fp_gate = check_field_preservation(conversions=pairs)
    md: dict[str, Any] = {
        "schema_id": ONBOARDING_SCHEMA_ID, "schema_version": ONBOARDING_SCHEMA_VERSION,
        "project_id": m.project_id,
        "project": {"name": m.metadata.name, **m.spec.project.dump(), "criticality": crit,
                    "links": m.metadata.links, "owners": [o.dump() for o in m.metadata.owners]},
        "targets": _dump(conv["targets"]),
        "artifact_types": {t.value: {"generator": TYPES[t].generator, "format": TYPES[t].format,
                                     "accepted_parameters": list(TYPES[t].accepted_parameters),
                                     "depends_on": [d.value for d in TYPES[t].depends_on]} for t in ArtifactType},
        "derivation_rules": rules,
        "objectives": _dump(conv["objectives"]),
        "artifact_dependency_graph": graph,
        "artifact_index": {s["id"]: {"type": s["type"], "target": s["target"], "output_path": s["outputPath"],
                                     "priority": s["priority"]} for s in specs},
        "resolved_artifact_parameters": {s["id"]: s["parameters"] for s in specs},
        "open_questions": [q for q in _dump(conv["questions"]) if q["status"] in ("open", "deferred")],
        "guidance_constraints": _dump(conv["constraints"]),
        "risks": _dump(conv["risks"]),
        "expected_output_contracts": {t.value: TYPES[t].contract.model_dump(mode="json") for t in ArtifactType},
        "design_calibration_hints": {t.value: TYPES[t].calibration.model_dump(mode="json") for t in ArtifactType},
        "output_path_conventions": {t.value: TYPES[t].path for t in ArtifactType},
        "semantic_conventions": SEMANTIC_CONVENTIONS,
        "coverage": cov,
        "field_preservation": {k: fp_gate.details[k] for k in ("fields_before", "fields_after", "values_before",
                                                                 "values_after")},
        "checksums": {"source_checksum": source_checksum, "artifact_manifest_checksum": sha256_hex(am_bytes),
                      "metadata_checksum": ""},
    }
    md["checksums"]["metadata_checksum"] = metadata_checksum(md)
    md_bytes = pretty_json(md)

    secrets += scan_text(am_bytes, ARTIFACT_MANIFEST_PATH) + scan_text(md_bytes, ONBOARDING_PATH)
    gates = [fp_gate, check_derivation_coverage(rules), check_acyclic(graph),
             GateResult.of(GateName.secret_scan, secrets,
                           scanned=["manifest", ARTIFACT_MANIFEST_PATH, ONBOARDING_PATH])]
    return ExportResult(manifest=m, artifact_manifest=am, onboarding=md,
                        files={ARTIFACT_MANIFEST_PATH: am_bytes, ONBOARDING_PATH: md_bytes},
                        gates=gates, source_checksum=source_checksum)
