"""Nothing of the secret corpus leaves the process (issue 10 item 2).

Every corpus secret is put into every manifest field that can reach an output (one manifest) and
into every field whose validation message quotes the value (another manifest). Then validate,
export, build, status and trace run as a user runs them, and stdout, stderr, the output folder,
the spans file, the logs and the Dagster home (SQLite files read as bytes) are searched for each
secret: zero hits. Two manifests, not one run per secret, keep this to a few builds.
"""

from __future__ import annotations

import copy
from pathlib import Path

import yaml

from ctx_assets.core.limits import DEFAULT_TEXT_LIMIT, TEXT_LIMITS

from .conftest import EXAMPLE, run_ctx
from .secret_corpus import CORPUS, WRAPPED

TEXTS = [t for items in CORPUS.values() for t, _ in items]
NEEDLES = [n for items in CORPUS.values() for _, n in items]
JOINED = " | ".join(TEXTS)
# Secrets a key name gives away (no pattern needed): `password: X` anywhere in the manifest.
KEYED = {"password": "plainliteral-" + "fake123", "apiKey": "keyliteral-" + "fake456"}
NEEDLES += list(KEYED.values())
# Base64-wrapped and split credentials (issue 22): each case's values side by side in one list.
NEEDLES += [n for _, needles in WRAPPED.values() for n in needles]


class _Rotation:
    """Hands out corpus texts in turn, each short enough for the field it goes into."""

    def __init__(self) -> None:
        self.i = 0

    def __call__(self, field: str, single_line: bool = False) -> str:
        limit = TEXT_LIMITS.get(field, DEFAULT_TEXT_LIMIT)
        if len(JOINED) <= limit and not single_line:
            return JOINED
        for _ in TEXTS:
            text = TEXTS[self.i % len(TEXTS)].replace("\n", " ")
            self.i += 1
            if len(text) <= limit:
                return text
        raise AssertionError(f"no corpus text fits {field}")


def _output_fields_manifest() -> dict:
    """Valid to the schema; a secret in every field that reaches an export, artifact or message."""
    pick = _Rotation()
    d = yaml.safe_load(EXAMPLE.read_text())
    d["spec"]["targets"] = d["spec"]["targets"][:1]
    d["metadata"]["owners"] = [{"team": pick("team"), "slack": pick("slack"), "email": pick("email"),
                                "oncall": pick("oncall")}]
    d["metadata"]["changelog"] = [{"date": "2025-01-01", "summary": pick("summary"), "actor": pick("actor")}]
    d["metadata"]["links"] = {**d["metadata"].get("links", {}), **{f"l{i}": t for i, t in enumerate(TEXTS)}}
    p = d["spec"]["project"]
    p.update(description=pick("description"), name=pick("name"), epic=pick("epic"))
    d["spec"]["business"].update(value=pick("value"), owner=pick("owner"), costCenter=pick("costCenter"),
                                 stakeholders=list(TEXTS))
    d["spec"]["risks"] = [{"type": "security", "description": pick("description"), "mitigation": pick("mitigation"),
                           "controls": list(TEXTS)}]
    d["spec"]["observability"].update(runbook=CORPUS["URL user-info"][0][0], logLevel=pick("logLevel"),
                                      alertChannels=[t.replace("\n", " ") for t in TEXTS])
    obj = d["strategy"]["objectives"][0]
    obj["description"] = pick("description")
    obj["keyResults"][0]["dataSource"] = pick("dataSource")
    d["strategy"]["tactics"] = [{"id": "T1", "description": pick("description"), "linkedObjectives": [obj["id"]]}]
    d["guidance"] = {"focus": pick("focus"), "constraints": [{"id": "C1", "rule": pick("rule"),
                                                              "rationale": pick("rationale"), "appliesTo": TEXTS}],
                     "questions": [{"id": "Q1", "question": pick("question"), "answer": pick("answer"),
                                    "status": "answered"}]}
    d["insights"] = [{"id": "I1", "summary": pick("summary"), "recommendedActions": TEXTS}]
    d["x-notes"] = {f"n{i}": t for i, t in enumerate(TEXTS)}
    d["x-config"] = dict(KEYED)
    d["x-wrapped"] = {case.replace(" ", "-"): values for case, (values, _) in WRAPPED.items()}
    return d


def _failing_fields_manifest() -> dict:
    """Every field whose validation message quotes its value holds the whole corpus."""
    one_line = JOINED.replace("\n", " ")
    d = yaml.safe_load(EXAMPLE.read_text())
    d["spec"]["targets"] = [{"kind": "Deployment", "name": one_line, "namespace": one_line}]
    d["spec"]["project"]["id"] = one_line
    d["spec"]["requirements"] = {"availability": one_line, "latencyP99": one_line}
    d["spec"]["observability"].update(metricsInterval=one_line, alertChannels=["pagerduty:" + one_line,
                                                                               "#" + one_line, "email:" + one_line])
    d["spec"]["business"]["criticality"] = one_line
    kr = d["strategy"]["objectives"][0]["keyResults"][0]
    kr.update(window=one_line, unit=one_line, target=one_line)
    d["strategy"]["tactics"] = [{"id": "T1", "description": "d", "linkedObjectives": [one_line]}]
    d["x-config"] = copy.deepcopy(KEYED)
    d["x-wrapped"] = {case.replace(" ", "-"): values for case, (values, _) in WRAPPED.items()}
    return d


def _leaks(where: str, data: bytes) -> list[str]:
    return [f"{where}: {n[:12]}…" for n in NEEDLES if n.encode() in data]


def test_no_corpus_secret_reaches_any_stream_file_span_or_the_dagster_home(tmp_path):
    home = tmp_path / ".ctx"
    env = {"CTX_HOME": str(home), "DAGSTER_HOME": str(home / "dagster"),
           "CTX_TRACE_FILE": str(home / "traces" / "spans.jsonl"), "OTEL_EXPORTER_OTLP_ENDPOINT": ""}
    out = tmp_path / "out"
    found: list[str] = []
    codes: dict[str, int] = {}

    def ctx(name: str, *args: str) -> None:
        r = run_ctx(*args, env=env)
        codes[name] = r.returncode
        assert "Traceback" not in r.stderr and "internal error" not in r.stderr, (name, r.stderr[-2000:])
        found.extend(_leaks(f"{name} stdout", r.stdout.encode()) + _leaks(f"{name} stderr", r.stderr.encode()))

    for label, data in (("outputs", _output_fields_manifest()), ("invalid", _failing_fields_manifest())):
        path = tmp_path / f"{label}.contextcore.yaml"
        path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
        assert all(n in path.read_text() for n in NEEDLES)  # the secrets really are in the manifest
        m = str(path)
        ctx(f"{label} validate", "validate", m)
        ctx(f"{label} validate --json", "validate", m, "--json")
        ctx(f"{label} export --json", "export", m, "--out", str(out), "--json")
        ctx(f"{label} export --artifacts", "export", m, "--artifacts", "--no-external", "--out", str(out), "--json")
        ctx(f"{label} build --json", "build", m, "--out", str(out), "--json")
        ctx(f"{label} build", "build", m, "--out", str(out))
        ctx(f"{label} status", "status", m, "--out", str(out))
        ctx(f"{label} status --json", "status", m, "--out", str(out), "--json")
        ctx(f"{label} trace", "trace", "--last", "--all-gates")
        ctx(f"{label} trace --json", "trace", "--last", "--json")

    # What the product had to do with them: refuse (secret gate) or reject (validation), never exit 0.
    # validate refuses what build refuses (the secret gate), with the field and never the value
    assert codes["outputs validate"] == codes["outputs validate --json"] == 1
    assert codes["outputs export --artifacts"] == codes["outputs build"] == codes["outputs status"] == 1
    assert codes["invalid validate"] == codes["invalid build"] == codes["invalid export --json"] == 2
    files = [f for root in (out, home) if root.exists() for f in root.rglob("*") if f.is_file()]
    assert (home / "traces" / "spans.jsonl").stat().st_size > 0
    assert any(f.suffix == ".db" for f in files), "the Dagster home holds its SQLite storage"
    for f in files:
        found += _leaks(str(f.relative_to(tmp_path)), f.read_bytes())
    assert found == []


def test_secret_gate_message_names_the_field_and_kind_only(tmp_path):
    data = yaml.safe_load(EXAMPLE.read_text())
    text, needle = CORPUS["Google API key"][0]
    data["spec"]["project"]["description"] = f"call it with {text}"
    path = Path(tmp_path / "m.yaml")
    path.write_text(yaml.safe_dump(data))
    r = run_ctx("export", str(path), "--out", str(tmp_path / "out"))
    assert r.returncode == 1
    assert "spec.project.description: value looks like a credential (Google API key)" in r.stderr
    assert needle not in r.stderr
