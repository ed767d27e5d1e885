"""A structural LogQL checker (no offline Loki validator exists; see shared/schemas/README).

Covers the subset our rules use and common hand-written rules: stream selectors,
line filters, parser and label-filter stages, range aggregations, vector
aggregations with by/without, binary operators and number literals. It reports
problems instead of raising, and `require_metric` rejects log queries where the
ruler needs a metric query.
"""

from __future__ import annotations

import re

_TOKEN = re.compile(r"""
    (?P<ws>\s+)|(?P<string>"(?:[^"\\]|\\.)*"|`[^`]*`)|(?P<duration>\[\d+(?:ms|s|m|h|d|w|y)\])|
    (?P<number>\d+(?:\.\d+)?(?:e[+-]?\d+)?)|(?P<op>\|=|\|~|!=|!~|=~|==|>=|<=|[|{}(),=<>+*/%^-])|
    (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
""", re.VERBOSE)
RANGE_AGGS = {"rate", "count_over_time", "bytes_rate", "bytes_over_time", "sum_over_time", "avg_over_time",
              "min_over_time", "max_over_time", "stddev_over_time", "stdvar_over_time", "quantile_over_time",
              "first_over_time", "last_over_time", "absent_over_time", "rate_counter"}
VECTOR_AGGS = {"sum", "avg", "min", "max", "count", "stddev", "stdvar", "topk", "bottomk", "sort", "sort_desc"}
PARSERS = {"json", "logfmt", "regexp", "pattern", "unpack", "line_format", "label_format", "unwrap", "drop",
           "keep", "decolorize"}
BINOPS = {"+", "-", "*", "/", "%", "^", ">", "<", ">=", "<=", "==", "!=", "and", "or", "unless"}


class LogQLError(Exception):
    pass


def _tokens(text: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m:
            raise LogQLError(f"unexpected character {text[pos]!r} at offset {pos}")
        pos = m.end()
        if m.lastgroup != "ws":
            out.append((m.lastgroup or "", m.group()))
    return out


class _Parser:
    def __init__(self, tokens: list[tuple[str, str]]):
        self.t, self.i = tokens, 0

    def peek(self, k: int = 0) -> tuple[str, str]:
        return self.t[self.i + k] if self.i + k < len(self.t) else ("eof", "")

    def take(self, value: str | None = None, kind: str | None = None) -> str:
        k, v = self.peek()
        if (value is not None and v != value) or (kind is not None and k != kind):
            raise LogQLError(f"expected {value or kind}, got {v or 'end of query'!r}")
        self.i += 1
        return v

    def string(self, regex: bool = False) -> None:
        raw = self.take(kind="string")
        if regex:
            body = raw[1:-1].encode().decode("unicode_escape") if raw[0] == '"' else raw[1:-1]
            try:
                re.compile(body)
            except re.error as e:
                raise LogQLError(f"invalid regular expression {raw}: {e}") from None

    def selector(self) -> None:
        self.take("{")
        if self.peek()[1] == "}":
            raise LogQLError("a stream selector needs at least one matcher")
        while True:
            self.take(kind="ident")
            op = self.take()
            if op not in ("=", "!=", "=~", "!~"):
                raise LogQLError(f"bad matcher operator {op!r}")
            self.string(regex=op in ("=~", "!~"))
            if self.peek()[1] == ",":
                self.take(",")
                continue
            self.take("}")
            return

    def pipeline(self) -> None:
        while True:
            v = self.peek()[1]
            if v in ("|=", "!=", "|~", "!~"):
                self.take()
                self.string(regex=v in ("|~", "!~"))
            elif v == "|":
                self.take("|")
                name = self.take(kind="ident")
                if name in PARSERS:
                    while self.peek()[0] in ("string", "ident") and self.peek()[1] not in BINOPS:
                        self.take()
                        if self.peek()[1] == ",":
                            self.take(",")
                else:  # label filter: label op value
                    op = self.take()
                    if op not in ("=", "!=", "=~", "!~", ">", "<", ">=", "<=", "=="):
                        raise LogQLError(f"bad label filter operator {op!r} after {name!r}")
                    if self.peek()[0] == "string":
                        self.string(regex=op in ("=~", "!~"))
                    else:
                        self.take(kind="number")
            else:
                return

    def log_query(self) -> None:
        self.selector()
        self.pipeline()

    def range_agg(self, name: str) -> None:
        self.take("(")
        if name == "quantile_over_time":  # quantile_over_time(0.99, {…} | unwrap x [5m])
            self.take(kind="number")
            self.take(",")
        self.log_query()
        self.take(kind="duration")
        self.take(")")
        self.grouping()  # unwrapped range aggregations may group: … [5m]) by (stage)

    def grouping(self) -> None:
        if self.peek()[1] in ("by", "without"):
            self.take()
            self.take("(")
            while self.peek()[1] != ")":
                self.take(kind="ident")
                if self.peek()[1] == ",":
                    self.take(",")
            self.take(")")

    def operand(self) -> bool:
        """Parses one operand; True when it is a metric query."""
        k, v = self.peek()
        if k == "number":
            self.take()
            return True
        if v == "(":
            self.take("(")
            metric = self.expr()
            self.take(")")
            return metric
        if v == "{":
            self.log_query()
            return False
        if v in RANGE_AGGS:
            self.take()
            self.range_agg(v)
            return True
        if v in VECTOR_AGGS:
            self.take()
            self.grouping()
            self.take("(")
            if v in ("topk", "bottomk"):
                self.take(kind="number")
                self.take(",")
            if not self.expr():
                raise LogQLError(f"{v}() needs a metric query inside, not a log query")
            self.take(")")
            self.grouping()
            return True
        raise LogQLError(f"unexpected {v or 'end of query'!r}")

    def expr(self) -> bool:
        metric = self.operand()
        while self.peek()[1] in BINOPS:
            self.take()
            if self.peek()[1] == "bool":
                self.take()
            if not self.operand() or not metric:
                raise LogQLError("binary operators need metric queries on both sides")
        return metric


def check_logql(query: str, require_metric: bool = False) -> list[str]:
    """Problems with a LogQL query; empty when it parses."""
    try:
        p = _Parser(_tokens(query))
        metric = p.expr()
        if p.peek()[0] != "eof":
            raise LogQLError(f"unexpected {p.peek()[1]!r} after the query")
    except LogQLError as e:
        return [f"LogQL: {e}"]
    if require_metric and not metric:
        return ["LogQL: a rule needs a metric query (e.g. rate(...[5m])), not a log query"]
    return []
