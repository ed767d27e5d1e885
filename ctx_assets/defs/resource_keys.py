"""The resource keys ctx-assets adds to a code location, named so they cannot clash with a user's.

Each project has its own output store (`ctx_assets_store__<project>`: its manifest and bundle
folder, bound when the definitions are made, as `@dbt_assets(manifest=)` binds its manifest); the
tracer and the external validators are one object each for every project, so two
`contextcore_definitions(...)` results merge with `Definitions.merge` (which accepts a key twice
only for the very same object).
"""

from __future__ import annotations

import os
from functools import cache
from typing import Any

from ctx_assets.resources.output_store import OutputStore
from ctx_assets.resources.tracing import PipelineTracer
from ctx_assets.resources.validators import ExternalValidators

from .connections import keep_connections
from .project import Project

TRACER_KEY = "ctx_assets_tracer"
VALIDATORS_KEY = "ctx_assets_validators"


@cache
def shared_resources() -> dict[str, Any]:
    # OTEL_SDK_DISABLED is OpenTelemetry's own switch; tracing is on unless it says "true".
    enabled = os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() != "true"
    return {TRACER_KEY: PipelineTracer(enabled=enabled), VALIDATORS_KEY: ExternalValidators()}


def store_and_tracer(context: Any, p: Project) -> tuple[OutputStore, PipelineTracer]:
    """A step's resources; every asset of a project asks first, so the process keeps its connections here."""
    keep_connections(context.instance)
    return getattr(context.resources, p.store_key), getattr(context.resources, TRACER_KEY)
