"""The secret scan: every kind of the corpus is caught and redacted, look-alikes are not, and the
example and test manifests produce no false positive (issue 10)."""

from __future__ import annotations

import json
import sys

import pytest
import yaml

from ctx_assets.core import secret_rules, secrets
from ctx_assets.core.secrets import REDACTED, find, redact, redact_text, scan_text, scrub

from .conftest import EXAMPLE, MINIMAL, ROOT, manifest_with_targets, write_manifest
from .prose_corpus import PROSE
from .secret_corpus import CORPUS, NEGATIVES, WRAPPED

CASES = [(kind, i) for kind, items in CORPUS.items() for i in range(len(items))]


def test_corpus_covers_every_rule_kind():
    assert set(CORPUS) == set(secret_rules.rules()), "every rule kind has corpus cases, and only those"


@pytest.mark.parametrize(("kind", "i"), CASES, ids=[f"{k}-{i}" for k, i in CASES])
def test_corpus_kind_is_detected_and_redacted_everywhere_it_can_sit(kind, i):
    text, needle = CORPUS[kind][i]
    assert kind in {f.kind for f in find(text)}
    for context in (text, f"note for on-call: {text} (rotate it)", json.dumps({"description": text}),
                    yaml.safe_dump({"spec": {"project": {"description": text}}})):
        cleaned = redact_text(context)
        assert needle not in cleaned and REDACTED in cleaned, context
        found = scan_text(context.encode(), "out.txt")
        assert found and all(needle not in v.message for v in found)
    cleaned, violations = redact({"risks": [{"description": f"see {text}"}]})
    assert cleaned["risks"][0]["description"] == REDACTED
    assert violations[0].field == "risks[0].description" and kind in violations[0].message
    assert needle not in violations[0].message


@pytest.mark.parametrize("text", NEGATIVES)
def test_look_alikes_do_not_trip(text):
    assert find(text) == [], text
    assert redact({"value": text}) == ({"value": text}, [])


@pytest.mark.parametrize("key", ["password", "secret", "token", "apiKey", "api_key", "clientSecret"])
def test_secret_field_names_with_literals_are_redacted(key):
    cleaned, found = redact({key: "plainvalue"})
    assert found and cleaned[key] == REDACTED and key in found[0].message


@pytest.mark.parametrize("value", ["vault:secret/data/x", "env:PAGERDUTY_KEY", "${SLACK_WEBHOOK}"])
def test_references_in_secret_fields_are_fine(value):
    assert redact({"token": value, "url": value})[1] == []


def test_slack_webhook_hint_names_api_url_file():
    text, needle = CORPUS["Slack webhook URL"][0]
    _, found = redact({"alertChannels": [text]})
    assert "api_url_file" in found[0].message and needle not in found[0].message


def test_scrub_reaches_keys_values_and_nesting():
    text, needle = CORPUS["GitHub token"][0]
    out = json.dumps(scrub({"gates": [{"violations": [{"message": text}]}], text: (text,)}))
    assert needle not in out


def test_clean_large_export_never_runs_a_rule(monkeypatch, tmp_path):
    """The prefilter is what keeps the scan cheap on megabyte exports: no anchor, no rule at all."""
    from ctx_assets.core.pipeline import export_and_plan

    run = export_and_plan(write_manifest(tmp_path / "m.yaml", manifest_with_targets(200)), None, write=False)
    assert not run.blocked and sum(len(b) for b in run.files.values()) > 1_000_000

    def boom():
        raise AssertionError("a rule ran on clean output")

    monkeypatch.setattr(secrets, "rules", boom)
    for rel, data in run.files.items():
        assert scan_text(data, rel) == []


def test_detect_secrets_is_not_imported_for_clean_input():
    code = ("import sys; from ctx_assets.core.secrets import redact_text; redact_text('job=\"api\" ok'); "
            "print('detect_secrets' in sys.modules)")
    import subprocess

    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert r.stdout.strip() == "False", r.stderr


def _manifests(tmp_path) -> dict[str, object]:
    """Every example and test manifest: the shipped examples (the v1.1 one migrated), the init
    template, the test suite's minimal and generated manifests."""
    from ctx_assets.core.init_template import render_template
    from ctx_assets.core.migrate import migrate_file

    found: dict[str, object] = {}
    for path in sorted((ROOT / "examples").glob("*.yaml")):
        data = yaml.safe_load(path.read_text())
        if data.get("apiVersion") == "contextcore.io/v1alpha1":
            text, _, problems = migrate_file(str(path), "migrated.yaml", "2025-01-01")
            assert not problems
            data = yaml.safe_load(text)
        found[path.name] = data
    found["init template"] = yaml.safe_load(render_template("my-svc", "x.yaml", "2025-01-01"))
    found["MINIMAL"] = MINIMAL
    found["manifest_with_targets(40)"] = manifest_with_targets(40)
    return found


def test_false_positive_count_over_every_example_and_test_manifest(tmp_path, capsys):
    """Builds every output file of every example and test manifest and counts secret_scan hits."""
    from ctx_assets.core.pipeline import build_without_orchestrator

    false_positives: list[str] = []
    manifests = _manifests(tmp_path)
    for name, data in manifests.items():
        path = write_manifest(tmp_path / "m.yaml", data)  # type: ignore[arg-type]
        run = build_without_orchestrator(path, None, write=False)
        assert not run.problems, (name, run.problems)
        false_positives += [f"{name}: {v.field}: {v.message}" for g in run.all_gates()
                            if g.gate == "secret_scan" for v in g.violations]
    with capsys.disabled():
        print(f"\nsecret scan false positives over {len(manifests)} example and test manifests "
              f"(every output file): {len(false_positives)}")
    assert false_positives == []
    assert EXAMPLE.name in manifests


def test_one_pass_prefilter_flags_exactly_the_texts_a_per_text_scan_flags():
    """`suspects` scans many texts in one automaton pass (telemetry's 250,000 strings a build): it must
    flag every text whose own scan would find an anchor, and no neighbour because of a match that
    straddles two texts."""
    corpus = [text for items in CORPUS.values() for text, _ in items]
    texts = [*corpus, *NEGATIVES, "", "gh", "p_abc", "pass", "ed", "svc-0001-dashboard", "-----", "ü√ñ"]
    flagged = secrets.suspects(texts)
    own = {i for i, t in enumerate(texts) if secrets._AUTOMATON.find_matches_as_indexes(
        t.encode("utf-8", "replace").lower(), overlapping=True) or secrets._CASED.find_matches_as_indexes(
        t.encode("utf-8", "replace"), overlapping=True)}
    assert flagged == own
    assert {i for i, t in enumerate(texts) if find(t)} <= flagged  # every real secret is among them
    assert texts.index("gh") not in flagged and texts.index("p_abc") not in flagged  # "gh" + "p_abc" ≠ "ghp_"


def test_span_exporter_redacts_secrets_in_any_span_string_and_passes_clean_spans_untouched(monkeypatch):
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult
    from opentelemetry.trace import Status, StatusCode

    from ctx_assets.telemetry import providers as telemetry
    from ctx_assets.telemetry.providers import RedactingExporter

    rebuilt: list[str] = []
    real = telemetry.redacted_span
    monkeypatch.setattr(telemetry, "redacted_span", lambda s: rebuilt.append(s.name) or real(s))
    text, needle = CORPUS["GitHub token"][0]
    got: list = []

    class Keep(SpanExporter):
        def export(self, spans):
            got.extend(spans)
            return SpanExportResult.SUCCESS

    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(RedactingExporter(Keep())))
    tracer = provider.get_tracer("t")
    clean = tracer.start_span("artifact svc-0001-dashboard", attributes={"gate.result": "passed"})
    clean.end()
    for where in ("attribute", "event", "status", "list"):
        span = tracer.start_span("artifact svc-0002-dashboard", attributes={"gate.name": "secret_scan"})
        if where == "attribute":
            span.set_attribute("gate.violation.0.message", f"found {text}")
        elif where == "event":
            span.add_event("gate.validation", {"gate.violation.0.message": f"found {text}"})
        elif where == "status":
            span.set_status(Status(StatusCode.ERROR, f"failed: {text}"))
        else:
            span.set_attribute("values", ["ok", text])
        span.end()
    assert got[0].name == "artifact svc-0001-dashboard" and len(rebuilt) == 4  # the clean span is not rebuilt
    for span in got[1:]:
        strings = [span.name, span.status.description or "", *map(str, span.attributes.values()),
                   *(str(v) for e in span.events for v in e.attributes.values())]
        assert not any(needle in s for s in strings) and any(REDACTED in s for s in strings), strings


def test_scrub_returns_a_clean_value_itself_and_redacts_inside_a_copy_otherwise():
    clean = {"artifacts": [{"id": "svc-0001-dashboard", "gates": ["passed"]}], "ok": True}
    assert scrub(clean) is clean  # a 10,000-target summary is not copied
    text, needle = CORPUS["GitHub token"][0]
    dirty = {"artifacts": [{"id": "a", "note": f"see {text}"}], text: 1}
    cleaned = scrub(dirty)
    assert needle not in json.dumps(cleaned) and needle in json.dumps(dirty)  # the input is left as it was


def test_json_output_larger_than_one_write_is_whole_and_redacted(capsys):
    """`--json` is written ~1 MB at a time through the redacting stdout: the document must come out
    whole, and a credential in it redacted."""
    from ctx_assets.cli.common import print_json as _print_json

    text, needle = CORPUS["GitHub token"][0]
    doc = {"rows": [{"id": f"svc-{i:05d}", "result": "passed"} for i in range(40_000)], "note": text}
    _print_json(doc)
    out = capsys.readouterr().out
    assert len(out) > 2 << 20 and needle not in out
    got = json.loads(out)
    assert got["rows"] == doc["rows"] and got["note"] == REDACTED


def test_json_output_is_what_the_standard_library_writes(capsys):
    """`--json` is encoded by orjson for speed, and must stay the document json.dumps(indent=2) wrote before
    (scripts and golden files diff it): non-ASCII as \\u escapes, pairs beyond the BMP, empty containers."""
    from ctx_assets.cli.common import print_json as _print_json

    doc = {"ok": True, "n": 7, "ratio": 0.25, "none": None, "empty": [], "nothing": {},
           "names": ["café", "Zürich – 東京", "emoji 🚀", "tab\tquote\"back\\slash"],
           "rows": [{"id": "a", "nested": {"deep": [1, 2.5, False]}}]}
    _print_json(doc)
    assert capsys.readouterr().out == json.dumps(doc, indent=2) + "\n"


# --- issue 22: kinds it did not know, wrapped and split credentials, prose ----------------------------------

@pytest.mark.parametrize("case", sorted(WRAPPED))
def test_wrapped_and_split_credentials_are_redacted_with_every_value_they_touch(case):
    values, needles = WRAPPED[case]
    doc = {"spec": {"risks": [{"type": "security", "description": "before", "mitigation": "after"}],
                    "notes": {f"n{i}": v for i, v in enumerate(values)}}}
    cleaned, violations = redact(doc)
    assert all(v == REDACTED for v in cleaned["spec"]["notes"].values()), cleaned
    assert cleaned["spec"]["risks"][0] == doc["spec"]["risks"][0]  # the neighbours that hold no part stay
    assert {v.field for v in violations} == {f"spec.notes.n{i}" for i in range(len(values))}
    text = json.dumps(cleaned) + " ".join(v.message for v in violations)
    assert not any(n in text for n in needles)
    if len(values) == 1:  # a base64-wrapped credential: every text path redacts it too
        assert redact_text(f"note: {values[0]} end") == f"note: {REDACTED} end"


def test_split_detection_leaves_ordinary_neighbours_alone():
    doc = {"owners": [{"team": "payments", "slack": "#payments-oncall", "email": "pay@example.com"}],
           "tactics": [{"id": "T1", "description": "password reset flow"}, {"id": "T2", "description": "rotated"}],
           "notes": ["token", "bucket of 500", "secret", "managed by platform"]}
    assert redact(doc) == (doc, [])


def test_prose_corpus_false_positives_under_one_in_fifty(capsys):
    """Ordinary operational prose about credentials (tests/prose_corpus.py, the issue's flagged texts
    included): the scan flags under 2 % of it."""
    flagged = [t for t in PROSE if find(t)]
    with capsys.disabled():
        print(f"\nsecret scan false positives on {len(PROSE)} prose texts: {len(flagged)} {flagged}")
    assert len(PROSE) >= 100
    assert len(flagged) * 50 < len(PROSE), flagged
    for t in PROSE[:10]:  # the texts the reliability run saw flagged: none of them
        assert not find(t), t


def test_prose_in_a_manifest_is_not_glued_to_the_fields_after_it():
    """The split scan joins the values of one object only: the flagged texts, written as a risk's mitigation
    of the example manifest (a user's first try), are not read together with the unrelated values that
    follow them in the document (controls, targets, channels) as one long token."""
    for text in PROSE[:10]:
        doc = yaml.safe_load(EXAMPLE.read_text())
        doc["spec"]["risks"][0]["mitigation"] = text
        assert redact(doc)[1] == [], text


def test_new_kinds_match_detect_secrets_plugins_where_it_has_one():
    """npm (.npmrc form), PyPI and SendGrid values are found by detect-secrets' own plugin patterns too."""
    from detect_secrets.plugins.npm import NpmDetector
    from detect_secrets.plugins.pypi_token import PypiTokenDetector
    from detect_secrets.plugins.sendgrid import SendGridDetector

    for kind, plugin in (("PyPI token", PypiTokenDetector), ("SendGrid API key", SendGridDetector)):
        for text, _ in CORPUS[kind]:
            assert any(p.search(text) for p in plugin.denylist), kind
    assert any(p.search(CORPUS["npm token"][1][0]) for p in NpmDetector.denylist)
