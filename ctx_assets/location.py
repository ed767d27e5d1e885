"""The code location `ctx ui` serves (and `dagster dev -w workspace.yaml` from the checkout): every
manifest ctx was given, one location, plus ctx's own executor choice.

CTX_MANIFEST names the manifests (paths, folders or globs, separated by the OS path separator;
default the bundled example); CTX_OUT is the bundle folder of a single manifest, or the folder the
bundles of many go under (as `ctx build` takes `--out`).
"""

from __future__ import annotations

from typing import Any

from dagster import Definitions, in_process_executor

from .definitions import definitions_for, manifest_paths, projects_for
from .settings import settings


def executor() -> Any:
    """In process: a process per step costs ~1 s each. With CTX_CELERY_BROKER set (the [celery] extra),
    runs launched through the instance (the daemon's sensor runs) send their steps to celery workers on
    that broker (docs/scaling.md §2); `ctx build` always runs in process."""
    if not settings().celery_broker:
        return in_process_executor
    from dagster_celery import celery_executor

    # The broker doubles as the result backend: one service to run (Redis), no RabbitMQ for rpc://.
    return celery_executor.configured({"broker": {"env": "CTX_CELERY_BROKER"},
                                       "backend": {"env": "CTX_CELERY_BROKER"}}, name="celery")


def ctx_location(manifests: list[str], out: str | None = None) -> Definitions:
    """Every manifest named (paths, folders, globs) in one location; `out` as `ctx build --out` takes it."""
    paths = manifest_paths(manifests)
    single = len(paths) == 1 and out
    projects = projects_for(paths, None if single else out, bundle_dirs=[out] if single else None)
    return Definitions.merge(definitions_for(projects), Definitions(executor=executor()))


def __getattr__(name: str) -> Any:
    # `defs` is built when a loader asks for it, not when the module is imported (a generated loader
    # imports ctx_location from here without loading the default manifest).
    if name == "defs":
        s = settings()
        return ctx_location(list(s.manifests), s.out)
    raise AttributeError(name)
