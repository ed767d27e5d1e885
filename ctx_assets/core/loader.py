"""Safe manifest loading that remembers where every value came from.

PyYAML's SafeLoader composes a node graph; we build plain Python values from
it ourselves so that (1) no tag beyond the YAML core schema is ever honoured,
(2) alias expansion is bounded (a "billion laughs" file stops after
MAX_NODES), and (3) every field path maps to its line and column.
"""

from __future__ import annotations

import errno
import math
import os
import stat
import sys
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
# ContextCore manifests nest ~6 deep; 64 leaves room for any extension section and keeps every recursive
# walk (ours, pydantic's) far from Python's recursion limit (depth 260-990 used to end in an internal error).
MAX_DEPTH = 64
MAX_KEY_CHARS = 256  # the longest field name a manifest needs is ~30; a 1 MB key is an attack
STDIN = "-"
_CORE = "tag:yaml.org,2002:"
_SCALAR_TAGS = {f"{_CORE}{t}" for t in ("str", "int", "float", "bool", "null", "timestamp")}
_MERGE = f"{_CORE}merge"


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
            merged = self.merged(node, path)
            out: dict[str, Any] = {}
            for key_node, value_node in node.value:
                if key_node.tag == _MERGE:
                    continue
                if isinstance(key_node, ScalarNode) and len(key_node.value) > MAX_KEY_CHARS:
                    raise self.fail(key_node, path, f"mapping key is {len(key_node.value):,} characters; "
                                                    f"the limit is {MAX_KEY_CHARS}")
                key = self.build(key_node, path + ".<key>")
                if not isinstance(key, str | int | float | bool) or key is None:
                    raise self.fail(key_node, path, "mapping keys must be scalars")
                key = str(key)
                child = f"{path}.{key}" if path else key
                if key in out:
                    raise self.fail(key_node, child, "duplicate key")
                out[key] = self.build(value_node, child)
            # YAML merge keys: the mapping's own keys override merged ones ({<<: *base, name: x} is valid)
            return {**{k: v for k, v in merged.items() if k not in out}, **out} if merged else out
        raise self.fail(node, path, "unsupported YAML node")

    def merged(self, node: MappingNode, path: str) -> dict[str, Any]:
        """The values `<<` merge into this mapping (YAML merge-key spec: of a list of mappings the
        earlier ones win). A merge of anything but a mapping or a list of mappings is a located error."""
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag != _MERGE:
                continue
            if isinstance(value_node, MappingNode):
                sources = [value_node]
            elif isinstance(value_node, SequenceNode) and all(isinstance(n, MappingNode) for n in value_node.value):
                sources = list(value_node.value)
            else:
                raise self.fail(value_node, path, "a merge key (<<) takes a mapping or a list of mappings "
                                                  "(an alias such as *base)")
            for source in reversed(sources):
                built = self.build(source, path)
                out.update(built)
        return out


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


def _too_deep(root: Node, limit: int) -> tuple[Node, bool] | None:
    """(the first node nested deeper than `limit`, reached again through an alias), or None. Iterative
    (no recursion to exhaust) over the shared node graph: a node is walked again only when reached
    deeper than before, so aliases cost at most `limit` visits each; a recursive alias ends here too."""
    best: dict[int, int] = {}
    stack: list[tuple[Node, int, bool]] = [(root, 1, False)]
    while stack:
        node, depth, again = stack.pop()
        if depth > limit:
            return node, again
        seen = best.get(id(node), 0)
        if seen >= depth:
            continue
        again = again or seen > 0
        best[id(node)] = depth
        if isinstance(node, SequenceNode):
            stack.extend((n, depth + 1, again) for n in node.value)
        elif isinstance(node, MappingNode):
            stack.extend((n, depth + 1, again) for pair in node.value for n in pair)
    return None


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
    deep = _too_deep(root, MAX_DEPTH)
    if deep is not None:
        m = deep[0].start_mark
        why = "through aliases (a recursive alias expands without end: alias expansion limit)" if deep[1] else \
            "(nesting limit)"
        raise _problem(file, f"nesting is deeper than {MAX_DEPTH} levels {why}", m.line + 1, m.column + 1)
    expanded, aliases = _expanded_size(root, MAX_NODES)
    if expanded > MAX_NODES:
        raise _problem(file, f"document expands to more than {MAX_NODES} nodes through aliases "
                             "(alias expansion limit)", root.start_mark.line + 1, 1)
    if aliases > MAX_ALIASES:
        raise _problem(file, f"more than {MAX_ALIASES} aliases (alias limit)", root.start_mark.line + 1, 1)
    builder = _Builder(file)
    try:
        data = builder.build(root, "")
    except yaml.MarkedYAMLError as e:  # a core-schema scalar the constructor refuses
        mark = e.problem_mark or e.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        raise _problem(file, f"invalid YAML: {' '.join(x for x in (e.context, e.problem) if x)}", line, col) from None
    return LoadedManifest(path=file, raw=raw, data=data, marks=builder.marks)


_KIND = {stat.S_IFIFO: "a FIFO (named pipe)", stat.S_IFCHR: "a character device", stat.S_IFBLK: "a block device",
         stat.S_IFSOCK: "a socket", stat.S_IFDIR: "a directory"}


def read_manifest(path: str | Path) -> bytes:
    """The manifest's bytes, read once, with the limits checked before reading: a regular file (a symlink
    to one is fine), at most MAX_BYTES as fstat says on the open file and as read; `-` is standard input,
    read once up to the same limit. A FIFO, a device (`/dev/zero`), a socket or a folder is refused
    without reading (opened non-blocking: a FIFO without a writer cannot hang us)."""
    name = str(path)
    if name == STDIN:
        raw = sys.stdin.buffer.read(MAX_BYTES + 1)
        if len(raw) > MAX_BYTES:
            raise _problem("<stdin>", f"standard input is more than {MAX_BYTES} bytes; the limit is {MAX_BYTES}")
        return raw
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | getattr(os, "O_CLOEXEC", 0))
    except OSError as e:
        reason = {errno.ENOENT: "no such file", errno.ELOOP: "symbolic link loop (too many levels of links)",
                  errno.EACCES: "permission denied", errno.ENOTDIR: "a parent of it is not a folder",
                  errno.ENAMETOOLONG: "file name too long", errno.ENXIO: "a socket or a FIFO without a writer; "
                  "ctx reads regular files (or - for standard input)"}.get(e.errno or 0, e.strerror or str(e))
        raise _problem(name, reason) from None
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode) or st.st_size > MAX_BYTES:
        os.close(fd)
        if st.st_size > MAX_BYTES and stat.S_ISREG(st.st_mode):
            raise _problem(name, f"file is {st.st_size} bytes; the limit is {MAX_BYTES}")
        what = _KIND.get(stat.S_IFMT(st.st_mode), "not a regular file")
        hint = "expected a .contextcore.yaml file" if stat.S_ISDIR(st.st_mode) else \
            "ctx reads regular files; to read a pipe use - (standard input)"
        raise _problem(name, f"is {what}; {hint}")
    with os.fdopen(fd, "rb", buffering=0) as f:
        chunks, size = [], 0
        while size <= MAX_BYTES:  # a file that grows while we read is cut at the limit, not followed
            chunk = f.read(min(1 << 20, MAX_BYTES + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    raw = b"".join(chunks)
    if len(raw) > MAX_BYTES:
        raise _problem(name, f"file is more than {MAX_BYTES} bytes; the limit is {MAX_BYTES}")
    return raw


def load_manifest_file(path: str | Path) -> LoadedManifest:
    raw = read_manifest(path)
    return parse_manifest_bytes(raw, "<stdin>" if str(path) == STDIN else str(path))
