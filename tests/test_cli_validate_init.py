"""`ctx validate` and `ctx init` through a subprocess, as a user runs them."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import EXAMPLE, MINIMAL, run_ctx, write_manifest
from .test_loader import BOMB


def _assert_clean_error(r, *needles: str) -> None:
    assert r.returncode == 2, r.stdout + r.stderr
    assert "Traceback" not in r.stderr
    for n in needles:
        assert n in r.stderr, r.stderr


def test_validate_example():
    r = run_ctx("validate", str(EXAMPLE))
    assert r.returncode == 0, r.stderr
    assert "valid (11 targets" in r.stdout


def test_validate_json():
    r = run_ctx("validate", str(EXAMPLE), "--json")
    assert r.returncode == 0
    assert json.loads(r.stdout)["valid"] is True


def test_validate_minimal_and_extra_sections(tmp_path):
    data = copy.deepcopy(MINIMAL)
    assert run_ctx("validate", str(write_manifest(tmp_path / "m.yaml", data))).returncode == 0
    data.update(insights=[{"id": "I1", "type": "risk", "summary": "s", "confidence": 1, "source": "x"}],
                state={"syncStatus": "synced"}, security={"sbom": True},
                strategy={"strategyGroups": [{"id": "G", "horizon": "now"}]})
    r = run_ctx("validate", str(write_manifest(tmp_path / "x.yaml", data)))
    assert r.returncode == 0, r.stderr


def _bad(tmp_path, mutate):
    data = copy.deepcopy(MINIMAL)
    mutate(data)
    return write_manifest(tmp_path / "bad.yaml", data)


BAD_MUTATIONS = {
    "no_spec": (lambda d: d.pop("spec"), ["spec: required field is missing"]),
    "empty_targets": (lambda d: d["spec"].update(targets=[]), ["spec.targets", "at least one target"]),
    "criticality": (lambda d: d["spec"].update(business={"criticality": "urgent"}),
                    ["spec.business.criticality"]),
    "duplicate_targets": (lambda d: d["spec"]["targets"].append(dict(d["spec"]["targets"][0])),
                          ["spec.targets[1].name", "duplicate"]),
    "escaping_target": (lambda d: d["spec"]["targets"][0].update(name="../../x"),
                        ["spec.targets[0].name", "safe file name"]),
    "availability_ms": (lambda d: d.update(strategy={"objectives": [{"id": "O", "description": "d",
                        "keyResults": [{"metricKey": "availability", "unit": "ms", "target": 1}]}]}),
                        ["strategy.objectives[0].keyResults[0].unit", "'%'"]),
    "tactic_missing_objective": (lambda d: d.update(strategy={"tactics": [
        {"id": "T", "description": "d", "linkedObjectives": ["O-NOPE"]}]}),
        ["strategy.tactics[0].linkedObjectives[0]", "O-NOPE"]),
}


@pytest.mark.parametrize("case", sorted(BAD_MUTATIONS))
def test_validate_bad_manifest(tmp_path, case):
    mutate, needles = BAD_MUTATIONS[case]
    path = _bad(tmp_path, mutate)
    before = sorted(p.name for p in tmp_path.iterdir())
    r = run_ctx("validate", str(path))
    _assert_clean_error(r, f"{path}:", *needles)
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # nothing written


BAD_FILES = {
    "invalid_yaml": (b"spec: [1\n", "invalid YAML"),
    "empty": (b"", "empty"),
    "list_top_level": (b"- a\n- b\n", "top level must be a mapping"),
    "python_tag": (b'x: !!python/object/apply:os.system ["echo pwned"]\n', "not allowed"),
    "alias_bomb": (BOMB, "alias expansion limit"),
    "binary": (bytes(range(256)) * 8, "not UTF-8"),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_validate_bad_file(tmp_path, case):
    raw, needle = BAD_FILES[case]
    path = tmp_path / "bad.yaml"
    path.write_bytes(raw)
    r = run_ctx("validate", str(path))
    _assert_clean_error(r, needle)
    assert [p.name for p in tmp_path.iterdir()] == ["bad.yaml"]


def test_validate_reports_all_problems_at_once(tmp_path):
    def mutate(d):
        d["spec"]["targets"][0]["name"] = "Bad_Name"
        d["spec"]["business"] = {"criticality": "nope"}
    r = run_ctx("validate", str(_bad(tmp_path, mutate)))
    _assert_clean_error(r, "spec.targets[0].name", "spec.business.criticality", "2 problems")


def test_missing_file_and_bad_arguments(tmp_path):
    _assert_clean_error(run_ctx("validate", str(tmp_path / "nope.yaml")), "no such file")
    assert run_ctx("frobnicate").returncode == 2


def test_init_writes_valid_template_and_refuses_overwrite(tmp_path):
    target = tmp_path / "my-svc" / ".contextcore.yaml"
    r = run_ctx("init", str(target))
    assert r.returncode == 0, r.stderr
    assert "Next steps" in r.stdout and "ctx build" in r.stdout and "ctx validate" in r.stdout
    text = target.read_text()
    for section in ("changelog", "summary:", "targets:", "requirements:", "risks:", "observability:",
                    "dashboardPlacement", "links:", "targetOperator", "window:", "questions:"):
        assert section in text, section
    assert "name: my-svc" in text
    assert run_ctx("validate", str(target)).returncode == 0
    r = run_ctx("init", str(target))
    _assert_clean_error(r, "--force")
    assert target.read_text() == text
    assert run_ctx("init", str(target), "--force", "--name", "other").returncode == 0
    assert "name: other" in target.read_text()


def _next_steps(stdout: str) -> dict[str, str]:
    """{'validate': the command line printed for it, ...} from `ctx init`'s next steps."""
    steps = {}
    for line in stdout.splitlines():
        cmd = line.split("#")[0].strip()
        if cmd[:2].rstrip(".").isdigit() and " validate " in cmd:
            steps["validate"] = cmd.split(". ", 1)[1]
    return steps


@pytest.mark.parametrize("how", ["module", "script", "on PATH"])
def test_init_next_steps_run_as_printed(tmp_path, how):
    """Whether ctx ran as `python -m ctx_assets.cli`, as `.venv/bin/ctx` or as `ctx` on PATH, the printed
    commands run in the same shell and folder (a bare `ctx` is not on PATH after `make run`)."""
    bin_dir = Path(sys.executable).parent
    path = os.pathsep.join(p for p in os.environ.get("PATH", "").split(os.pathsep)
                           if p and Path(p).resolve() != bin_dir.resolve())
    if how == "on PATH":
        path = f"{bin_dir}{os.pathsep}{path}"
    argv = [sys.executable, "-m", "ctx_assets.cli"] if how == "module" else [str(bin_dir / "ctx")]
    env = {**os.environ, "PATH": path}
    r = subprocess.run([*argv, "init", "svc/.contextcore.yaml"], cwd=tmp_path, env=env, capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    validate = _next_steps(r.stdout)["validate"]
    assert validate.startswith("ctx validate ") == (how == "on PATH"), validate
    done = subprocess.run(validate, shell=True, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "valid (1 target," in done.stdout, (validate, done.stderr)


FAKE_AWS_KEY = "AKIAIOSFODNN7EXAMPLQ"


def _with_credential(tmp_path):
    data = copy.deepcopy(MINIMAL)
    data["spec"]["targets"].append({"kind": "Deployment", "name": "web", "namespace": "shop"})
    data["spec"]["risks"] = [{"type": "security", "description": "leaked keys", "priority": "P1",
                              "mitigation": f"rotate key {FAKE_AWS_KEY} weekly"}]
    return write_manifest(tmp_path / "cred.contextcore.yaml", data)


def test_validate_refuses_a_credential_as_build_would_with_the_field_and_no_value(tmp_path):
    path = _with_credential(tmp_path)
    r = run_ctx("validate", str(path))
    assert r.returncode == 1, r.stderr  # as `ctx build` exits on a failed blocking gate
    line = next(x for x in r.stderr.splitlines() if "spec.risks[0].mitigation" in x)
    assert line.startswith(f"{path}:") and "(gate secret_scan)" in line
    file_line, col = (int(x) for x in line[len(str(path)) + 1:].split(":")[:2])
    text = path.read_text().splitlines()
    assert "mitigation" in text[file_line - 1] and col > 1  # located at the field in the file
    assert "blocks the whole project" in r.stderr
    assert FAKE_AWS_KEY not in r.stdout + r.stderr
    j = run_ctx("validate", str(path), "--json")
    assert j.returncode == 1 and FAKE_AWS_KEY not in j.stdout
    body = json.loads(j.stdout)
    assert body["valid"] is False and [g["gate"] for g in body["gates"]] == ["secret_scan"]
    assert body["gates"][0]["violations"][0]["field"] == "spec.risks[0].mitigation"
    schema_only = run_ctx("validate", str(path), "--no-gates")
    assert schema_only.returncode == 0 and "schema only" in schema_only.stdout


def test_validate_runs_the_artifact_gates_build_would_run(tmp_path, monkeypatch, capfd):
    """An artifact gate that fails (a broken PromQL expr for one target) fails validate, naming the artifact."""
    from ctx_assets.cli import main

    from .conftest import registry_breaking_prometheus_rule

    monkeypatch.setattr("ctx_assets.core.artisan.registry", lambda: registry_breaking_prometheus_rule("api"))
    path = write_manifest(tmp_path / "m.contextcore.yaml", copy.deepcopy(MINIMAL))
    assert main(["validate", str(path)]) == 1
    err = capfd.readouterr().err
    assert "gate artifact_schema [api-prometheus-rule]" in err and "blocks those artifacts' targets" in err
    assert main(["validate", str(path), "--no-gates"]) == 0
