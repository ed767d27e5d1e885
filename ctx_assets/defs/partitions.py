"""Runs over ranges of a project's target partitions (ctx_assets/defs/project.py defines them)."""

from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG


def artifact_runs(selection: dict[str, list[str]], order: list[str]) -> list[tuple[list[str], list[str]]]:
    """[(types, targets)]: as few runs as cover `selection` exactly. A run is a contiguous range of
    the partition order (`order`) with one set of types, so targets that need the same types and sit
    next to each other share a run; a full build is one run."""
    runs: list[tuple[list[str], list[str]]] = []
    last = -2
    for i, target in enumerate(order):
        types = selection.get(target)
        if types is None:
            continue
        if runs and runs[-1][0] == types and last == i - 1:
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
