"""What every command shares: exit codes, the one-line error, JSON output, gate lines, where ctx is."""

from __future__ import annotations

import re
import shlex
import shutil
import sys
from pathlib import Path

import orjson

from ctx_assets.contracts.gates import GateResult
from ctx_assets.core.secrets import scrub

EXIT_OK = 0
EXIT_GATE_FAILED = 1
EXIT_INVALID_INPUT = 2
EXIT_ENVIRONMENT = 3
EXIT_INTERNAL = 4  # a bug in ctx: never shared with a failed gate (1), so scripts can tell them apart


class CliError(Exception):
    """A user-facing error: printed as one line, no traceback."""

    def __init__(self, message: str, code: int = EXIT_INVALID_INPUT):
        super().__init__(message)
        self.code = code


def print_json(obj: object) -> None:
    """`obj` as json.dumps(obj, indent=2) writes it (non-ASCII as \\u escapes), encoded by orjson: the
    standard library's indenting encoder is pure Python, ~0.3 s of a 1,000-target `ctx status --json`.
    Written ~1 MB at a time, cut at line ends: stdout redacts each write, and indented JSON keeps every
    string on one line, so a write never splits a secret (the values are scrubbed before, too)."""
    text = orjson.dumps(scrub(obj), option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS).decode()
    if not text.isascii():
        text = _NON_ASCII.sub(_escaped, text)
    pos, chunk = 0, 1 << 20
    while len(text) - pos > chunk:
        cut = text.find("\n", pos + chunk) + 1 or len(text)
        sys.stdout.write(text[pos:cut])
        pos = cut
    sys.stdout.write(text[pos:] + "\n")


_NON_ASCII = re.compile(r"[^\x00-\x7f]")


def _escaped(m: re.Match[str]) -> str:
    """A non-ASCII character as json's ensure_ascii writes it (a surrogate pair beyond the BMP)."""
    c = ord(m.group())
    if c <= 0xFFFF:
        return f"\\u{c:04x}"
    c -= 0x10000
    return f"\\u{0xD800 | (c >> 10):04x}\\u{0xDC00 | (c & 0x3FF):04x}"


def print_gates(gates: list[GateResult], only_failed: bool = False) -> None:
    for g in gates:
        if only_failed and g.result == "passed":
            continue
        where = f" [{g.artifact_id}]" if g.artifact_id else ""
        print(f"  gate {g.gate}{where}: {g.result}" + (" (blocking)" if g.blocks else ""), file=sys.stderr)
        for v in g.violations:
            print(f"    - {v.field}: {v.message}", file=sys.stderr)


def invalid_manifest(path: str | Path, as_json: bool) -> int | None:
    """Validate before anything is written (no instance, span or log line for an invalid manifest): exit 2
    with every problem, or None when the manifest is valid."""
    from ctx_assets.core.validate import validate_file

    _, _, problems = validate_file(str(path))
    if not problems:
        return None
    for p in problems:
        print(p, file=sys.stderr)
    if as_json:
        print_json({"ok": False, "problems": [p.model_dump() for p in problems]})
    return EXIT_INVALID_INPUT


def project_id(path: str | Path) -> str | None:
    from ctx_assets.core.validate import validate_file

    _, model, _ = validate_file(str(path))  # memoized: the file was just validated
    return model.project_id if model else None


def prepare_out(out: Path, project: str | None) -> None:
    """Before a run writes into `out`: refuse a folder that holds another project's bundle (exit 2), claim an
    existing one for this project, and remove temp files killed writers left behind. A folder that does not
    exist yet is not made here: a run that writes nothing (a blocked gate) leaves nothing (claim_written)."""
    from ctx_assets.core.fsio import sweep_leftover_temps

    if project is None or not out.is_dir():
        return
    claim_written(out, project)
    sweep_leftover_temps(out)


def claim_written(out: Path, project: str | None) -> None:
    """Record that `out` holds `project`'s bundle, once something was written there."""
    from ctx_assets.core.fsio import OwnedByAnotherProject, claim

    if project is None or not out.is_dir():
        return
    try:
        claim(out, project)
    except OwnedByAnotherProject as e:
        raise CliError(str(e)) from e


def out_for(path: str | Path, out: str | None) -> Path:
    """--out, else `$CTX_OUT`, else `out/<metadata.name>`."""
    from ctx_assets.core.bundle_dir import default_out

    return Path(out or default_out(path))


def ctx_command() -> str:
    """`ctx` as it runs from the current folder: `ctx` when that is this program on PATH, else this
    program's path (`.venv/bin/ctx`), else `python -m ctx_assets.cli` with this interpreter."""
    argv0 = Path(sys.argv[0])
    script = argv0 if argv0.name == "ctx" else Path(sys.executable).with_name("ctx")
    found = shutil.which("ctx")
    if script.is_file() and found and Path(found).resolve() == script.resolve():
        return "ctx"
    if script.is_file():
        return _as_typed(script)
    return f"{_as_typed(Path(sys.executable))} -m ctx_assets.cli"


def _as_typed(path: Path) -> str:
    """A program path a shell runs from here: relative below the current folder, else absolute."""
    full = path.absolute()
    try:
        shown = str(full.relative_to(Path.cwd()))
    except ValueError:
        shown = str(full)
    return shlex.quote(shown if "/" in shown else f"./{shown}")
