"""The embedded instance's storage (ctx_assets/dagster_compat/sqlite_storage.py), which overrides Dagster internals.

Dagster is pinned exactly; these tests are what a version bump must pass: the shortcut for
materializations and check evaluations writes the very rows Dagster's own path writes, the
instance survives a killed build, two processes use one home at once, and first use is safe
when several processes start together.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from dagster import DagsterRunStatus, RunsFilter

from ctx_assets.build import get_instance, run_build
from ctx_assets.core.fsio import OWNER_FILE
from ctx_assets.core.staging import STAGING
from ctx_assets.dagster_compat.event_writes import AssetCheckExecutionRecordStatus
from ctx_assets.dagster_compat.sqlite_storage import (  # Dagster's own storage, which ours extends
    KeptSqliteEventLogStorage,
    KeptSqliteRunStorage,
    SqliteEventLogStorage,
)
from ctx_assets.defs.owners import UNFINISHED
from ctx_assets.defs.project import project_of
from tests.support.engines import instance_of

from .conftest import ROOT, run_ctx
from .dagster_env import edit, isolate, small_manifest

TABLES = ("event_logs", "asset_keys", "asset_event_tags", "asset_check_executions")


def _dump(db: Path, table: str) -> list[tuple]:
    """Every row, but the columns SQLite stamps with the wall clock at insert."""
    with sqlite3.connect(db) as conn:
        cols = [c[1] for c in conn.execute(f"PRAGMA table_info({table})") if c[1] != "create_timestamp"]
        return conn.execute(f"SELECT {', '.join(cols)} FROM {table} ORDER BY 1").fetchall()


def events_of_a_build(monkeypatch, tmp_path: Path) -> tuple[list[str], list]:
    """The run ids and every event of a 2-target build (materializations, evaluations, planned checks)."""
    isolate(monkeypatch, tmp_path)
    summary = run_build(small_manifest(tmp_path, n=2), tmp_path / "out")
    assert summary.ok
    instance = get_instance()
    entries = [e for run_id in summary.run_ids for e in instance.all_logs(run_id)]
    kinds = {e.dagster_event_type.value for e in entries if e.is_dagster_event}
    assert {"ASSET_MATERIALIZATION", "ASSET_CHECK_EVALUATION", "ASSET_CHECK_EVALUATION_PLANNED"} <= kinds
    return summary.run_ids, entries


def store_three_ways(monkeypatch, entries: list, ours, theirs, held) -> None:
    """Each event stored one by one in ours and Dagster's (theirs), and through one `batched` block in
    held, written in batches of 3 (a batch ends mid-run, mixes materializations and evaluations, and
    Dagster's other events cut it)."""
    monkeypatch.setattr("ctx_assets.dagster_compat.event_writes.BATCH_EVENTS", 3)
    with held.batched():
        for e in entries:
            ours.store_event(e)
            theirs.store_event(e)
            held.store_event(e)


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> tuple[list[str], list]:
    """events_of_a_build, once for the module's tests."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        return events_of_a_build(monkeypatch, tmp_path_factory.mktemp("built"))


def test_shortcut_writes_exactly_what_dagster_writes(built, monkeypatch, tmp_path):
    run_ids, entries = built
    ours, theirs = KeptSqliteEventLogStorage(str(tmp_path / "ours")), SqliteEventLogStorage(str(tmp_path / "theirs"))
    store_three_ways(monkeypatch, entries, ours, theirs, KeptSqliteEventLogStorage(str(tmp_path / "held")))
    for shard in ["index", *run_ids]:
        for table in TABLES if shard == "index" else ("event_logs",):
            dagsters = _dump(tmp_path / "theirs" / f"{shard}.db", table)
            for mine in ("ours", "held"):
                assert _dump(tmp_path / mine / f"{shard}.db", table) == dagsters, (mine, shard, table)
            assert dagsters or table == "asset_event_tags" or shard != "index", (shard, table)
    # run databases are copies of a template Dagster itself migrated: the same schema and alembic stamp
    for q in ("SELECT type, name, sql FROM sqlite_master ORDER BY name", "SELECT * FROM alembic_version"):
        with sqlite3.connect(tmp_path / "ours" / f"{run_ids[1]}.db") as a, \
                sqlite3.connect(tmp_path / "theirs" / f"{run_ids[1]}.db") as b:
            assert a.execute(q).fetchall() == b.execute(q).fetchall()


def test_planned_check_rows_stay_linear_in_the_targets(built, tmp_path):
    """A range run's planned check rows do not each carry the run's whole partition subset: the row
    holds the planned event without it, and Dagster reads it back as a planned execution."""
    from dagster import (
        AssetCheckKey,
        AssetKey,
        DagsterEvent,
        DagsterEventType,
        DynamicPartitionsDefinition,
        EventLogEntry,
    )

    targets = [f"t{i:04d}" for i in range(300)]
    subset = DynamicPartitionsDefinition(name="x").subset_with_partition_keys(targets)
    # Dagster's planned-check payload (not public: its class taken from one the build emitted), over 300 partitions
    planned_kind = DagsterEventType.ASSET_CHECK_EVALUATION_PLANNED
    emitted = next(e for e in built[1] if e.is_dagster_event and e.dagster_event_type == planned_kind)
    planned_type = type(emitted.get_dagster_event().event_specific_data)
    planned = DagsterEvent(event_type_value=planned_kind.value, job_name="j",
                           event_specific_data=planned_type(asset_key=AssetKey(["p", "dashboard"]),
                                                            check_name="artifact_gates", partitions_subset=subset))
    entry = EventLogEntry(error_info=None, level=10, user_message="", run_id="r1", timestamp=time.time(),
                          step_key="artifacts", job_name="j", dagster_event=planned)
    storage = KeptSqliteEventLogStorage(str(tmp_path / "ours"))
    storage.store_event(entry)
    rows = _dump(tmp_path / "ours" / "index.db", "asset_check_executions")
    assert len(rows) == 300
    with sqlite3.connect(tmp_path / "ours" / "index.db") as conn:
        biggest = conn.execute("SELECT max(length(evaluation_event)) FROM asset_check_executions").fetchone()[0]
    assert biggest < 2000, biggest  # not 300 keys per row
    record = storage.get_asset_check_execution_history(AssetCheckKey(AssetKey(["p", "dashboard"]), "artifact_gates"),
                                                       limit=1000)
    assert len(record) == 300 and {r.status for r in record} == {AssetCheckExecutionRecordStatus.PLANNED}
    assert {r.partition for r in record} == set(targets)


def test_latest_metadata_query_equals_dagsters_records(monkeypatch, tmp_path):
    """`ctx status` reads the newest materialization of every partition with one query; it must say
    what Dagster's own API says, also after a rebuild of some partitions and a wipe."""
    from ctx_assets.defs.state import latest_artifact_metadata

    isolate(monkeypatch, tmp_path)
    manifest = small_manifest(tmp_path, n=3)
    assert run_build(manifest, tmp_path / "out").ok
    assert run_build(manifest, tmp_path / "out", targets=["svc-0001"]).ok  # newer records for one target
    instance = get_instance()
    p = project_of(manifest)
    instance.wipe_assets([p.key("runbook")])
    fast = latest_artifact_metadata(instance, p)
    monkeypatch.setattr(KeptSqliteEventLogStorage, "latest_materialization_metadata", None)
    assert fast == latest_artifact_metadata(instance, p)
    assert len(fast) == 18 and ("runbook", "svc-0000") not in fast


def test_storage_is_the_configured_default(monkeypatch, tmp_path):
    isolate(monkeypatch, tmp_path)
    instance = get_instance()
    assert isinstance(instance.event_log_storage, KeptSqliteEventLogStorage)
    assert isinstance(instance.run_storage, KeptSqliteRunStorage)
    # the project's dagster.yaml (used by `dagster dev` from the checkout) names the same storage
    assert "module: ctx_assets.storage" in (ROOT / "dagster.yaml").read_text()


def test_concurrent_first_use_of_a_home(tmp_path):
    """Four processes open an empty home at once (a build, the UI, the daemon...): none fails."""
    env = {**os.environ, "CTX_HOME": str(tmp_path / ".ctx"), "DAGSTER_HOME": str(tmp_path / ".ctx" / "dagster")}
    code = "from ctx_assets.build import get_instance; i = get_instance(); print(len(i.get_runs()))"
    procs = [subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(4)]
    results = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), [err[-500:] for _, err in results]
    assert [out.strip() for out, _ in results] == ["0"] * 4


def test_kill_9_mid_build_leaves_a_usable_instance_and_the_previous_bundle(tmp_path):
    kill_9_mid_build_then_rebuild(tmp_path, {"CTX_HOME": str(tmp_path / ".ctx"),
                                             "DAGSTER_HOME": str(tmp_path / ".ctx" / "dagster")})


def kill_9_mid_build_then_rebuild(tmp_path: Path, env: dict[str, str], n: int = 20, chunk: int = 5) -> None:
    """A build of an edited manifest killed while artifacts are written: the bundle is exactly the previous
    one (the new files were only staged), the next ctx command fails the runs it left in progress (with the
    reason), status answers, the next build removes what the killed one staged and swaps in the new bundle,
    whole (also run on Postgres, tests/test_postgres.py)."""
    manifest = small_manifest(tmp_path, n=n)
    out = tmp_path / "out"
    assert run_ctx("build", str(manifest), "--out", str(out), env=env).returncode == 0
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    edit(manifest, lambda d: d["metadata"].update(description="edited: every file of the new bundle differs"))
    # Chunks of `chunk` targets: the artifact run reports each chunk once it is written and recorded, so the
    # line for the first one is an event inside the run, with n - chunk targets still to go. Killed right then.
    proc = subprocess.Popen([sys.executable, "-m", "ctx_assets.cli", "build", str(manifest), "--out", str(out),
                             "--all"], cwd=ROOT, env={**os.environ, **env, "CTX_CHUNK_TARGETS": str(chunk)},
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while f"stage artisan: {chunk}/{n} targets" not in (line := proc.stderr.readline()):
        assert line and time.monotonic() < deadline, "the build never reached its first chunk of artifacts"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    staged = out / STAGING
    assert staged.is_dir()  # the killed build's files: staged, never swapped in
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file() and staged not in p.parents} == before
    unfinished = RunsFilter(statuses=UNFINISHED)
    with instance_of(env) as instance:  # read as Dagster stores it, without ctx's sweep
        killed = [r.run_id for r in instance.get_runs(unfinished)]
    assert killed, "the killed build left no unfinished run: the test did not kill it mid-run"
    r = run_ctx("status", str(manifest), "--out", str(out), "--json", env=env)
    assert r.returncode == 0, r.stderr
    assert f"marked {len(killed)} run" in r.stderr  # the next ctx command fails them, once
    with instance_of(env) as instance:
        assert instance.get_runs(unfinished) == []
        for run_id in killed:
            assert instance.get_run_by_id(run_id).status == DagsterRunStatus.FAILURE
            reason = [e.message for e in instance.all_logs(run_id) if e.is_dagster_event][-1]
            assert f"pid {proc.pid}" in reason and "exited before the run finished" in reason
    r = run_ctx("build", str(manifest), "--out", str(out), "--all", env=env)
    assert r.returncode == 0, r.stderr[-2000:]
    after = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert not staged.exists() and not [p for p in after if p.name.endswith(".tmp")]  # leftovers removed
    assert set(after) == set(before)  # the new bundle, whole: every file but the owner record is new
    assert [p.name for p in after if after[p] == before[p]] == [OWNER_FILE]


@pytest.mark.slow
def test_a_build_and_a_reader_share_one_home(tmp_path):
    """While a build writes, another process reads the same home (as the UI and the daemon do)."""
    env = {"CTX_HOME": str(tmp_path / ".ctx"), "DAGSTER_HOME": str(tmp_path / ".ctx" / "dagster")}
    manifest = small_manifest(tmp_path, n=20)
    build = subprocess.Popen([sys.executable, "-m", "ctx_assets.cli", "build", str(manifest), "--out",
                              str(tmp_path / "out")], cwd=ROOT, env={**os.environ, **env},
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    reads = 0
    while build.poll() is None:
        r = run_ctx("status", str(manifest), "--out", str(tmp_path / "out"), "--json", env=env)
        assert r.returncode == 0, r.stderr[-2000:]
        reads += 1
    assert build.returncode == 0, build.stderr.read()[-2000:]
    assert reads >= 1
    os.environ.update(env)
    try:
        runs = get_instance().get_runs(RunsFilter(statuses=[DagsterRunStatus.SUCCESS]))
        assert len(runs) == 3
    finally:
        for k in env:
            os.environ.pop(k, None)
