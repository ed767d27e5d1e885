"""Secret detection and the one redaction path.

A secret is never written anywhere. At the manifest boundary `redact` replaces
every credential-looking value by REDACTED and reports it as a violation of the
secret_scan gate (which blocks the build); `scan_text` checks every output file
again. Everything else that leaves the process — validation messages, gate
violations, log lines, span attributes and events, `--json`, `ctx status` /
`ctx trace`, Dagster metadata — passes `redact_text` (or `scrub`, the same
function mapped over a JSON-like value). The rules are in secret_rules.py.
References such as `vault:path`, `env:NAME`, `${VAR}` or `secretRef:` are not secrets.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from ahocorasick_rs import BytesAhoCorasick

from ctx_assets.contracts.gates import Violation

from .secret_rules import ANCHORS, CASED_ANCHORS, TOKEN_TAIL, WORD_CONTEXT_KINDS, is_reference, rules

REDACTED = "[REDACTED]"
GENERIC_KIND = "high-entropy credential"  # named only when no specific rule matched the same text
_SECRET_KEY_RE = re.compile(
    r"^(password|passwd|pwd|secret|client_?secret|token|api_?key|apikey|access_?key|private_?key|"
    r"auth_?token|routing_?key|bearer|credentials?)$", re.IGNORECASE)
_LITERALS = list(ANCHORS)
_AUTOMATON = BytesAhoCorasick(_LITERALS)
_CONFIRM = [[(rx if callable(rx) else re.compile(rx) if rx else None, kinds) for rx, kinds in ANCHORS[lit]]
            for lit in _LITERALS]
_CASED_LITERALS = list(CASED_ANCHORS)
_CASED = BytesAhoCorasick(_CASED_LITERALS)
_CASED_CONFIRM = [[(re.compile(rx), kinds) for rx, kinds in CASED_ANCHORS[lit]] for lit in _CASED_LITERALS]
_PEM_END = re.compile(r"-----END [A-Z0-9 ]*PRIVATE KEY[A-Z ]*-----|---- END SSH2 ENCRYPTED PRIVATE KEY ----")
# How to reference a secret instead, by kind; the default suits any manifest field.
_HINTS = {
    "Slack webhook URL": "give the channel as '#channel' and put the webhook URL in the file Alertmanager reads "
                         "through slack_configs api_url_file (see the generated alertmanager config)",
    "Discord webhook URL": "put the webhook URL in a file Alertmanager reads through webhook_configs url_file",
    "Microsoft Teams webhook URL": "put the webhook URL in a file Alertmanager reads through msteams_configs "
                                   "webhook_url_file",
}
_DEFAULT_HINT = "reference it instead (vault:PATH, env:NAME or a secretRef)"


@dataclass(frozen=True)
class Finding:
    kind: str
    start: int
    end: int


def _kinds(raw: bytes) -> set[str]:
    """The kinds whose anchors occur in the bytes (the cheap prefilter): most anchors in the lowercased
    bytes, a few as written (CASED_ANCHORS)."""
    low = raw.lower()
    kinds: set[str] = set()
    for index, start, _ in _AUTOMATON.find_matches_as_indexes(low, overlapping=True):
        for rx, ks in _CONFIRM[index]:
            if not kinds.issuperset(ks) and (rx is None or (rx(low, start) if callable(rx) else rx.match(low, start))):
                kinds.update(ks)
    for index, start, _ in _CASED.find_matches_as_indexes(raw, overlapping=True):
        for rx, ks in _CASED_CONFIRM[index]:
            if not kinds.issuperset(ks) and rx.match(raw, start):
                kinds.update(ks)
    return kinds


def _pem_block(text: str, at: int) -> tuple[int, int]:
    start = text.rfind("-----", 0, at)
    start = start if start >= 0 and at - start < 8 else at
    end = _PEM_END.search(text, at)
    return start, end.end() if end else len(text)


def _find(text: str, kinds: set[str]) -> list[Finding]:
    table = rules()
    found: list[Finding] = []
    for kind in sorted(kinds):
        for rule in table.get(kind, ()):
            for m in rule.pattern.finditer(text):
                start, end = m.span(rule.group)
                if start < 0:
                    continue
                if rule.whole_block:
                    start, end = _pem_block(text, m.start())
                elif rule.extend:
                    end = TOKEN_TAIL.match(text, end).end()  # type: ignore[union-attr]
                secret = text[start:end]
                if is_reference(secret) or secret == REDACTED or (rule.check and not rule.check(secret)):
                    continue
                found.append(Finding(kind, start, end))
    return _merged(found)


def _merged(found: list[Finding]) -> list[Finding]:
    found.sort(key=lambda f: (f.start, -f.end))
    merged: list[Finding] = []
    for f in found:  # overlapping findings become one span (the first specific kind names it)
        if merged and f.start < merged[-1].end:
            last = merged[-1]
            kind = f.kind if last.kind == GENERIC_KIND and f.kind != GENERIC_KIND else last.kind  # the specific name
            merged[-1] = Finding(kind, last.start, max(last.end, f.end))
        else:
            merged.append(f)
    return merged


# A run of base64 (standard or URL-safe) long enough to wrap a credential, with upper and lower case
# letters (checksums and ids are one case); decoded, it is scanned like any text (issue 22).
_B64_RUN = re.compile(r"(?<![A-Za-z0-9+/_-])(?=[A-Za-z0-9+/_-]*[a-z])(?=[A-Za-z0-9+/_-]*[A-Z])"
                      r"[A-Za-z0-9+/_-]{20,}={0,2}(?![A-Za-z0-9+/=_-])")


def _decoded(run: str) -> str | None:
    body = run.rstrip("=")
    padded = body + "=" * (-len(body) % 4)
    try:
        raw = base64.b64decode(padded.replace("-", "+").replace("_", "/"), validate=True)
        text = raw.decode("utf-8")
    except (binascii.Error, ValueError):
        return None
    return text if text and sum(c.isprintable() or c in "\n\t" for c in text) >= 0.95 * len(text) else None


def _wrapped(text: str, depth: int) -> list[Finding]:
    """Base64 runs whose decoded text holds a credential (nested once: base64 of base64)."""
    out = []
    for m in _B64_RUN.finditer(text):
        inner = _decoded(m.group())
        if inner is None:
            continue
        found = find(inner, depth + 1) if depth < 2 else []
        if found:
            out.append(Finding(f"base64-encoded {found[0].kind.removeprefix('base64-encoded ')}", m.start(), m.end()))
    return out


def find(text: str, _depth: int = 0) -> list[Finding]:
    """Every credential in `text`, as non-overlapping spans (base64-wrapped ones too)."""
    kinds = _kinds(text.encode("utf-8", "replace"))
    found = _find(text, kinds) if kinds else []
    wrapped = _wrapped(text, _depth) if len(text) >= 20 else []
    if not wrapped:
        return found
    return _merged(found + wrapped)


def scan_value(value: str) -> str | None:
    """The kind of secret a string contains, or None."""
    if is_reference(value):
        return None
    found = find(value)
    return found[0].kind if found else None


def suspects(texts: Sequence[str]) -> set[int]:
    """Indexes of the texts that may hold a credential: the prefilter over all of them in one automaton
    pass (NUL-separated; no anchor holds a NUL, so no match spans two texts). One pass instead of one per
    string matters for telemetry: ~250,000 span strings a 1,000-target build, each call a GIL round trip."""
    encoded = [t.encode("utf-8", "replace") for t in texts]
    starts, pos = [], 0
    for e in encoded:
        starts.append(pos)
        pos += len(e) + 1
    blob = b"\0".join(encoded)
    hits = [*_AUTOMATON.find_matches_as_indexes(blob.lower(), overlapping=True),
            *_CASED.find_matches_as_indexes(blob, overlapping=True)]
    return {bisect.bisect_right(starts, start) - 1 for _, start, _ in hits}


def redact_text(text: str) -> str:
    """THE redaction: every credential in `text` replaced by REDACTED. Everything that leaves the
    process (messages, logs, spans, metadata, --json) goes through here."""
    if not isinstance(text, str) or not text:
        return text
    found = find(text)
    if not found:
        return text
    out, pos = [], 0
    for f in found:
        out += [text[pos:f.start], REDACTED]
        pos = f.end
    out.append(text[pos:])
    return "".join(out)


def scrub(obj: Any) -> Any:
    """`redact_text` applied to every string (keys included) of a JSON-like value. The value itself
    when nothing changes (the common case): a 10,000-target `--json` summary holds ~3 million strings,
    ~300,000 distinct, prefiltered in one pass, and is not copied."""
    found: set[str] = set()
    _strings(obj, found)
    changed = redactions(found)
    return _replaced(obj, changed) if changed else obj


def redactions(texts: Iterable[str]) -> dict[str, str]:
    """{text: its redaction} for the distinct texts that redaction changes (usually none), found by one
    prefilter pass over them (`suspects`)."""
    distinct = list(set(texts))
    return {t: r for t in (distinct[i] for i in suspects(distinct)) if (r := redact_text(t)) != t}


def _strings(obj: Any, out: set[str]) -> None:
    if isinstance(obj, str):
        out.add(obj)
    elif isinstance(obj, dict):
        for k, v in obj.items():
            _strings(k, out)
            _strings(v, out)
    elif isinstance(obj, list | tuple):
        for v in obj:
            _strings(v, out)


def _replaced(obj: Any, changed: dict[str, str]) -> Any:
    if isinstance(obj, str):
        return changed.get(obj, obj)
    if isinstance(obj, dict):
        return {_replaced(k, changed): _replaced(v, changed) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return type(obj)(_replaced(v, changed) for v in obj)
    return obj


class RedactingStream:
    """A text stream whose every write passes `redact_text`: `ctx` wraps stdout and stderr with it, so no
    message, table, tree or traceback it prints can carry a credential."""

    def __init__(self, inner: Any):
        self._inner = inner

    def write(self, text: str) -> int:
        self._inner.write(redact_text(text))
        return len(text)

    def __getattr__(self, name: str) -> Any:  # flush, isatty, encoding, fileno, ...
        return getattr(self._inner, name)


def hint(kind: str) -> str:
    return _HINTS.get(kind, _DEFAULT_HINT)


def _leaves(obj: Any, path: str, out: list[tuple[str, str]]) -> None:
    if isinstance(obj, dict):
        for k, v in obj.items():
            _leaves(v, f"{path}.{k}" if path else str(k), out)
    elif isinstance(obj, list | tuple):
        for i, v in enumerate(obj):
            _leaves(v, f"{path}[{i}]", out)
    elif isinstance(obj, str) and obj and obj != REDACTED:
        out.append((path, obj))


def split_credentials(obj: Any, path: str = "") -> dict[str, str]:
    """{field path: kind} for credentials split across neighbouring string values (`sk_live_` in one
    field, the rest in the next; `password:` and its value in two): the values in document order are
    scanned joined directly (a token cut in two) and with a space (kinds found by the words around a value
    only so: a field boundary is a word boundary); a finding that crosses a boundary, or that only the
    previous value's words make one, names every value it touches. A credential inside one value is
    `redact`'s own business."""
    leaves: list[tuple[str, str]] = []
    _leaves(obj, path, leaves)
    hits: dict[str, str] = {}
    if len(leaves) < 2:
        return hits
    alone: dict[int, bool] = {}

    def own(i: int) -> bool:
        if i not in alone:
            alone[i] = bool(find(leaves[i][1]))
        return alone[i]

    for sep in ("", " "):
        starts, pos = [], 0
        for _, v in leaves:
            starts.append(pos)
            pos += len(v) + len(sep)
        blob = sep.join(v for _, v in leaves)
        for f in find(blob):
            if not sep and f.kind in WORD_CONTEXT_KINDS:
                continue  # glued without a space, the values after "per-tenant" read as one long token
            first = bisect.bisect_right(starts, f.start) - 1
            last = bisect.bisect_right(starts, f.end - 1) - 1
            if first == last:  # within one value: its own credential, or one its neighbour's words make
                if first == 0 or own(first):
                    continue
                first -= 1  # the context (`password:`) is in the value before
            elif any(own(i) for i in range(first, last + 1)):
                continue  # a value's own credential, its match run on into the next value
            for i in range(first, last + 1):
                hits.setdefault(leaves[i][0], f.kind)
    return hits


def redact(obj: Any, path: str = "") -> tuple[Any, list[Violation]]:
    """A copy of `obj` with every secret-holding string replaced by REDACTED (whole value: a value
    that holds a credential is not trusted in part), and one violation per value found; values that
    hold a credential only together with their neighbour (`split_credentials`) too."""
    found: list[Violation] = []
    split = split_credentials(obj, path)

    def walk(o: Any, p: str, key: str | None) -> Any:
        if isinstance(o, dict):
            return {k: walk(v, f"{p}.{k}" if p else str(k), str(k)) for k, v in o.items()}
        if isinstance(o, list | tuple):
            return [walk(v, f"{p}[{i}]", None) for i, v in enumerate(o)]
        if isinstance(o, str) and o and o != REDACTED:
            if key and _SECRET_KEY_RE.match(key) and not is_reference(o):
                found.append(Violation(field=p, message=f"field {key!r} holds a literal secret value; "
                                                        f"{_DEFAULT_HINT}"))
                return REDACTED
            kind = scan_value(o)
            if kind:
                found.append(Violation(field=p, message=f"value looks like a credential ({kind}); {hint(kind)}"))
                return REDACTED
            if p in split:
                found.append(Violation(field=p, message=f"value is part of a credential split across neighbouring "
                                                        f"fields ({split[p]}); {_DEFAULT_HINT}"))
                return REDACTED
        return o

    return walk(obj, path, None), found


def scan_text(data: str | bytes, where: str) -> list[Violation]:
    """Credentials in serialised output (defence in depth after redaction). Large exports are
    prefiltered as bytes: one lowercase copy and a literal search per anchor."""
    raw = data if isinstance(data, bytes) else data.encode("utf-8", "replace")
    kinds = _kinds(raw)
    if not kinds:
        return []
    text = data if isinstance(data, str) else data.decode("utf-8", "replace")
    return [Violation(field=where, message=f"output contains a credential ({f.kind}) at line "
                                           f"{text.count(chr(10), 0, f.start) + 1}")
            for f in _find(text, kinds)]
