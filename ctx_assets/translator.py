"""How a ContextCore project appears in Dagster: asset keys, group, owners, tags, kinds, descriptions.

Subclass `ContextCoreTranslator` and pass it to `contextcore_definitions(..., translator=...)` (as
dagster-dbt's `DagsterDbtTranslator`) to change any of them; every method gets the project.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from ctx_assets.defs.project import Project

# The Dagster UI draws an icon for these kinds.
ARTIFACT_KINDS: Mapping[str, frozenset[str]] = {
    "service_monitor": frozenset({"kubernetes", "prometheus"}),
    "slo_definition": frozenset({"openslo", "yaml"}),
    "prometheus_rule": frozenset({"prometheus"}),
    "loki_rule": frozenset({"loki"}),
    "dashboard": frozenset({"grafana"}),
    "notification_policy": frozenset({"alertmanager"}),
    "runbook": frozenset({"markdown"}),
    "manifest": frozenset({"yaml"}),
    "export": frozenset({"json", "yaml"}),
    "context_seed": frozenset({"json"}),
    "provenance": frozenset({"json"}),
}
_TAG_VALUE = re.compile(r"[^A-Za-z0-9_.-]")


class ContextCoreTranslator:
    """Maps a project (one manifest) and its asset names to Dagster's asset attributes.

    Asset names are the pipeline's: `manifest`, `export`, `context_seed`, the seven artifact types
    (`service_monitor`, `slo_definition`, `prometheus_rule`, `loki_rule`, `dashboard`,
    `notification_policy`, `runbook`) and `provenance`.

    Example:
        class MyTranslator(ContextCoreTranslator):
            def get_key_prefix(self, project):
                return ["observability", project.prefix]

            def get_group_name(self, project):
                return "observability"
    """

    def get_key_prefix(self, project: Project) -> Sequence[str]:
        """Asset key prefix of every asset of the project; default: the project id (`online_boutique`)."""
        return [project.prefix]

    def get_group_name(self, project: Project) -> str:
        """One group per project by default, so the lineage view shows one project at a time."""
        return project.prefix

    def get_owners(self, project: Project) -> Sequence[str]:
        """`team:NAME` and e-mail owners from the manifest's `metadata.owners`."""
        return list(project.owners)

    def get_tags(self, project: Project) -> Mapping[str, str]:
        tags = {"contextcore/project": _TAG_VALUE.sub("_", project.id)[:63]}
        if project.criticality:
            tags["contextcore/criticality"] = _TAG_VALUE.sub("_", project.criticality)[:63]
        return tags

    def get_kinds(self, project: Project, name: str) -> set[str]:
        return set(ARTIFACT_KINDS.get(name, ()))

    def get_description(self, project: Project, name: str, default: str) -> str:
        """`default` is the pipeline's own description of the asset."""
        return default


def asset_attributes(translator: ContextCoreTranslator, project: Project, name: str,
                     description: str) -> dict[str, object]:
    """The keyword arguments every asset and asset spec of the project takes from the translator."""
    return {"group_name": translator.get_group_name(project), "owners": list(translator.get_owners(project)),
            "tags": dict(translator.get_tags(project)), "kinds": translator.get_kinds(project, name),
            "description": translator.get_description(project, name, description)}
