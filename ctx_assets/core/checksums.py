"""Canonical serialisation and checksums: the same content always hashes the same."""

from __future__ import annotations

import hashlib
from typing import Any

import orjson
import yaml


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def canonical_json(obj: Any) -> bytes:
    # orjson: ~35x faster than json with indent on the 30 MB seed of 1,000 targets (SPEC §9).
    return orjson.dumps(obj, option=orjson.OPT_SORT_KEYS)


def pretty_json(obj: Any) -> bytes:
    return orjson.dumps(obj, option=orjson.OPT_INDENT_2) + b"\n"


class _Dumper(getattr(yaml, "CSafeDumper", yaml.SafeDumper)):  # libyaml emitter when present
    """Block-style YAML with multi-line strings as literal blocks (readable PromQL)."""


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def dump_yaml(obj: Any) -> bytes:
    return yaml.dump(obj, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100,
                     default_flow_style=False).encode()
