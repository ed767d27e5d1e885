"""docs/scaling.md's instance configuration and the embedded one (without a server).

Dagster loading docs/scaling/dagster.yaml against a live PostgreSQL, as `storage: custom` and as
dagster-postgres's own `storage: postgres`, is what tests/test_postgres.py does (support/servers.py,
Postgres.home): here, only what the file says, read as YAML, so this module needs no Dagster internals.
"""

from __future__ import annotations

import yaml

from .conftest import ROOT


def test_postgres_instance_config_names_the_kept_storage_and_its_environment():
    cfg = yaml.safe_load((ROOT / "docs" / "scaling" / "dagster.yaml").read_text())
    storage = cfg["storage"]["custom"]
    assert (storage["module"], storage["class"]) == ("ctx_assets.storage", "KeptPostgresStorage")
    db = storage["config"]["postgres_db"]
    assert set(db) == {"username", "password", "hostname", "db_name", "port", "scheme"}
    assert db["scheme"] == "postgresql+psycopg2"  # not psycopg 3 (pyproject.toml, the postgres extra)
    # credentials from the environment, never in the file
    assert {k: v for k, v in db.items() if k != "scheme"} == {
        "username": {"env": "DAGSTER_PG_USERNAME"}, "password": {"env": "DAGSTER_PG_PASSWORD"},
        "hostname": {"env": "DAGSTER_PG_HOST"}, "db_name": {"env": "DAGSTER_PG_DB"},
        "port": {"env": "DAGSTER_PG_PORT"}}
    assert cfg["run_coordinator"]["class"] == "QueuedRunCoordinator"


def test_default_instance_config_is_the_kept_sqlite_storage(monkeypatch, tmp_path):
    """The project's dagster.yaml (what `dagster dev` uses from the checkout) and the home `ctx` writes
    both name the kept-connected SQLite storage, and it opens."""
    from dagster import DagsterInstance

    from ctx_assets.build.home import dagster_home
    from ctx_assets.dagster_compat.sqlite_storage import KeptSqliteEventLogStorage

    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    cfg = yaml.safe_load((ROOT / "dagster.yaml").read_text())
    assert cfg["storage"]["custom"]["class"] == "KeptSqliteStorage"
    (tmp_path / "dagster.yaml").write_text((ROOT / "dagster.yaml").read_text())
    assert isinstance(DagsterInstance.from_config(str(tmp_path)).event_log_storage, KeptSqliteEventLogStorage)
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "ctx-home"))  # the home ctx writes itself
    monkeypatch.delenv("CTX_DAGSTER_PUBLIC_API", raising=False)
    assert "class: KeptSqliteStorage" in (dagster_home() / "dagster.yaml").read_text()


def test_the_runbook_shows_the_tested_instance_config():
    """docs/scaling.md shows docs/scaling/dagster.yaml, the file tests/support/servers.py gives every Postgres
    test."""
    import re

    from tests.support.servers import SCALING_YAML

    doc = (ROOT / "docs" / "scaling.md").read_text()
    shown = yaml.safe_load(re.search(r"```yaml\n(.*?)```", doc, re.S).group(1))
    tested = yaml.safe_load(SCALING_YAML.read_text())
    tested.pop("telemetry")
    assert shown == tested
    pyproject = (ROOT / "pyproject.toml").read_text()
    for name in ("dagster", "dagster-webserver", "dagster-postgres", "dagster-celery"):  # the pins it names
        version = re.search(rf'"{name}(?:\[\w+\])?==([\d.]+)"', pyproject).group(1)
        assert f"{name}=={version}" in doc, name


def test_the_runbook_starts_celery_workers_as_the_tests_do():
    """docs/scaling.md §3 starts each worker with the options tests/support/engines.py gives the celery test."""
    from tests.support.engines import WORKER_OPTIONS

    doc = (ROOT / "docs" / "scaling.md").read_text()
    starts = [line for line in doc.splitlines() if line.startswith("dagster-celery worker start")]
    assert len(starts) == 2 and all(line.endswith(" -- " + " ".join(WORKER_OPTIONS)) for line in starts), starts
