"""`ctx ui`'s daemon looks at sensors every second (dagster_compat/daemon.py), and on Dagster's public API
alone it is the stock daemon."""

from __future__ import annotations

from ctx_assets.dagster_compat.daemon import SENSOR_LOOP_SECONDS, sensor_daemon, shorten_sensor_loop


def test_the_sensor_loop_looks_every_second(monkeypatch):
    monkeypatch.setattr(sensor_daemon, "MIN_INTERVAL_LOOP_TIME", 5)
    monkeypatch.delenv("CTX_DAGSTER_PUBLIC_API", raising=False)
    assert shorten_sensor_loop()
    assert sensor_daemon.MIN_INTERVAL_LOOP_TIME == SENSOR_LOOP_SECONDS == 1


def test_public_api_only_keeps_the_stock_loop(monkeypatch):
    monkeypatch.setattr(sensor_daemon, "MIN_INTERVAL_LOOP_TIME", 5)
    monkeypatch.setenv("CTX_DAGSTER_PUBLIC_API", "1")
    assert not shorten_sensor_loop()
    assert sensor_daemon.MIN_INTERVAL_LOOP_TIME == 5


def test_a_changed_dagster_keeps_the_stock_loop(monkeypatch):
    monkeypatch.delattr(sensor_daemon, "MIN_INTERVAL_LOOP_TIME")
    monkeypatch.delenv("CTX_DAGSTER_PUBLIC_API", raising=False)
    assert not shorten_sensor_loop()


def test_a_dagster_without_the_module_keeps_the_stock_loop(monkeypatch):
    monkeypatch.setattr("ctx_assets.dagster_compat.daemon.sensor_daemon", None)
    monkeypatch.delenv("CTX_DAGSTER_PUBLIC_API", raising=False)
    assert not shorten_sensor_loop()
