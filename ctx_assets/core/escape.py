"""Manifest values as data in every output language (issue 22).

Each output language has a way for text to become code: Prometheus and Alertmanager execute alert
labels and annotations as Go templates (`{{ … }}`), Markdown turns a line start into a heading or a
fence and `<…>` into HTML, YAML and JSON readers refuse some control characters. Generators put
free text from the manifest through these functions; quoting for PromQL/LogQL label values is
`units.matcher`, YAML scalars `yamlout._scalar`.
"""

from __future__ import annotations

import re

# C0 and C1 controls, DEL, and the Unicode line and paragraph separators (line breaks to YAML 1.1).
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\ufeff]")
_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>#|~!&{}])")


def go_template(text: str) -> str:
    """Text that a Go template (Prometheus alert labels and annotations, Alertmanager) prints as it is:
    every `{{` becomes the template action that prints `{{`. A lone `}}` is already plain text."""
    return text.replace("{{", '{{ "{{" }}') if "{{" in text else text


def go_template_printed(text: str) -> str:
    """What Prometheus prints for `go_template(text)` (promtool tests compare expanded annotations)."""
    return text.replace('{{ "{{" }}', "{{")


def one_line(text: str) -> str:
    """Control characters and line breaks as spaces: a value cannot start a line of its own."""
    return CONTROL.sub(" ", text)


def md_text(text: str) -> str:
    """Inline Markdown text: on one line, every character CommonMark could read as markup (headings,
    emphasis, links, HTML, code, tables, entities) backslash-escaped, so it renders as written."""
    return _MD_SPECIAL.sub(r"\\\1", one_line(str(text)))


def md_code(text: str) -> str:
    """An inline code span holding `text` literally (CommonMark: a backtick run longer than any in the
    text delimits it; no HTML or heading can open inside)."""
    body = one_line(str(text))
    longest = max((len(m) for m in re.findall(r"`+", body)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if body.startswith("`") or body.endswith("`") or not body.strip() else ""
    return f"{fence}{pad}{body}{pad}{fence}"


# DEL, the C1 controls, U+2028/2029, U+FEFF as UTF-8. Searched one pattern each: a pattern with a literal
# first byte is found at memchr speed, while their alternation scans byte by byte (0.4 s over a
# 1,000-target seed that holds an em dash); the alternation only replaces, once one was found.
_JSON_RAW_PARTS = tuple(re.compile(p) for p in
                        (rb"\x7f", rb"\xc2[\x80-\x9f]", rb"\xe2\x80[\xa8\xa9]", rb"\xef\xbb\xbf"))
_JSON_RAW = re.compile(b"|".join(rx.pattern for rx in _JSON_RAW_PARTS))


def json_controls(data: bytes) -> bytes:
    """JSON as orjson writes it, with DEL, the C1 controls, U+2028/2029 and U+FEFF as `\\u` escapes too
    (orjson escapes only below U+0020, as RFC 8259 requires; readers that are not strict JSON parsers,
    JavaScript before ES2019 among them, trip on the rest). Outside strings JSON is ASCII, so a byte
    substitution is exact. The common case (none) is found at memchr speed, one pattern at a time."""
    if not any(rx.search(data) for rx in _JSON_RAW_PARTS):
        return data
    return _JSON_RAW.sub(lambda m: b"\\u%04x" % ord(m.group().decode("utf-8")), data)


def yaml_double_quoted(json_literal: str) -> str:
    """A JSON string literal (json.dumps, ensure_ascii=False) made safe as a YAML double-quoted scalar:
    every character a YAML reader refuses or reads as a line break (DEL, C1, U+2028/2029, U+FEFF,
    non-characters) escaped; JSON already escaped the C0 controls."""
    if json_literal.isprintable():
        return json_literal
    return "".join(c if c.isprintable() else (f"\\u{ord(c):04x}" if ord(c) <= 0xFFFF else f"\\U{ord(c):08x}")
                   for c in json_literal)
