"""Every `CTX_*` environment variable ctx-assets reads, in one place, read when asked (never at import).

OpenTelemetry's own variables (`OTEL_*`) are read by the telemetry package as the SDK defines them;
Dagster's (`DAGSTER_HOME`) by Dagster.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

DEFAULT_MANIFEST = "examples/online-boutique.contextcore.yaml"


class SettingsError(ValueError):
    """A variable holds a value ctx cannot use: one line naming it, exit 2."""


def _number(name: str, default: float, whole: bool = True) -> float:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw) if whole else float(raw)
    except ValueError:
        raise SettingsError(f"{name}={raw!r}: expected a {'whole ' if whole else ''}number") from None
    if value < 0:
        raise SettingsError(f"{name}={raw!r}: expected a number >= 0")
    return value


def _flag(name: str, default: bool) -> bool:
    raw = os.environ.get(name, "").strip().lower()
    return default if not raw else raw in ("1", "true", "yes", "on")


@dataclass(frozen=True)
class Settings:
    home: Path  # CTX_HOME: the project-local home (.ctx): Dagster instance, traces, logs, caches
    dagster_home: Path  # DAGSTER_HOME, else <home>/dagster: the instance ctx writes (build/home.py) and reads
    trace_file: Path  # CTX_TRACE_FILE: the local OTLP/JSON-lines trace file
    manifests: tuple[str, ...]  # CTX_MANIFEST: what `ctx ui` / the checkout's workspace serves (path-separated)
    out: str | None  # CTX_OUT: the bundle folder (one manifest) or the folder of bundles (many)
    run_targets: int  # CTX_RUN_TARGETS: at most this many targets per artifact run (0: no limit)
    chunk_targets: int  # CTX_CHUNK_TARGETS: targets generated and recorded per batch inside a run
    sensor_debounce_seconds: float  # CTX_SENSOR_DEBOUNCE_SECONDS: how long an edit must settle
    celery_broker: str | None  # CTX_CELERY_BROKER: runs launched through the instance use celery workers
    pushgateway_url: str | None  # CTX_PUSHGATEWAY_URL: the pipeline's counters go to this Pushgateway
    public_api_only: bool  # CTX_DAGSTER_PUBLIC_API=1: no private Dagster API (ctx_assets/dagster_compat)
    run_owner: str  # CTX_RUN_OWNER: set by `ctx ui` for its Dagster processes, "pid:start" (defs/owners.py)
    build_server: bool  # CTX_BUILD_SERVER: `ctx build` hands its work to a warm process (build/server.py)
    build_server_idle_seconds: float  # CTX_BUILD_SERVER_IDLE_SECONDS: the warm process exits after this idle
    validator_cache: str  # CTX_VALIDATOR_CACHE: promtool/amtool verdicts (default <home>/cache/validators; "off")


def settings() -> Settings:
    home = Path(os.environ.get("CTX_HOME") or ".ctx")
    manifests = tuple(n for n in os.environ.get("CTX_MANIFEST", DEFAULT_MANIFEST).split(os.pathsep) if n)
    return Settings(
        home=home,
        dagster_home=Path(os.environ.get("DAGSTER_HOME") or home / "dagster"),
        trace_file=Path(os.environ.get("CTX_TRACE_FILE") or home / "traces" / "spans.jsonl"),
        manifests=manifests or (DEFAULT_MANIFEST,),
        out=os.environ.get("CTX_OUT") or None,
        run_targets=int(_number("CTX_RUN_TARGETS", 0)),
        chunk_targets=max(1, int(_number("CTX_CHUNK_TARGETS", 250))),
        sensor_debounce_seconds=_number("CTX_SENSOR_DEBOUNCE_SECONDS", 2.0, whole=False),
        celery_broker=os.environ.get("CTX_CELERY_BROKER") or None,
        pushgateway_url=os.environ.get("CTX_PUSHGATEWAY_URL") or None,
        public_api_only=_flag("CTX_DAGSTER_PUBLIC_API", default=False),
        run_owner=os.environ.get("CTX_RUN_OWNER", ""),
        # On by default on a workstation; off under CI (a run there is one build, and no process may outlive it)
        build_server=_flag("CTX_BUILD_SERVER", default=not _flag("CI", default=False)),
        build_server_idle_seconds=_number("CTX_BUILD_SERVER_IDLE_SECONDS", 600.0, whole=False),
        validator_cache=os.environ.get("CTX_VALIDATOR_CACHE") or str(home / "cache" / "validators"),
    )
