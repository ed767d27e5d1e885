"""ctx-assets: a ContextCore manifest in, a validated observability bundle out, as Dagster assets.

The public surface, shaped like Dagster's own integrations (dagster-dbt, dagster-sling):

- `contextcore_definitions(manifests, *, out_dir=None, translator=None)`: the `Definitions` of one
  manifest or many, ready to merge into your code location.
- `ContextCoreTranslator`: subclass to change asset keys, groups, owners, tags, kinds, descriptions.
- `ContextCoreComponent`: the same as a Dagster Component (`defs.yaml`: `manifests`, `out_dir`).

Names load on first use, so `ctx validate` and other commands that need no Dagster stay fast.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ctx_assets.components.contextcore import ContextCoreComponent
    from ctx_assets.definitions import ManifestSelectionError, contextcore_definitions
    from ctx_assets.translator import ContextCoreTranslator

__all__ = ["ContextCoreComponent", "ContextCoreTranslator", "ManifestSelectionError", "contextcore_definitions"]

_WHERE = {
    "contextcore_definitions": "ctx_assets.definitions",
    "ManifestSelectionError": "ctx_assets.definitions",
    "ContextCoreTranslator": "ctx_assets.translator",
    "ContextCoreComponent": "ctx_assets.components.contextcore",
}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        value = getattr(import_module(_WHERE[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'ctx_assets' has no attribute {name!r}")


def __dir__() -> list[str]:  # dg's component registry lists a module's names with dir()
    return sorted(set(globals()) | set(__all__))
