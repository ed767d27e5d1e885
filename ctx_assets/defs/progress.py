"""Progress from inside an in-process run, for `ctx build`'s stderr.

A 10,000-target artifact run lasts minutes inside one Dagster step; `run_build` sets a sink for the
build and the artifact body reports each chunk to it. Runs in other processes (the daemon's, the
UI's) have no sink: there the step's own log lines say the same.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

_sink: Callable[[str], None] | None = None


@contextlib.contextmanager
def reporting(sink: Callable[[str], None]) -> Iterator[None]:
    global _sink
    previous, _sink = _sink, sink
    try:
        yield
    finally:
        _sink = previous


def report(message: str) -> None:
    if _sink is not None:
        _sink(message)
