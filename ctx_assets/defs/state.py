"""What the Dagster instance recorded: the latest materialization metadata per artifact."""

from __future__ import annotations

from typing import Any

from dagster import AssetKey, AssetRecordsFilter, DagsterInstance

from ctx_assets.core.artifact_types import TYPE_ORDER

from .project import Project


def _plain(meta: dict[str, Any]) -> dict[str, Any]:
    return {k: getattr(v, "value", v) for k, v in meta.items()}


def latest_artifact_metadata(instance: DagsterInstance, p: Project, targets: set[str] | None = None,
                             page: int = 1000) -> dict[tuple[str, str], dict[str, Any]]:
    """{(artifact type, target): metadata of its newest materialization}."""
    fast = getattr(instance.event_log_storage, "latest_materialization_metadata", None)
    if fast is not None and targets is None:  # the embedded storage answers in one query
        keys = {p.key(t.value).to_string(): t.value for t in TYPE_ORDER}
        return {(keys[k], partition): meta for (k, partition), meta in fast(list(keys)).items()}
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for t in TYPE_ORDER:
        cursor = None
        while True:
            result = instance.fetch_materializations(
                AssetRecordsFilter(asset_key=p.key(t.value),
                                   asset_partitions=sorted(targets) if targets is not None else None),
                limit=page, cursor=cursor, ascending=False)
            for rec in result.records:
                mat = rec.asset_materialization
                if mat is None or mat.partition is None:
                    continue
                out.setdefault((t.value, mat.partition), _plain(dict(mat.metadata)))
            if not result.has_more:
                break
            cursor = result.cursor
    return out


def latest_metadata(instance: DagsterInstance, key: AssetKey) -> dict[str, Any]:
    event = instance.get_latest_materialization_event(key)
    mat = event.asset_materialization if event else None
    return _plain(dict(mat.metadata)) if mat else {}
