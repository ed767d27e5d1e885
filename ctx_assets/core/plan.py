"""Plan ingestion: export → artisan context seed (problem statement §2.1, §2.4).

Each task carries everything DESIGN needs — derivation rules, resolved
parameters, contract, calibration, constraints, coverage — so nothing has to be
looked up or guessed later.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

from ctx_assets.contracts.artifacts import ArtifactType
from ctx_assets.contracts.gates import GateResult
from ctx_assets.contracts.seed import SEED_SCHEMA_ID, SEED_SCHEMA_VERSION

from .checksums import canonical_json, pretty_json, sha256_hex
from .export_paths import ARTIFACT_MANIFEST_PATH, ONBOARDING_PATH, SEED_PATH
from .fingerprints import code_versions, compute_fingerprint, remember
from .gates.export import check_export_integrity
from .gates.graph import topological_order
from .gates.seed import check_seed_completeness
from .plan_memo import code_fingerprint
from .seed_reader import interned
from .sizing import estimate_lines, estimate_tokens, tier_for_lines
from .slices import SliceCache, digest

DESIGN_PRINCIPLES: list[dict[str, Any]] = [
    {"id": "typed_over_prose",
     "statement": "Emit typed, schema-checked output (JSON/YAML validated against the expected output "
                  "contract) rather than prose; the contract is the single source of truth.",
     "source": "ContextCore ExpectedOutput (agent/handoff.py) and Part.json_data()",
     "keywords": ["json", "typed", "prose", "format", "schema", "structured"]},
    {"id": "progressive_disclosure",
     "statement": "Disclose context progressively with a token budget per audience; summarise upstream "
                  "stages instead of forwarding them whole.",
     "source": "ContextCore progressive disclosure (Squirrel pattern), agent/personalization.py",
     "keywords": ["context", "summar", "token", "budget", "disclosure", "accumulat"]},
    {"id": "size_estimation_before_generation",
     "statement": "Estimate lines and tokens at DESIGN and check them against the contract before "
                  "IMPLEMENT, so truncation is caught before it happens.",
     "source": "ContextCore agent/code_generation.py proactive size estimation",
     "keywords": ["size", "lines", "truncat", "length", "large", "limit"]},
]

_TYPE_KEYWORDS: dict[ArtifactType, tuple[str, ...]] = {
    ArtifactType.dashboard: ("dashboard", "panel", "grafana"),
    ArtifactType.prometheus_rule: ("alert", "burn", "prometheus", "recording rule"),
    ArtifactType.notification_policy: ("routing", "route", "page ", "pages", "notif", "alertmanager", "escalat"),
    ArtifactType.slo_definition: ("slo", "objective", "error budget"),
    ArtifactType.service_monitor: ("scrape", "servicemonitor", "service monitor", "metrics endpoint"),
    ArtifactType.loki_rule: ("log", "loki"),
    ArtifactType.runbook: ("runbook", "procedure", "incident"),
}


@dataclass
class SeedResult:
    seed: dict[str, Any]
    files: dict[str, bytes]
    gates: list[GateResult] = field(default_factory=list)
    open_questions: list[dict[str, Any]] = field(default_factory=list)  # open and deferred, from the export

    @property
    def blocked(self) -> bool:
        return any(g.blocks for g in self.gates)


def question_scope(text: str, targets: list[str]) -> tuple[set[str], set[str]]:
    """(artifact types, targets) a question concerns; both empty means it concerns everything."""
    low = text.lower()
    types = {t.value for t, words in _TYPE_KEYWORDS.items() if any(w in low for w in words)}
    named = {t for t in targets if t in low}
    return types, named


def _concerns(types: set[str], named: set[str], artifact_type: str, target: str) -> bool:
    """A question with no type and no target concerns every task; otherwise it must match both it names."""
    return (not types or artifact_type in types) and (not named or target in named)


def principles_for(text: str) -> list[str]:
    low = text.lower()
    return [p["id"] for p in DESIGN_PRINCIPLES if any(k in low for k in p["keywords"])]


def ingest_export(files: dict[str, bytes], manifest_bytes: bytes, cache: SliceCache | None = None) -> SeedResult:
    """Plan ingestion at the boundary: verify the export as read (stale? hand-edited?), then seed.

    Reads only the onboarding metadata (it indexes every artifact); the artifact manifest is
    verified by checksum, so the seed is built from exactly what the export described.
    """
    md = orjson.loads(files[ONBOARDING_PATH])
    integrity = check_export_integrity(md, manifest_bytes, files[ARTIFACT_MANIFEST_PATH])
    if integrity.blocks:
        return SeedResult(seed={}, files={}, gates=[integrity])
    result = build_seed(md, cache)
    result.gates.insert(0, integrity)
    return result


def build_seed(md: dict[str, Any], cache: SliceCache | None = None) -> SeedResult:
    """`cache`: the slices of this output folder's last plan (core/slices.py); the result is the same bytes
    with or without it."""
    targets = [t["name"] for t in md["targets"]]
    questions = []
    for q in md["open_questions"]:
        types, named = question_scope(q["question"], targets)
        questions.append((q, types, named, principles_for(f"{q['id']} {q['question']}")))
    principles = [{**{k: v for k, v in p.items() if k != "keywords"},
                   "answers_questions": [q["id"] for q, _, _, ps in questions if p["id"] in ps]}
                  for p in DESIGN_PRINCIPLES]

    index, graph, params = md["artifact_index"], md["artifact_dependency_graph"], md["resolved_artifact_parameters"]
    contracts, hints = md["expected_output_contracts"], md["design_calibration_hints"]
    by_target = md["coverage"]["by_target"]
    cache = cache or SliceCache()
    # Everything a task is made from besides its own artifact's entries: a question or constraint edit
    # remakes every task (which ones it concerns is itself computed from them), a target edit its own seven.
    # The generators' code versions: a task's fingerprint is kept with it (a plug-in generator is not ctx's code).
    versions = code_versions()
    context = digest(code_fingerprint(), versions, md["artifact_types"], md["derivation_rules"], contracts, hints,
                     md["open_questions"], md["guidance_constraints"], targets)
    tasks: list[dict[str, Any]] = []
    pretty: list[bytes] = []
    canonical: list[bytes] = []
    made: dict[str, tuple[dict[str, Any], str]] = {}
    pool: dict[tuple[str, bytes], Any] = {}
    for a_id in topological_order(graph):
        target = index[a_id]["target"]
        key = digest(context, a_id, index[a_id], params[a_id], graph[a_id], by_target[target])
        own_pretty, own_canonical, own_fp = cache.get(key + "p"), cache.get(key + "c"), cache.get(key + "f")
        if own_pretty is None or own_canonical is None or own_fp is None:
            task = _task(md, a_id, questions)
            own_pretty, own_canonical = _indented(pretty_json(task)[:-1]), canonical_json(task)
            fp = compute_fingerprint(task, versions[task["artifact_type"]])
            cache.put(key + "p", own_pretty)
            cache.put(key + "c", own_canonical)
            cache.put(key + "f", fp.encode())
        elif key in _LAST:
            task, fp = _LAST[key]
        else:
            task, fp = interned(orjson.loads(own_pretty), pool), bytes(own_fp).decode()
        made[key] = task, fp
        tasks.append(task)
        pretty.append(own_pretty)
        canonical.append(own_canonical)

    sums = md["checksums"]
    seed_dict: dict[str, Any] = {
        "schema_id": SEED_SCHEMA_ID, "schema_version": SEED_SCHEMA_VERSION, "project_id": md["project_id"],
        "artifact_manifest": {"path": ARTIFACT_MANIFEST_PATH, "checksum": sums["artifact_manifest_checksum"]},
        "onboarding_metadata": {"path": ONBOARDING_PATH, "checksum": sums["metadata_checksum"]},
        "artifact_types": md["artifact_types"], "output_path_conventions": md["output_path_conventions"],
        "semantic_conventions": md["semantic_conventions"], "coverage": md["coverage"],
        "design_principles": principles, "tasks": _TASKS}
    seed_dict["provenance"] = {"chain": [
        {"stage": "manifest", "checksum": sums["source_checksum"]},
        {"stage": "export", "artifact_manifest_checksum": sums["artifact_manifest_checksum"],
         "metadata_checksum": sums["metadata_checksum"]},
        {"stage": "plan_ingestion", "seed_checksum": ""}]}
    # seed_checksum(seed) and pretty_json(seed), with the tasks' pieces spliced in where the placeholder is
    body = _spliced(canonical_json(seed_dict), b"[" + b",".join(canonical) + b"]")
    seed_dict["provenance"]["chain"][2]["seed_checksum"] = sha256_hex(body)
    joined = b"[\n" + b",\n".join(pretty) + b"\n  ]" if pretty else b"[]"
    seed_bytes = _spliced(pretty_json(seed_dict), joined)
    seed_dict["tasks"] = tasks
    _LAST.clear()
    _LAST.update(made)
    remember([(t, versions[t["artifact_type"]], fp) for t, fp in made.values()])
    gates = [check_seed_completeness(md, seed_dict)]
    return SeedResult(seed=seed_dict, files={SEED_PATH: seed_bytes}, gates=gates,
                      open_questions=md["open_questions"])


# The last plan's tasks by slice key, with their fingerprints: a warm build process (build/server.py) plans
# the next edit of 1,000 targets without parsing the 6,993 unchanged tasks again. Shared, never changed.
_LAST: dict[str, tuple[dict[str, Any], str]] = {}


_TASKS = "ctx-slices: the tasks go here"  # tasks are the seed's last key sorted, the last but one as written
_TASKS_JSON = b'"' + _TASKS.encode() + b'"'  # the placeholder as JSON writes it


def _spliced(doc: bytes, value: bytes) -> bytes:
    """`doc` with its last tasks placeholder (the tasks' place: only checksums follow it) replaced by `value`."""
    at = doc.rindex(_TASKS_JSON)
    return doc[:at] + value + doc[at + len(_TASKS_JSON):]


def _indented(task_json: bytes) -> bytes:
    """A task as pretty_json writes it inside the seed's `tasks` list: every line four spaces deeper."""
    return b"    " + task_json.replace(b"\n", b"\n    ")


def _task(md: dict[str, Any], a_id: str, questions: list[tuple[Any, set[str], set[str], list[str]]]) -> dict[str, Any]:
    """One seed task (contracts.seed.SeedTask is the shape; plain dicts: 7,000 at 1,000 targets)."""
    a = md["artifact_index"][a_id]
    at = ArtifactType(a["type"])
    target = a["target"]
    params = md["resolved_artifact_parameters"][a_id]
    lines = estimate_lines(at, params)
    hint = md["design_calibration_hints"][at.value]
    estimated = tier_for_lines(lines).value
    constraints = [{"source": "guidance.questions", "id": q["id"], "text": q["question"],
                    "severity": q["priority"], "status": q["status"]}
                   for q, types, named, _ in questions if _concerns(types, named, at.value, target)]
    constraints += [{"source": "guidance.constraints", "id": c["id"], "text": c["rule"],
                     "severity": c["severity"], "status": None}
                    for c in md["guidance_constraints"]
                    if not c["appliesTo"] or at.value in c["appliesTo"] or target in c["appliesTo"]]
    asked = {c["id"] for c in constraints}
    return {
        "task_id": f"task:{a_id}", "artifact_id": a_id, "artifact_type": at.value, "target": target,
        "depends_on": [f"task:{d}" for d in md["artifact_dependency_graph"][a_id]],
        "generator": md["artifact_types"][at.value]["generator"],
        "output_path": a["output_path"], "derivation_rules": md["derivation_rules"][at.value],
        "resolved_parameters": params, "expected_output_contract": md["expected_output_contracts"][at.value],
        "design_calibration": {"expected_tier": hint["expected_tier"], "estimated_tier": estimated,
                               "estimated_lines": lines, "estimated_tokens": estimate_tokens(at, lines),
                               "matches": estimated in hint["allowed_tiers"], "hint": hint},
        "design_constraints": constraints,
        "design_principles": sorted({p for q, _, _, ps in questions if q["id"] in asked for p in ps}),
        "coverage": md["coverage"]["by_target"][target]}


def seed_checksum(seed: dict[str, Any]) -> str:
    """sha256 of the seed's canonical JSON with its own checksum blanked."""
    body = dict(seed)
    chain = [dict(c) for c in seed.get("provenance", {}).get("chain", [])]
    for c in chain:
        if "seed_checksum" in c:
            c["seed_checksum"] = ""
    body["provenance"] = {**seed.get("provenance", {}), "chain": chain}
    return sha256_hex(canonical_json(body))
