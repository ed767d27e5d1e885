"""`dagster api grpc` for `ctx ui`, its runs forked from a warm process instead of spawned cold.

Dagster's code server starts every run it launches as a `multiprocessing` "spawn" process
(`DagsterApiServer._mp_ctx`): a new interpreter that imports Dagster and ctx-assets again before the
run begins (~2-5 s on a 2-core machine, twice per edit: the edit's run and provenance). Here the context
is "forkserver" with Dagster's run machinery and ctx-assets' code location preloaded (WARM_MODULES): a
run is a fork of that process (one more process, started on the first run; it holds imported modules,
no instance, no threads). Everything else, the run's events and its process, is Dagster's. Private:
with CTX_DAGSTER_PUBLIC_API=1, or if the attribute is gone, this is the stock code server.

    python -m ctx_assets.dagster_compat.codeserver api grpc --port P --python-file F --attribute defs ...
"""

from __future__ import annotations

import sys

WARM_MODULES = ["dagster", "dagster._grpc.impl", "dagster._core.execution.api", "ctx_assets.location",
                "ctx_assets.defs.artifacts", "ctx_assets.core.artisan"]


def fork_runs_from_warm_process() -> bool:
    """Whether the code server's runs now start as forks of a preloaded forkserver."""
    import multiprocessing
    import threading
    from multiprocessing import forkserver

    from ctx_assets.dagster_compat import public_api_only

    if public_api_only() or "forkserver" not in multiprocessing.get_all_start_methods():
        return False
    try:
        from dagster._grpc.server import DagsterApiServer
    except ImportError:
        return False
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(WARM_MODULES)
    init = DagsterApiServer.__init__

    def warm_init(self, *args, **kwargs) -> None:
        init(self, *args, **kwargs)
        if hasattr(self, "_mp_ctx"):
            self._mp_ctx = ctx

    DagsterApiServer.__init__ = warm_init  # type: ignore[method-assign]
    # Started now, beside the server's own start, so the first run does not wait for the preload either.
    threading.Thread(target=forkserver.ensure_running, name="ctx-forkserver", daemon=True).start()
    return True


def main() -> int:
    fork_runs_from_warm_process()
    from dagster._cli import main as dagster_main

    sys.argv[0] = "dagster"
    return dagster_main()


if __name__ == "__main__":
    sys.exit(main())
