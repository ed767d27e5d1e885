"""ContextCore v1.1 (`contextcore.io/v1alpha1`) → context manifest v2, field by field (`ctx migrate`).

The mapping is the one ContextCore's own `contextcore manifest migrate` applies:
- `spec` is kept as it is (the operational block did not change);
- `objectives` move to `strategy.objectives` with `id`, `description`, `keyResults`
  (the deprecated per-objective `metric`/`target` strings are dropped, as ContextCore does);
- each strategy's tactics are flattened into `strategy.tactics`, each linked to its
  strategy's `objectiveRefs` (`linkedObjectives`), and the strategies themselves become
  `strategy.strategyGroups` (`id`, `description`, `horizon`, `rationale`, `objectiveRefs`);
- `insights` are kept; one without an id gets `INS-MIGRATED-NNNN`;
- an empty `guidance` section is added; the changelog gets a migration entry.
Where ContextCore's migration loses data we keep it and say so: `metadata.links` (ContextCore
empties them) and unknown top-level sections are carried over. Every drop is reported.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ctx_assets.contracts.gates import Problem
from ctx_assets.contracts.manifest import API_VERSION, KIND, V1_API_VERSION

from .loader import ManifestLoadError, load_manifest_file
from .secrets import redact_text
from .validate import validate_bytes

_KNOWN_V1 = {"apiVersion", "kind", "metadata", "version", "spec", "objectives", "strategies", "insights"}
_GROUP_FIELDS = ("id", "description", "horizon", "rationale")


class MigrationError(ValueError):
    """The input is not a v1.1 manifest this command can convert (`field`: where, for the location)."""

    def __init__(self, message: str, field: str = "apiVersion"):
        super().__init__(message)
        self.field = field


def _list_field(v: Any, where: str) -> list[Any]:
    """A field v1.1 types as a list: absent is empty, anything else but a list is a located error."""
    if v is None:
        return []
    if not isinstance(v, list):
        raise MigrationError(f"{where} must be a list, got {type(v).__name__} {str(v)[:40]!r}", where)
    return v


@dataclass
class Migration:
    manifest: dict[str, Any]
    notes: list[str] = field(default_factory=list)  # what was dropped or kept against ContextCore's mapping


def _mapping(v: Any) -> dict[str, Any]:
    return v if isinstance(v, dict) else {}


def _items(v: Any) -> list[dict[str, Any]]:
    return [x for x in v if isinstance(x, dict)] if isinstance(v, list) else []


def _insight_id(summary: str) -> str:
    """Deterministic (ContextCore uses Python's salted hash(), so its ids change from run to run)."""
    return f"INS-MIGRATED-{int(hashlib.sha256(summary.encode()).hexdigest(), 16) % 10000:04d}"


def migrate_v1(data: dict[str, Any], today: str) -> Migration:
    if data.get("apiVersion") == API_VERSION:
        raise MigrationError(f"already a v2 manifest ({API_VERSION}); nothing to migrate")
    if data.get("apiVersion") != V1_API_VERSION:
        raise MigrationError(f"expected apiVersion {V1_API_VERSION!r} (ContextCore v1.1), "
                             f"got {data.get('apiVersion')!r}")
    meta, notes = _mapping(data.get("metadata")), []
    if not isinstance(data.get("spec"), dict):
        raise MigrationError("a v1.1 manifest needs a `spec` mapping (the operational block)")
    objectives = []
    for o in _items(data.get("objectives")):
        dropped = [k for k in ("metric", "target") if k in o]
        if dropped:
            notes.append(f"objective {o.get('id')}: dropped the deprecated {' and '.join(dropped)} "
                         "(superseded by keyResults, as ContextCore's migration does)")
        objectives.append({k: v for k, v in o.items() if k not in ("metric", "target")})
    tactics, groups = [], []
    for i, s in enumerate(_items(data.get("strategies"))):
        refs = list(_list_field(s.get("objectiveRefs"), f"strategies[{i}].objectiveRefs"))
        # v1.1's model defaults (horizon now, status planned, severity medium) are written out, as ContextCore does.
        groups.append({"horizon": "now", **{k: s[k] for k in _GROUP_FIELDS if k in s}, "objectiveRefs": refs})
        tactics += [{"status": "planned", **t, "linkedObjectives": refs} for t in _items(s.get("tactics"))]
    insights = [{"id": i.get("id") or _insight_id(str(i.get("summary", ""))), "severity": "medium",
                 **{k: v for k, v in i.items() if k != "id"}} for i in _items(data.get("insights"))]
    changelog = list(_list_field(meta.get("changelog"), "metadata.changelog"))
    changelog.append({"date": today, "version": "2.0", "actor": "agent:ctx-migrate",
                      "summary": "Migrated from v1.1 to v2.0; flattened the strategy/tactic hierarchy; "
                                 "added an empty guidance section"})
    metadata = {**{k: v for k, v in meta.items() if k not in ("changelog", "lastUpdated")},
                "changelog": changelog, "lastUpdated": today}
    if meta.get("links"):
        notes.append("kept metadata.links (ContextCore's own migration empties them)")
    if "version" in data:
        notes.append(f"dropped the top-level version {data['version']!r} (v2 records versions in the changelog)")
    extra = {k: v for k, v in data.items() if k not in _KNOWN_V1}
    if extra:
        notes.append(f"kept unknown top-level sections: {', '.join(sorted(extra))}")
    out: dict[str, Any] = {"apiVersion": API_VERSION, "kind": KIND, "metadata": metadata, "spec": data["spec"],
                           "strategy": {"objectives": objectives, "tactics": tactics, "strategyGroups": groups},
                           "guidance": {"constraints": [], "preferences": [], "questions": []},
                           "insights": insights, **extra}
    return Migration(out, notes)


def migrate_file(path: str, out_name: str, today: str) -> tuple[str, list[str], list[Problem]]:
    """(v2 YAML text, notes, problems). Problems locate input faults in PATH and, when the converted
    manifest would not validate, in the would-be output (nothing is written then)."""
    try:
        loaded = load_manifest_file(path)
        migration = migrate_v1(loaded.data, today)
    except ManifestLoadError as e:
        return "", [], e.problems
    except MigrationError as e:
        line, col = loaded.locate(e.field)
        return "", [], [Problem(file=path, line=line, column=col, path=e.field, message=redact_text(str(e)))]
    text = (f"# Migrated by `ctx migrate` from {Path(path).name} (ContextCore v1.1) on {today}.\n"
            + yaml.safe_dump(migration.manifest, sort_keys=False, allow_unicode=True, width=120))
    _, _, problems = validate_bytes(text.encode(), out_name)
    return text, migration.notes, problems
