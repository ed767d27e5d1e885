"""A kept database connection for each process ctx's assets run in, on any instance.

Dagster's stock PostgreSQL storages open a new connection for every statement (SQLAlchemy's NullPool,
so that long-lived processes hold none): ~12 ms each here, three per check evaluation, which made
2,549 connections half of a 100-target build on stock dagster-postgres. The instance's own public
`optimize_for_webserver`, which dagster-webserver calls at start, gives its storages a pool of one kept
connection (more under concurrent use); ctx calls it once in each process its runs execute in (a run
worker, a step process, `ctx build`). No statement timeout is set (0: a build's large writes must not
be cut off). SQLite storages and ctx's kept storages have nothing to change.
"""

from __future__ import annotations

from typing import Any

_KEPT: set[int] = set()  # the instances of this process already switched


def keep_connections(instance: Any) -> None:
    if id(instance) in _KEPT:
        return
    _KEPT.add(id(instance))
    instance.optimize_for_webserver(statement_timeout=0, pool_recycle=3600, max_overflow=10)
