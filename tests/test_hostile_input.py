"""Hostile values stop at `ctx validate`: exit 2, FILE:LINE:COL, nothing written (issue 10).

Every hostile value from the issue is a case here, plus the neighbours each rule exists for."""

from __future__ import annotations

import copy
import re

import pytest
import yaml

from ctx_assets.core.limits import TEXT_LIMITS
from ctx_assets.core.loader import MAX_INT_DIGITS, ManifestLoadError, parse_manifest_bytes
from ctx_assets.core.units import matcher, metric_name

from .conftest import MINIMAL, run_ctx, write_manifest

_KR = {"id": "O1", "description": "d", "keyResults": [{"metricKey": "availability", "unit": "%", "target": 99.9}]}


def _with(mutate) -> dict:
    data = copy.deepcopy(MINIMAL)
    mutate(data)
    return data


def _kr(**fields):
    return lambda d: d.update(strategy={"objectives": [{**_KR, "keyResults": [{**_KR["keyResults"][0], **fields}]}]})


# case -> (manifest text, field path the problem must name, words the message must contain)
HOSTILE: dict[str, tuple[str, str, list[str]]] = {
    "promql_injection_namespace": (yaml.safe_dump(_with(lambda d: d["spec"]["targets"][0].update(
        namespace='x"} or vector(1) #'))), "spec.targets[0].namespace", ["DNS label"]),
    "path_traversal_namespace": (yaml.safe_dump(_with(lambda d: d["spec"]["targets"][0].update(
        namespace="../../etc"))), "spec.targets[0].namespace", ["DNS label"]),
    "uppercase_namespace": (yaml.safe_dump(_with(lambda d: d["spec"]["targets"][0].update(namespace="Shop"))),
                            "spec.targets[0].namespace", ["DNS label"]),
    "injection_project_id": (yaml.safe_dump(_with(lambda d: d["spec"].update(project={"id": 'p"} or 1'}))),
                             "spec.project.id", ["DNS label"]),
    "nan_target": (yaml.safe_dump(_with(_kr())).replace("target: 99.9", "target: .nan"),
                   "strategy.objectives[0].keyResults[0].target", ["not a finite number"]),
    "inf_baseline": (yaml.safe_dump(_with(_kr(baseline=1.0))).replace("baseline: 1.0", "baseline: -.inf"),
                     "strategy.objectives[0].keyResults[0].baseline", ["not a finite number"]),
    "nan_trace_sampling": (yaml.safe_dump(_with(lambda d: d["spec"].update(observability={"traceSampling": 0.5})))
                           .replace("0.5", ".NaN"), "spec.observability.traceSampling", ["not a finite number"]),
    "huge_integer": (yaml.safe_dump(_with(lambda d: d.update(state={"count": 1}))).replace("count: 1",
                     "count: " + "9" * 5000), "state.count", ["5000 digits", f"limit is {MAX_INT_DIGITS}"]),
    "percent_over_100": (yaml.safe_dump(_with(_kr(target=150))), "strategy.objectives[0].keyResults[0].target",
                         ["out of range", "0 to 100"]),
    "negative_rate": (yaml.safe_dump(_with(_kr(metricKey="throughput", unit="rps", target=-5))),
                      "strategy.objectives[0].keyResults[0].target", ["out of range"]),
    "absurd_latency": (yaml.safe_dump(_with(lambda d: d["spec"].update(requirements={"latencyP99": "99999999h"}))),
                       "spec.requirements.latencyP99", ["at most 1h"]),
    "one_mb_description": (yaml.safe_dump(_with(lambda d: d["spec"].update(project={"description": "x" * 1_048_576}))),
                           "spec.project.description", ["1,048,576 characters", f"limit for description is "
                                                        f"{TEXT_LIMITS['description']:,}"]),
    "long_unknown_section_text": (yaml.safe_dump(_with(lambda d: d.update(notes={"free": "y" * 100_000}))),
                                  "notes.free", ["100,000 characters", "limit for free is 8,192"]),
    "channel_with_newline": (yaml.safe_dump(_with(lambda d: d["spec"].update(observability={
        "alertChannels": ["ops\nroute: evil"]}))), "spec.observability.alertChannels[0]", ["control characters"]),
    "malformed_pagerduty_channel": (yaml.safe_dump(_with(lambda d: d["spec"].update(observability={
        "alertChannels": ["pagerduty:../../keys"]}))), "spec.observability.alertChannels[0]",
        ["pagerduty channel", "pagerduty:NAME"]),
    "empty_channel": (yaml.safe_dump(_with(lambda d: d["spec"].update(observability={"alertChannels": [" "]}))),
                      "spec.observability.alertChannels[0]", ["non-empty"]),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_value_stops_at_validate_with_location(tmp_path, case):
    text, path, words = HOSTILE[case]
    f = tmp_path / "hostile.contextcore.yaml"
    f.write_text(text)
    r = run_ctx("validate", str(f))
    assert r.returncode == 2, r.stdout + r.stderr
    assert "Traceback" not in r.stderr and "internal error" not in r.stderr
    line = next(x for x in r.stderr.splitlines() if f": {path}: " in x)
    assert re.match(rf"{re.escape(str(f))}:\d+:\d+: {re.escape(path)}: ", line), line
    for w in words:
        assert w in line, line
    assert [p.name for p in tmp_path.iterdir()] == ["hostile.contextcore.yaml"]  # nothing written


@pytest.mark.parametrize("case", ["promql_injection_namespace", "huge_integer", "one_mb_description"])
def test_hostile_value_writes_no_bundle(tmp_path, case):
    f = tmp_path / "hostile.contextcore.yaml"
    f.write_text(HOSTILE[case][0])
    out = tmp_path / "out"
    r = run_ctx("export", str(f), "--artifacts", "--no-external", "--out", str(out))
    assert r.returncode == 2 and not out.exists(), r.stderr


def test_location_points_at_the_value():
    text = HOSTILE["nan_target"][0]
    with pytest.raises(ManifestLoadError) as e:
        parse_manifest_bytes(text.encode(), "m.yaml")
    (p,) = e.value.problems
    line = text.splitlines()[p.line - 1]
    assert line[p.column - 1:].startswith(".nan")


def test_description_at_its_limit_still_builds(tmp_path):
    """The text limits sit below what the size gates allow, so a valid manifest never fails them later."""
    from ctx_assets.core.pipeline import build_without_orchestrator

    data = _with(lambda d: d["spec"].update(project={"description": "word " * (TEXT_LIMITS["description"] // 5)},
                                            risks=[{"type": "availability", "description": "r" * 2000,
                                                    "mitigation": "m" * 1000}] * 5))
    run = build_without_orchestrator(write_manifest(tmp_path / "m.yaml", data), None, write=False)
    assert not run.problems and not run.blocked, [g for g in run.all_gates() if not g.ok]


def test_free_text_is_escaped_where_it_reaches_a_query():
    assert matcher("job", 'a"} or vector(1) #') == 'job="a\\"} or vector(1) #"'
    assert matcher("app", "x\\") == 'app="x\\\\"'
    assert metric_name("latency.p99") == "latency_p99" and metric_name("9 lives") == "_9_lives"


def test_kpi_metric_key_reaches_promql_as_a_valid_name(tmp_path):
    from ctx_assets.core.pipeline import build_without_orchestrator

    data = _with(lambda d: d.update(strategy={"objectives": [{"id": "O", "description": "d", "keyResults": [
        {"metricKey": "checkout.conversion rate", "unit": "count", "target": 3}]}]}))
    run = build_without_orchestrator(write_manifest(tmp_path / "m.yaml", data), None, write=False)
    # A key result without a query is drawn as text, not as an unrecorded `kpi:` series (issue 19); wherever
    # its key does reach a query, it is the sanitized metric name, never the raw text.
    texts = [a.content.decode() for a in run.artifacts] + [
        v.decode() if isinstance(v, bytes) else str(v) for v in run.files.values()]
    assert not any("checkout.conversion rate{" in t or "checkout.conversion rate[" in t for t in texts)
    assert all("kpi:checkout" not in t or "kpi:checkout_conversion_rate" in t for t in texts)


# --- issue 22: input limits before reading, and every validation path ends in exit 2 ----------------------

_BASE = yaml.safe_dump(MINIMAL, sort_keys=False)
LIMITS: dict[str, tuple[str, str, list[str]]] = {
    # case -> (manifest text, field path or "" for the file, words the message must contain)
    "flow_nesting_500": (_BASE + "x-deep: " + "[" * 500 + "]" * 500 + "\n", "", ["nesting limit"]),
    "block_nesting_300": (_BASE + "x-deep:\n" + "".join("  " * (i + 1) + f"k{i}:\n" for i in range(300))
                          + "  " * 301 + "v\n", "", ["nesting limit"]),
    "merge_of_a_scalar": (_BASE + "x-merge:\n  <<: 5\n", "x-merge", ["merge key"]),
    "impossible_date": (_BASE.replace("name: mini", "name: mini\n  lastUpdated: 2026-13-45"),
                        "metadata.lastUpdated", ["not a valid date", "month"]),
    "impossible_changelog_date": (_BASE.replace("name: mini", "name: mini\n  changelog: [{date: 2026-02-30, "
                                                "summary: s}]"), "metadata.changelog[0].date", ["not a valid date"]),
    # an explicit key (`? K`): libyaml itself refuses implicit keys over 1,024 characters
    "one_mb_key": (_BASE + "x-keys:\n  ? " + "k" * 1_048_576 + "\n  : 1\n", "x-keys", ["mapping key is 1,048,576",
                                                                                  "limit is 256"]),
}


@pytest.mark.parametrize("case", sorted(LIMITS))
def test_input_limits_exit_2_with_a_located_line(tmp_path, case):
    text, path, words = LIMITS[case]
    f = tmp_path / "m.contextcore.yaml"
    f.write_text(text)
    r = run_ctx("validate", str(f))
    assert r.returncode == 2, r.stdout + r.stderr[-2000:]
    assert "Traceback" not in r.stderr and "internal error" not in r.stderr
    prefix = rf"{re.escape(str(f))}:(\d+):(\d+): " + (rf"{re.escape(path)}: " if path else "")
    line = next(x for x in r.stderr.splitlines() if re.match(prefix, x))
    assert int(re.match(prefix, line).group(1)) > 1 or case == "merge_of_a_scalar", line  # where it is, not 1:1
    for w in words:
        assert w in line, line


def test_merge_key_override_is_valid_and_own_keys_win():
    text = _BASE + "x-t: &t {a: 1, name: base}\nx-o: {<<: *t, name: own}\nx-l: {<<: [{a: first}, {a: second, b: 2}]}\n"
    data = parse_manifest_bytes(text.encode(), "m.yaml").data
    assert data["x-o"] == {"a": 1, "name": "own"}
    assert data["x-l"] == {"a": "first", "b": 2}  # of a list of mappings the earlier one wins (YAML merge spec)


def _not_regular(tmp_path, kind: str):
    import os

    target = tmp_path / "m.contextcore.yaml"
    if kind == "symlink to /dev/zero":
        target.symlink_to("/dev/zero")
    elif kind == "fifo without a writer":
        os.mkfifo(target)
    elif kind == "symlink loop":
        (tmp_path / "other").symlink_to(target)
        target.symlink_to(tmp_path / "other")
    elif kind == "folder":
        target.mkdir()
    return target


@pytest.mark.parametrize("kind,words", [("symlink to /dev/zero", ["character device", "use -"]),
                                        ("fifo without a writer", ["FIFO"]),
                                        ("symlink loop", ["symbolic link loop"]),
                                        ("folder", ["is a directory"])])
def test_only_regular_files_are_read(tmp_path, kind, words):
    """/dev/zero used to be read until memory ran out and a FIFO hung forever: refused before reading.
    (The subprocess timeout turns a hang into a failure, it is not a timing assert.)"""
    f = _not_regular(tmp_path, kind)
    r = run_ctx("validate", str(f), timeout=120)
    assert r.returncode == 2, r.stderr
    line = r.stderr.splitlines()[0]
    assert line.startswith(f"{f}:1:1: ") and all(w in line for w in words), line


def test_stdin_is_read_once_with_dash_and_a_pipe_path_is_refused_with_the_hint(tmp_path):
    import subprocess
    import sys

    from .conftest import ROOT

    text = yaml.safe_dump(MINIMAL)
    r = subprocess.run([sys.executable, "-m", "ctx_assets.cli", "validate", "-"], input=text, cwd=ROOT,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and "valid (1 target" in r.stdout, r.stderr
    r = subprocess.run([sys.executable, "-m", "ctx_assets.cli", "validate", "/dev/stdin"], input=text, cwd=ROOT,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "use - (standard input)" in r.stderr, r.stderr
    assert "file is empty" not in r.stderr


def test_size_cap_is_checked_on_the_open_file_before_reading(tmp_path, monkeypatch):
    from ctx_assets.core import loader

    f = tmp_path / "m.contextcore.yaml"
    f.write_text(yaml.safe_dump(MINIMAL))
    monkeypatch.setattr(loader, "MAX_BYTES", 10)
    with pytest.raises(ManifestLoadError) as e:
        loader.read_manifest(f)
    assert "limit is 10" in e.value.problems[0].message


def test_migrate_with_a_mistyped_field_is_exit_2_located(tmp_path):
    f = tmp_path / "v1.yaml"
    f.write_text("apiVersion: contextcore.io/v1alpha1\nkind: ProjectContext\nmetadata: {name: x}\n"
                 "spec: {targets: [{kind: Deployment, name: api, namespace: shop}]}\n"
                 "strategies: [{id: S1, objectiveRefs: 5, tactics: [{id: T1}]}]\n")
    r = run_ctx("migrate", str(f), "--out", str(tmp_path / "v2.yaml"))
    assert r.returncode == 2 and "internal error" not in r.stderr, r.stderr
    assert f"{f}:5:" in r.stderr and "strategies[0].objectiveRefs must be a list" in r.stderr
    assert not (tmp_path / "v2.yaml").exists()


def test_internal_error_has_its_own_exit_code_and_a_json_error_object(monkeypatch, capsys):
    import json

    from ctx_assets import cli
    from ctx_assets.cli import validate

    def bug(args):
        raise KeyError("a bug")

    monkeypatch.setattr(validate, "cmd_validate", bug)  # the parser imports the command's module when it runs
    assert cli.main(["validate", "x.yaml", "--json"]) == cli.EXIT_INTERNAL == 4
    out, err = capsys.readouterr()
    doc = json.loads(out)
    assert doc == {"ok": False, "error": "internal error: KeyError: 'a bug'", "internal": True, "exit_code": 4}
    assert err.startswith("ctx: internal error: KeyError") and cli.EXIT_GATE_FAILED != cli.EXIT_INTERNAL
