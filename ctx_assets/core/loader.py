"""Safe manifest loading that remembers where every value came from.

PyYAML's SafeLoader composes a node graph; we build plain Python values from
it ourselves so that (1) no tag beyond the YAML core schema is ever honoured,
(2) alias expansion is bounded (a "billion laughs" file stops after
MAX_NODES), and (3) every field path maps to its line and column.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from ctx_assets.contracts.gates import Problem

from .checksums import sha256_hex

MAX_BYTES = 8 * 1024 * 1024
MAX_ALIASES = 200
MAX_NODES = 500_000
# No manifest number needs more; a longer one is an attack on int() (Python refuses past 4,300 digits).
MAX_INT_DIGITS = 18
_CORE = "tag:yaml.org,2002:"
_SCALAR_TAGS = {f"{_CORE}{t}" for t in ("str", "int", "float", "bool", "null", "timestamp")}


class ManifestLoadError(Exception):
    def __init__(self, problems: list[Problem]):
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = problems


@dataclass
class LoadedManifest:
    path: str
    raw: bytes
    data: dict[str, Any]
    # field path ("spec.targets[2].name") -> (line, column), both 1-based
    marks: dict[str, tuple[int, int]] = field(default_factory=dict)

    @property
    def checksum(self) -> str:
        return sha256_hex(self.raw)

    def locate(self, path: str) -> tuple[int, int]:
        """Closest known position for a path: the field itself, else its nearest parent."""
        p = path
        while p:
            if p in self.marks:
                return self.marks[p]
            cut = max(p.rfind("."), p.rfind("["))
            p = p[:cut] if cut > 0 else ""
        return self.marks.get("", (1, 1))


class _Builder:
    def __init__(self, file: str):
        self.file = file
        self.marks: dict[str, tuple[int, int]] = {}
        self.nodes = 0
        self.constructor = yaml.SafeLoader("")  # scalar resolution only

    def fail(self, node: Node, path: str, message: str) -> ManifestLoadError:
        m = node.start_mark
        return ManifestLoadError([Problem(file=self.file, line=m.line + 1, column=m.column + 1,
                                          path=path, message=message)])

    def build(self, node: Node, path: str) -> Any:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise self.fail(node, path, f"document expands to more than {MAX_NODES} nodes "
                                        "(alias expansion limit)")
        self.marks.setdefault(path, (node.start_mark.line + 1, node.start_mark.column + 1))
        if isinstance(node, ScalarNode):
            if node.tag not in _SCALAR_TAGS:
                raise self.fail(node, path, f"tag {node.tag!r} is not allowed (safe YAML only)")
            if node.tag == f"{_CORE}timestamp":
                return node.value  # dates stay the strings the author wrote
            if node.tag == f"{_CORE}int" and sum(c.isdigit() for c in node.value) > MAX_INT_DIGITS:
                raise self.fail(node, path, f"integer has {sum(c.isdigit() for c in node.value)} digits; "
                                            f"the limit is {MAX_INT_DIGITS}")
            value = self.constructor.construct_object(node, deep=True)
            if isinstance(value, float) and not math.isfinite(value):
                raise self.fail(node, path, f"{node.value!r} is not a finite number (NaN and infinity are refused)")
            return value
        if isinstance(node, SequenceNode):
            if node.tag != f"{_CORE}seq":
                raise self.fail(node, path, f"tag {node.tag!r} is not allowed (safe YAML only)")
            return [self.build(n, f"{path}[{i}]") for i, n in enumerate(node.value)]
        if isinstance(node, MappingNode):
            if node.tag != f"{_CORE}map":
                raise self.fail(node, path, f"tag {node.tag!r} is not allowed (safe YAML only)")
            self.constructor.flatten_mapping(node)
            out: dict[str, Any] = {}
            for key_node, value_node in node.value:
                key = self.build(key_node, path + ".<key>")
                if not isinstance(key, str | int | float | bool) or key is None:
                    raise self.fail(key_node, path, "mapping keys must be scalars")
                key = str(key)
                child = f"{path}.{key}" if path else key
                if key in out:
                    raise self.fail(key_node, child, "duplicate key")
                out[key] = self.build(value_node, child)
            return out
        raise self.fail(node, path, "unsupported YAML node")


# libyaml's composer when available (the pure-Python one is most of the parse time of a large
# manifest); either way only core-schema tags are honoured, by _Builder below.
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _expanded_size(root: Node, limit: int) -> tuple[int, int]:
    """(node count after alias expansion, alias uses), computed over the shared graph (memoised,
    so a 'billion laughs' costs as much as its few distinct nodes); stops early past `limit`."""
    sizes: dict[int, int] = {}
    visiting: set[int] = set()
    reuses = 0

    def size(node: Node) -> int:
        nonlocal reuses
        key = id(node)
        if key in sizes:
            reuses += 1  # a node reached again is an alias use
            return sizes[key]
        if key in visiting:  # recursive alias: infinite expansion
            return limit + 1
        visiting.add(key)
        total = 1
        if isinstance(node, SequenceNode):
            children: list[Node] = list(node.value)
        elif isinstance(node, MappingNode):
            children = [n for pair in node.value for n in pair]
        else:
            children = []
        for child in children:
            total += size(child)
            if total > limit:
                break
        visiting.discard(key)
        sizes[key] = total
        return total

    return size(root), reuses


def _problem(file: str, message: str, line: int = 1, col: int = 1) -> ManifestLoadError:
    return ManifestLoadError([Problem(file=file, line=line, column=col, path="", message=message)])


def parse_manifest_bytes(raw: bytes, file: str) -> LoadedManifest:
    if len(raw) > MAX_BYTES:
        raise _problem(file, f"file is {len(raw)} bytes; the limit is {MAX_BYTES}")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise _problem(file, f"not UTF-8 text (invalid byte at offset {e.start})") from None
    if "\x00" in text:
        raise _problem(file, "not a YAML text file (contains NUL bytes)")
    if not text.strip():
        raise _problem(file, "file is empty; expected a ContextManifest mapping")
    loader = _Loader(text)
    try:
        root = loader.get_single_node()
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        msg = " ".join(s for s in (e.context, e.problem) if s) or "invalid YAML"
        raise _problem(file, f"invalid YAML: {msg}", line, col) from None
    except yaml.YAMLError as e:
        raise _problem(file, f"invalid YAML: {e}") from None
    except RecursionError:
        raise _problem(file, "YAML nesting is too deep") from None
    finally:
        loader.dispose()
    if root is None:
        raise _problem(file, "file is empty (no YAML document); expected a ContextManifest mapping")
    if not isinstance(root, MappingNode):
        m = root.start_mark
        raise _problem(file, "top level must be a mapping (apiVersion, kind, metadata, spec)",
                       m.line + 1, m.column + 1)
    expanded, aliases = _expanded_size(root, MAX_NODES)
    if expanded > MAX_NODES:
        raise _problem(file, f"document expands to more than {MAX_NODES} nodes through aliases "
                             "(alias expansion limit)", root.start_mark.line + 1, 1)
    if aliases > MAX_ALIASES:
        raise _problem(file, f"more than {MAX_ALIASES} aliases (alias limit)", root.start_mark.line + 1, 1)
    builder = _Builder(file)
    data = builder.build(root, "")
    return LoadedManifest(path=file, raw=raw, data=data, marks=builder.marks)


def load_manifest_file(path: str | Path) -> LoadedManifest:
    p = Path(path)
    try:
        size = p.stat().st_size
        if size > MAX_BYTES:
            raise _problem(str(p), f"file is {size} bytes; the limit is {MAX_BYTES}")
        raw = p.read_bytes()
    except FileNotFoundError:
        raise _problem(str(p), "no such file") from None
    except IsADirectoryError:
        raise _problem(str(p), "is a directory; expected a .contextcore.yaml file") from None
    except PermissionError:
        raise _problem(str(p), "permission denied") from None
    return parse_manifest_bytes(raw, str(p))
