"""The asset graph: manifest → export → context_seed → seven artifact types per target → provenance.

Each body is a thin adapter: read from the output store, call the pure core,
write atomically, report gates as asset checks and content hashes as data
versions (so an unchanged output never makes its dependents stale). The seven
artifact types are one multi-asset (artifacts.py) so a build is one run.
"""


from collections.abc import Iterator
from pathlib import Path
from typing import Any

from dagster import (
    AssetExecutionContext,
    AssetKey,
    DataVersion,
    MaterializeResult,
    asset,
)

from ctx_assets.contracts.gates import GateName, GateResult, Violation
from ctx_assets.core import plan as plan_stage
from ctx_assets.core.artifact_types import TYPE_ORDER
from ctx_assets.core.batching import gc_paused
from ctx_assets.core.checksums import sha256_hex
from ctx_assets.core.doc_cache import DocumentCache
from ctx_assets.core.export import build_export
from ctx_assets.core.pipeline import PROVENANCE_PATH, previous_bundle, provenance_doc
from ctx_assets.core.plan_memo import cache_file
from ctx_assets.core.project_bundle import project_files
from ctx_assets.core.slices import slice_caches, slices_dir
from ctx_assets.core.validate import validate_file
from ctx_assets.settings import settings
from ctx_assets.telemetry.questions import METADATA_KEY
from ctx_assets.translator import ContextCoreTranslator, asset_attributes

from .artifacts import artifacts_asset
from .gates import (
    EXPORT_GATES,
    MANIFEST_GATES,
    SEED_GATES,
    not_run,
    specs,
    to_check,
)
from .project import Project
from .resource_keys import TRACER_KEY, store_and_tracer


def _checks(asset_name: AssetKey, gates: list[GateResult], declared: list[GateName], why_missing: str) -> list:
    seen = {g.gate for g in gates}
    return [to_check(g, asset_name) for g in gates if g.gate in declared] + \
        [not_run(g, asset_name, why_missing) for g in declared if g not in seen]


def _sync_targets(context: AssetExecutionContext, p: Project, targets: list[str]) -> tuple[list[str], list[str]]:
    """The project's target partitions made the manifest's targets: (added, removed). New ones are appended
    in manifest order; a removed target's partition goes (its files stay: docs/architecture.md)."""
    current = context.instance.get_dynamic_partitions(p.targets.name)
    wanted = set(targets)
    added = [t for t in dict.fromkeys(targets) if t not in set(current)]
    removed = sorted(set(current) - wanted)
    if added:
        context.instance.add_dynamic_partitions(p.targets.name, added)
    for t in removed:
        context.instance.delete_dynamic_partition(p.targets.name, t)
    return added, removed


def project_assets(p: Project, tr: ContextCoreTranslator) -> list[Any]:
    """The code location's assets for one project: shared stages, the artifacts multi-asset, output.
    Resources come by the project's own store key and the shared tracer key (resource_keys.py)."""
    needs = {p.store_key, TRACER_KEY}

    @asset(key=p.key("manifest"), required_resource_keys=needs, check_specs=specs(p.key("manifest"), MANIFEST_GATES),
           **asset_attributes(tr, p, "manifest", "The context manifest, parsed and validated; data version = "
                                                 "sha256 of the file. Keeps the target partitions in step with "
                                                 "the manifest's targets."))
    def manifest_asset(context: AssetExecutionContext) -> Iterator[Any]:
        store, tracer = store_and_tracer(context, p)
        with tracer.stage(context, "manifest") as span:
            loaded, model, problems = validate_file(store.manifest_path)
            gate = GateResult.of(GateName.manifest_schema,
                                 [Violation(field=pr.path or "(file)", message=str(pr)) for pr in problems])
            tracer.gate(span, gate)
            checksum = loaded.checksum if loaded else sha256_hex(str(problems).encode())
            tracer.set_manifest(context, checksum, model.project_id if model else None)
            # Every target is a partition as soon as the manifest validates, also when a gate later blocks the
            # export: the blocked build then shows each target's artifacts as failed, not as nothing at all.
            added, removed = _sync_targets(context, p, [t.name for t in model.spec.targets]) if model else ([], [])
            yield MaterializeResult(
                data_version=DataVersion(checksum),
                metadata={"path": store.manifest_path, "source_checksum": checksum, "problems": len(problems),
                          "targets": len(model.spec.targets) if model else 0, "targets_added": added,
                          "targets_removed": removed},
                check_results=[to_check(gate, p.key("manifest"))])


    @asset(key=p.key("export"), deps=[p.key("manifest")], required_resource_keys=needs,
           check_specs=specs(p.key("export"), EXPORT_GATES),
           **asset_attributes(tr, p, "export", "Artifact manifest + onboarding metadata "
                                               "(export/artifact-manifest.yaml, export/onboarding-metadata.json)."))
    def export_asset(context: AssetExecutionContext) -> Iterator[Any]:
        store, tracer = store_and_tracer(context, p)
        with tracer.stage(context, "export") as span:
            loaded, model, problems = validate_file(store.manifest_path)
            if problems or model is None or loaded is None:
                raise ValueError(f"manifest is invalid ({len(problems)} problems); fix it and re-run")
            with gc_paused():  # ~10 MB of small objects: the collector would walk them over and over
                export_slices, _ = slice_caches(slices_dir(settings().home, store.root))
                export = build_export(model, loaded.raw, cache=export_slices)
                export_slices.save()
            for g in export.gates:
                tracer.gate(span, g)
            with store.writing():
                written = [] if export.blocked else [str(store.write(rel, data)) for rel, data in export.files.items()]
            md = export.onboarding
            tracer.checksums(span, source=export.source_checksum, output=md["checksums"]["metadata_checksum"])
            yield MaterializeResult(
                data_version=DataVersion(md["checksums"]["metadata_checksum"]),
                metadata={"files": written, "artifacts": len(md["artifact_dependency_graph"]),
                          "source_checksum": export.source_checksum,
                          "artifact_manifest_checksum": md["checksums"]["artifact_manifest_checksum"],
                          "fields_before": md["field_preservation"]["fields_before"],
                          "fields_after": md["field_preservation"]["fields_after"]},
                check_results=_checks(p.key("export"), export.gates, EXPORT_GATES, "export failed"))


    @asset(key=p.key("context_seed"), deps=[p.key("export")], required_resource_keys=needs,
           check_specs=specs(p.key("context_seed"), SEED_GATES),
           **asset_attributes(tr, p, "context_seed", "Plan ingestion: the artisan context seed "
                              "(export/artisan-context-seed.json)."))
    def context_seed_asset(context: AssetExecutionContext) -> Iterator[Any]:
        store, tracer = store_and_tracer(context, p)
        with tracer.stage(context, "plan_ingestion") as span:
            files = {p: store.read(p) for p in (plan_stage.ARTIFACT_MANIFEST_PATH, plan_stage.ONBOARDING_PATH)}
            if any(data is None for data in files.values()):
                raise ValueError("no export in the output folder; materialize `export` first")
            manifest_bytes = Path(store.manifest_path).read_bytes()
            with gc_paused():
                _, plan_slices = slice_caches(slices_dir(settings().home, store.root))
                seed = plan_stage.ingest_export(files, manifest_bytes, cache=plan_slices)
                plan_slices.save()
            for g in seed.gates:
                tracer.gate(span, g)
            meta: dict[str, Any] = {}
            if not seed.blocked:
                with store.writing():
                    for rel, data in seed.files.items():
                        if rel == plan_stage.SEED_PATH:  # its parse kept: the next steps of the build read it
                            store.write_json(rel, data, seed.seed)
                        else:
                            store.write(rel, data)
                meta[METADATA_KEY] = tracer.open_questions(seed.open_questions, seed.seed["tasks"])
                meta.update({"tasks": len(seed.seed["tasks"]),
                             "targets": len({t["target"] for t in seed.seed["tasks"]})})
            chain = seed.seed.get("provenance", {}).get("chain", [{}, {}, {}])
            yield MaterializeResult(
                data_version=DataVersion(chain[2].get("seed_checksum", "blocked")),
                metadata={**meta, "seed_checksum": chain[2].get("seed_checksum", ""),
                          "source_checksum": chain[0].get("checksum", "")},
                check_results=_checks(p.key("context_seed"), seed.gates, SEED_GATES, "export integrity failed"))


    @asset(key=p.key("provenance"), deps=[p.key("context_seed"), *[p.key(t.value) for t in TYPE_ORDER]],
           required_resource_keys=needs,
           **asset_attributes(tr, p, "provenance", "Output: export/provenance.json, the chain manifest → export → "
                              "seed → artifacts, and the bundle-level files (kustomization.yaml, "
                              "alertmanager/alertmanager.yml, plain rules, the project overview dashboard, Grafana "
                              "provisioning)."))
    def provenance_asset(context: AssetExecutionContext) -> MaterializeResult:
        store, tracer = store_and_tracer(context, p)
        with tracer.stage(context, "output"):
            seed = store.read_json(plan_stage.SEED_PATH)
            by_path = store.checksums([t["output_path"] for t in seed["tasks"]])
            checksums = {t["artifact_id"]: by_path[t["output_path"]] for t in seed["tasks"]}
            trace_id = tracer.trace_id(context)
            with store.writing():
                before = previous_bundle(store.read(PROVENANCE_PATH))
                recipes: dict[str, str] = {}
                documents = DocumentCache(cache_file(settings().home, "documents", store.root))
                on_disk = store.checksums(list(before.files))  # one listing of the staging for 2,000 files
                made = project_files(seed, store.reader(), reuse=lambda rel, r: before.unchanged(rel, r, on_disk.get),
                                     recipes=recipes, documents=documents)
                documents.save()
                bundle = {rel: before.files[rel] for rel in recipes if rel not in made}  # kept as they are
                bundle.update({rel: store.write_changed(rel, data) for rel, data in made.items()})
                store.write(PROVENANCE_PATH, provenance_doc(seed, checksums, context.run.run_id, trace_id, bundle,
                                                            recipes))
            # The last stage: every file this build staged goes into the bundle in one step, or none does.
            store.commit()
            missing = sorted(k for k, v in checksums.items() if v is None)
            return MaterializeResult(metadata={"artifacts": len(checksums), "missing": missing[:50],
                                               "trace_id": trace_id or ""})

    return [manifest_asset, export_asset, context_seed_asset, artifacts_asset(p, tr), provenance_asset]
