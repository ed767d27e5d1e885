"""ctx on a PostgreSQL-backed Dagster instance: DAGSTER_HOME/dagster.yaml is docs/scaling/dagster.yaml,
the server a throwaway one from Debian's `postgresql` package (tests/servers.py)."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys

import pytest
import yaml

from ctx_assets.build import get_instance
from ctx_assets.defs.project import STAGE_TAG, project_of
from tests.support.servers import wait_for

from .conftest import CI, ROOT, run_ctx
from .dagster_env import edit, isolate, small_manifest
from .test_dagster_graph import ALL_TYPES, _requests, _sensor
from .test_many_manifests import _manifest, build_two_at_once
from .test_sqlite_storage import TABLES, events_of_a_build, kill_9_mid_build_then_rebuild, store_three_ways

# Without the [postgres] extra this module skips with the reason (and fails under CI=true), not an import error.
if importlib.util.find_spec("dagster_postgres") is None:
    if CI:
        pytest.fail("the [postgres] extra (dagster-postgres) is required under CI=true", pytrace=False)
    pytest.skip("the [postgres] extra (dagster-postgres) is not installed", allow_module_level=True)
from ctx_assets.dagster_compat.postgres_storage import POOL_SIZE, SCHEMA_LOCK  # noqa: E402


def test_full_build_records_every_artifact_in_postgres_and_the_sensor_reads_it(postgres, monkeypatch, tmp_path):
    env = postgres.home(tmp_path)
    manifest, out = small_manifest(tmp_path), tmp_path / "out"
    r = run_ctx("build", str(manifest), "--out", str(out), env=env)
    assert r.returncode == 0, r.stderr[-2000:]
    r = run_ctx("status", str(manifest), "--out", str(out), "--json", env=env)
    assert r.returncode == 0, r.stderr
    rows = yaml.safe_load(r.stdout)["artifacts"]
    assert len(rows) == 22 and {x["status"] for x in rows} == {"fresh"}  # 21 artifacts + provenance
    # ctx left the hand-written instance config alone, and the records are in PostgreSQL
    home = tmp_path / ".ctx" / "dagster"
    assert "class: KeptPostgresStorage" in (home / "dagster.yaml").read_text()
    db = env["DAGSTER_PG_DB"]
    # 21 artifacts + manifest, export, context_seed, provenance
    assert postgres.query("SELECT count(*) FROM event_logs WHERE dagster_event_type = 'ASSET_MATERIALIZATION'",
                          db=db) == [(25,)]
    # shared stages, one run for all artifacts, output
    assert postgres.query("SELECT count(*) FROM runs WHERE status = 'SUCCESS'", db=db) == [(3,)]
    # the sensor, in process on the same instance, reads what the build recorded
    isolate(monkeypatch, tmp_path)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    assert type(get_instance().event_log_storage).__name__ == "KeptPostgresEventLogStorage"
    assert get_instance().get_dynamic_partitions(project_of(manifest).targets.name) == [
        "svc-0000", "svc-0001", "svc-0002"]
    sensor_sees_one_target_edit(manifest, out)


def test_embedded_on_dagsters_stock_postgres_storage(postgres, monkeypatch, tmp_path):
    """on a user's instance with dagster-postgres's own storage, the build, status and the sensor
    work as on ours (the storage has no bulk path and no one-query metadata read: the public ones are used)."""
    env = postgres.home(tmp_path, stock=True)
    manifest, out = small_manifest(tmp_path), tmp_path / "out"
    sessions = _sessions(postgres, env["DAGSTER_PG_DB"])
    r = run_ctx("build", str(manifest), "--out", str(out), env=env)
    assert r.returncode == 0, r.stderr[-2000:]
    # Its connections are kept (defs/connections.py): dagster-postgres alone opens one per statement (527
    # for these 14 artifacts when measured, 64 kept; at 1,000 targets the difference is ~25,000 connections).
    opened = _sessions(postgres, env["DAGSTER_PG_DB"]) - sessions
    assert opened < 150, f"{opened} connections opened by one build"
    r = run_ctx("status", str(manifest), "--out", str(out), "--json", env=env)
    assert r.returncode == 0 and {x["status"] for x in yaml.safe_load(r.stdout)["artifacts"]} == {"fresh"}
    assert "postgres:" in (tmp_path / ".ctx" / "dagster" / "dagster.yaml").read_text()
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    assert type(get_instance().event_log_storage).__name__ == "PostgresEventLogStorage"  # stock, not ours
    sensor_sees_one_target_edit(manifest, out)


def _sessions(postgres, db: str) -> int:
    """Connections ever opened to `db` (PostgreSQL 14+ counts them as each one ends)."""
    postgres.query("SELECT pg_stat_force_next_flush()", db=db)
    return postgres.query("SELECT sessions FROM pg_stat_database WHERE datname = %s", db)[0][0]


def sensor_sees_one_target_edit(manifest, out) -> None:
    """Nothing stale after the build (what it recorded reads back); a one-target edit is one run of the
    shared stages and that target's seven artifacts only (provenance comes on a later tick: this instance's
    queue does not keep a project's runs in order)."""
    result, ctx = _sensor(manifest, out)
    assert not getattr(result, "run_requests", None)
    edit(manifest, lambda d: d["spec"]["targets"][1].update(namespace="moved"))
    result, ctx = _sensor(manifest, out, ctx.cursor)
    assert [r.tags[STAGE_TAG] for r in result.run_requests] == ["edit"]
    assert _requests(result) == {"svc-0001": sorted(["context_seed", "export", "manifest", *ALL_TYPES])}


def test_two_manifests_build_at_once_on_postgres(postgres, tmp_path):
    env = postgres.home(tmp_path)
    build_two_at_once(tmp_path, env, _manifest(tmp_path, "alpha", "team-a"), _manifest(tmp_path, "beta", "team-b"))


def test_processes_opening_a_fresh_database_at_once_take_turns_creating_the_schema(postgres, tmp_path):
    """Two `ctx` processes starting on a fresh database both create Dagster's tables; dagster-postgres
    alone fails one of them now and then (`type "jobs" already exists`: 2 pairs in ~40 measured), so
    KeptPostgresStorage creates them under an advisory lock. With the lock held here, four openers wait
    before any table exists; released, all four open the instance."""
    env = postgres.home(tmp_path)
    db = env["DAGSTER_PG_DB"]
    held = postgres.connect(db)
    try:
        with held.cursor() as cur:
            cur.execute("SELECT pg_advisory_lock(%s)", (SCHEMA_LOCK,))
        opener = "from ctx_assets.build import get_instance; get_instance()"
        procs = [subprocess.Popen([sys.executable, "-c", opener], cwd=ROOT, env={**os.environ, **env},
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(4)]
        waiting = "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
        wait_for("four processes waiting for the schema lock", lambda: postgres.query(waiting, db=db) == [(4,)],
                 timeout=60, every=0.2)
        assert postgres.query("SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'",
                              db=db) == [(0,)]
    finally:
        held.close()
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0] * 4, "\n".join(err[-1500:] for _, err in outs)
    tables = {t for (t,) in postgres.query("SELECT table_name FROM information_schema.tables", db=db)}
    assert {"runs", "event_logs", "jobs"} <= tables


@pytest.mark.slow
def test_kill_9_mid_build_then_a_clean_build_on_postgres(postgres, tmp_path):
    kill_9_mid_build_then_rebuild(tmp_path, postgres.home(tmp_path))


def _pg_dump(postgres, db: str, table: str) -> list[tuple]:
    """Every row in id order, but the columns stamped with the wall clock at insert; asset_keys without its
    id: a surrogate key, and dagster-postgres's upsert per event draws a sequence number per event."""
    skip = {"create_timestamp", "id"} if table == "asset_keys" else {"create_timestamp"}
    cols = [c for (c,) in postgres.query("SELECT column_name FROM information_schema.columns WHERE table_name = %s"
                                         " ORDER BY ordinal_position", table, db=db) if c not in skip]
    order = "asset_key" if table == "asset_keys" else "id"
    return postgres.query(f"SELECT {', '.join(cols)} FROM {table} ORDER BY {order}", db=db)


@pytest.fixture(scope="module")
def build_events(tmp_path_factory) -> list:
    """Every event of one 2-target build, stored again by both storage tests below (read, never changed)."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        return events_of_a_build(monkeypatch, tmp_path_factory.mktemp("build"))[1]


def test_batched_writes_store_exactly_what_dagster_postgres_stores(postgres, monkeypatch, build_events):
    """ctx_assets/dagster_compat/postgres_storage.py writes a build's materializations and evaluations in batches; the
    rows must be dagster-postgres's own, event by event and through `batched`."""
    from dagster_postgres.event_log import PostgresEventLogStorage

    from ctx_assets.dagster_compat.postgres_storage import KeptPostgresEventLogStorage

    entries = build_events
    dbs = {name: postgres.create_database() for name in ("ours", "theirs", "held")}
    ours, held = (KeptPostgresEventLogStorage(postgres.url(dbs[n])) for n in ("ours", "held"))
    store_three_ways(monkeypatch, entries, ours, PostgresEventLogStorage(postgres.url(dbs["theirs"])), held)
    for table in TABLES:
        dagsters = _pg_dump(postgres, dbs["theirs"], table)
        assert dagsters or table == "asset_event_tags", table
        for mine in ("ours", "held"):
            assert _pg_dump(postgres, dbs[mine], table) == dagsters, (mine, table)


def test_event_log_keeps_its_connection_and_survives_a_dropped_one(postgres, build_events):
    """dagster-postgres connects anew for every event write; ours keeps its connections (the same server
    backends over a run's events), and when the server drops it (a restart, an idle timeout, an admin's
    pg_terminate_backend) the next write reconnects instead of failing."""
    from ctx_assets.dagster_compat.postgres_storage import KeptPostgresEventLogStorage

    entries = build_events
    db = postgres.create_database()
    storage = KeptPostgresEventLogStorage(postgres.url(db))
    backends = "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()"  # not this query's
    half = len(entries) // 2
    seen: set[int] = set()  # the server backends (connections) open after each write
    for e in entries[:half]:
        storage.store_event(e)
        seen |= {pid for (pid,) in postgres.query(backends, db)}
    assert half > 40 and 1 <= len(seen) <= POOL_SIZE, f"{len(seen)} connections for {half} event writes"
    dropped = postgres.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", db)
    assert dropped and all(ok for (ok,) in dropped)
    for e in entries[half:]:
        storage.store_event(e)
    assert len(storage.get_logs_for_run(entries[-1].run_id)) == sum(e.run_id == entries[-1].run_id for e in entries)
    storage.dispose()
