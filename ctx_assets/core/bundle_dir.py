"""Where a manifest's bundle goes: `<root>/<metadata.name>` (the name an operator knows it by)."""

from __future__ import annotations

import re
from pathlib import Path

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")


def bundle_name(manifest: str | Path) -> str:
    """`metadata.name`, else the file name while the manifest cannot be read or names nothing usable
    as a folder."""
    from ctx_assets.core.loader import ManifestLoadError, load_manifest_file

    try:  # the safe loader with its limits; ~40 ms at 1,000 targets
        data = load_manifest_file(str(manifest)).data
    except ManifestLoadError:
        data = None
    metadata = data.get("metadata") if isinstance(data, dict) else None
    return folder_name(metadata.get("name") if isinstance(metadata, dict) else None, manifest)


def folder_name(name: object, manifest: str | Path) -> str:
    """`name` when it is usable as a folder (a DNS label), else the manifest's file name."""
    if not (isinstance(name, str) and _DNS_LABEL.match(name)):
        name = Path(manifest).name.removesuffix(".yaml").removesuffix(".yml").removesuffix(".contextcore")
    return name or "bundle"


def default_out(manifest: str | Path) -> str:
    """`$CTX_OUT`, else `out/<bundle name>`."""
    from ctx_assets.settings import settings

    return settings().out or str(Path("out") / bundle_name(manifest))
