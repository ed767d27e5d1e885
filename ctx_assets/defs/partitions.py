"""Runs over ranges of a project's target partitions (ctx_assets/defs/project.py defines them)."""

from ctx_assets.core.artifact_types import TYPE_ORDER
from ctx_assets.dagster_compat.events import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG
from ctx_assets.settings import settings


def chunk_size() -> int:
    """At most this many targets per artifact run (0: no limit), from CTX_RUN_TARGETS. Chunks are
    separate runs, so the run queue (QueuedRunCoordinator) can run several at once; docs/scaling.md."""
    return settings().run_targets


def artifact_runs(selection: dict[str, list[str]], order: list[str],
                  chunk: int | None = None) -> list[tuple[list[str], list[str]]]:
    """[(types, targets)]: as few runs as cover `selection` exactly (types in dependency order). A run is a
    contiguous range of
    the partition order (`order`) with one set of types, so targets that need the same types and sit
    next to each other share a run; a full build is one run, or one per `chunk` targets (default:
    chunk_size())."""
    chunk = chunk_size() if chunk is None else chunk
    runs: list[tuple[list[str], list[str]]] = []
    last = -2
    for i, target in enumerate(order):
        if target not in selection:
            continue
        types = [t.value for t in TYPE_ORDER if t.value in selection[target]]  # one order: equal sets compare equal
        if runs and runs[-1][0] == types and last == i - 1 and not (chunk and len(runs[-1][1]) >= chunk):
            runs[-1][1].append(target)
        else:
            runs.append((types, [target]))
        last = i
    return runs


def range_tags(targets: list[str]) -> dict[str, str]:
    """Run tags for a run over `targets` (contiguous in the partition order); none for one target,
    which runs as a plain single-partition run."""
    if len(targets) == 1:
        return {}
    return {ASSET_PARTITION_RANGE_START_TAG: targets[0], ASSET_PARTITION_RANGE_END_TAG: targets[-1]}
