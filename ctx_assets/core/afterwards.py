"""Work only a later command needs (cache files: slices, the plan memo), done after the user has the
answer when a warm build process (build/server.py) asks for it, else at once.

Each piece must be safe to lose or to see late: a cache another process finds missing or old costs it
time, never a wrong result (each is keyed by what made it).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

_queue: list[Callable[[], None]] | None = None


def later(work: Callable[[], None]) -> None:
    """`work()` now, or after the answer inside `deferring`."""
    if _queue is None:
        work()
    else:
        _queue.append(work)


@contextlib.contextmanager
def deferring() -> Iterator[Callable[[], list[BaseException]]]:
    """Inside: `later` queues. Yields `finish`, which runs the queue in order and returns what failed (the
    queue also runs, unreported, if the block ends without it)."""
    global _queue
    _queue = queue = []

    def finish() -> list[BaseException]:
        global _queue
        _queue = None
        failed = []
        while queue:
            try:
                queue.pop(0)()
            except Exception as e:  # a cache that could not be written: the next command recomputes it
                failed.append(e)
        return failed

    try:
        yield finish
    finally:
        finish()
