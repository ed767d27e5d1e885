"""Loaded into a celery worker with `-i ctx_step_barrier` (tests/support/engines.py, celery_workers): each
artifacts step, once started, waits until PARTIES artifacts steps have started (one file each in the folder
CTX_TEST_STEP_BARRIER), then builds as usual. Two chunks are then built at the same time by construction,
whatever their size and the machine's load, instead of by a chunk big enough to outlast the other's launch.

A step that waits TIMEOUT_SECONDS in vain goes on: the test's overlap assertion then fails and says why.
Not a package of its own (this folder is put on the workers' PYTHONPATH, nothing else is in it).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import ctx_assets.defs.artifacts as artifacts

PARTIES = 2
TIMEOUT_SECONDS = 120
_real_build = artifacts._build


def _build_at_the_barrier(context: Any, *args: Any, **kwargs: Any) -> Iterator[Any]:
    folder = Path(os.environ["CTX_TEST_STEP_BARRIER"])
    (folder / f"{context.run_id}-{os.getpid()}").touch()  # arrived
    deadline = time.monotonic() + TIMEOUT_SECONDS
    while sum(1 for _ in folder.iterdir()) < PARTIES and time.monotonic() < deadline:
        time.sleep(0.05)
    yield from _real_build(context, *args, **kwargs)


artifacts._build = _build_at_the_barrier  # looked up when the artifacts asset runs (defs/artifacts.py)
