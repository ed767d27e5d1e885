"""docs/scaling.md's Postgres instance configuration is valid for Dagster (without a server)."""

from __future__ import annotations

from dagster._core.instance.config import dagster_instance_config

from .conftest import ROOT


def test_postgres_instance_config_loads(monkeypatch):
    for var in ("DAGSTER_PG_USERNAME", "DAGSTER_PG_PASSWORD", "DAGSTER_PG_HOST", "DAGSTER_PG_DB"):
        monkeypatch.setenv(var, "x")
    cfg, _ = dagster_instance_config(str(ROOT / "docs" / "scaling"), "dagster.yaml")
    assert set(cfg["storage"]["postgres"]["postgres_db"]) == {"username", "password", "hostname", "db_name", "port"}
    assert cfg["run_coordinator"]["class"] == "QueuedRunCoordinator"


def test_default_instance_config_is_sqlite(monkeypatch, tmp_path):
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    cfg, _ = dagster_instance_config(str(ROOT), "dagster.yaml")
    assert "sqlite" in cfg["storage"]
