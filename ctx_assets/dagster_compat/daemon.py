"""`dagster-daemon` for `ctx ui`, with the sensor daemon's loop looking every second instead of every 5 s.

Dagster's sensor daemon evaluates due sensors, then sleeps until 5 s have passed since the loop began
(`dagster._daemon.sensor.MIN_INTERVAL_LOOP_TIME`, a module constant): whatever a sensor's
`minimum_interval_seconds`, it ticks at most every 5 s, and an edit waits 2.5 s on average for the next
tick. Here the constant is 1 s (SENSOR_LOOP_SECONDS) before Dagster's own `dagster-daemon` command runs;
everything else is Dagster's. Private: with CTX_DAGSTER_PUBLIC_API=1, or if the constant is gone, this
is the stock daemon. A user's own daemon keeps the 5 s loop; the manifest sensor works either way.

    python -m ctx_assets.dagster_compat.daemon run -w workspace.yaml
"""

from __future__ import annotations

import sys
from types import ModuleType

SENSOR_LOOP_SECONDS = 1

sensor_daemon: ModuleType | None
try:
    import dagster._daemon.sensor as sensor_daemon
except ImportError:  # a Dagster that moved it: the stock loop
    sensor_daemon = None


def shorten_sensor_loop() -> bool:
    """Whether the sensor daemon's loop now looks every SENSOR_LOOP_SECONDS."""
    from ctx_assets.dagster_compat import public_api_only

    if public_api_only() or sensor_daemon is None:
        return False
    if not isinstance(getattr(sensor_daemon, "MIN_INTERVAL_LOOP_TIME", None), int | float):
        return False
    sensor_daemon.MIN_INTERVAL_LOOP_TIME = SENSOR_LOOP_SECONDS
    return True


def main() -> int:
    shorten_sensor_loop()
    from dagster._daemon.cli import main as daemon_main

    sys.argv[0] = "dagster-daemon"
    return daemon_main()


if __name__ == "__main__":
    sys.exit(main())
