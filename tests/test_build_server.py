"""The warm build process (ctx_assets/build/server.py): `ctx build` hands its command to it once one is up,
and what the user sees — output, exit code, bundle — is what a build in the user's own process gives.

These tests turn it on (CTX_BUILD_SERVER=1; tests/conftest.py turns it off for every other test) and stop
every process they started.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from ctx_assets.build import server
from ctx_assets.settings import settings

from .conftest import ROOT, run_ctx
from .dagster_env import edit, small_manifest
from .support.servers import wait_for, warm_build_pid

pytestmark = pytest.mark.slow


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {"CTX_HOME": str(tmp_path / ".ctx"), "DAGSTER_HOME": str(tmp_path / ".ctx" / "dagster"),
            "CTX_TRACE_FILE": str(tmp_path / ".ctx" / "spans.jsonl"), "CTX_BUILD_SERVER": "1", **extra}


def _socket(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Path:
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    return server.socket_path()


def _alive(pid: int) -> bool:
    """Running (an exited process nobody reaped yet, a zombie, is not)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def _served(env: dict[str, str], command: str = "build") -> list[str]:
    """The warm process's log lines of the `ctx <command>`s it answered."""
    log = Path(env["CTX_HOME"]) / "logs" / "build-server.log"
    return [line for line in log.read_text().splitlines() if f" ctx {command} " in line] if log.exists() else []


def _warm_process(folder: Path) -> Iterator[dict]:
    """A built 3-target bundle whose build, in the user's own process, left a warm process, ready (its
    socket answers); stopped (SIGTERM) at the end."""
    env = _env(folder)
    manifest, out = small_manifest(folder), folder / "out"
    first = run_ctx("build", str(manifest), "--out", str(out), env=env)
    assert first.returncode == 0, first.stderr[-2000:]
    with pytest.MonkeyPatch.context() as mp:
        path = _socket(env, mp)
    pid = wait_for("the warm build process to listen", lambda: warm_build_pid(path), 60, every=0.2)
    assert _served(env) == []  # the first build ran in the user's process and started the warm one
    state = {"env": env, "manifest": manifest, "out": out, "path": path, "pid": pid}
    yield state
    with contextlib.suppress(ProcessLookupError):
        os.kill(state["pid"], signal.SIGTERM)  # a test may have replaced the process
    wait_for("the warm process to end and remove its socket", lambda: not path.exists(), 30, every=0.2)


@pytest.fixture(scope="module")
def warm(tmp_path_factory):
    """One warm process for the tests that only ask it to build (each adds its own lines to its log)."""
    yield from _warm_process(tmp_path_factory.mktemp("warm"))


@pytest.fixture
def own_warm(tmp_path):
    """A warm process of the test's own (one the test ends)."""
    yield from _warm_process(tmp_path)


def test_a_warm_process_builds_an_edit_as_the_users_own_process_would(warm, tmp_path):
    env, manifest, out = warm["env"], warm["manifest"], warm["out"]
    served = len(_served(env))
    # the twin: the same two builds, both in the user's own process, in a home of their own
    twin_env, twin_out = _env(tmp_path / "twin", CTX_BUILD_SERVER="0"), tmp_path / "twin-out"
    assert run_ctx("build", str(manifest), "--out", str(twin_out), env=twin_env).returncode == 0
    edit(manifest, lambda d: d["spec"]["targets"][1].update(namespace="edited"))
    r = run_ctx("build", str(manifest), "--out", str(out), env=env)
    assert r.returncode == 0, r.stderr[-2000:]
    assert len(_served(env)) == served + 1 and " exit 0 in " in _served(env)[-1]  # through the warm process
    # what the user sees: the progress on stderr, the table and the trace line on stdout
    assert f"ctx build {manifest} -> {out}" in r.stderr and "stage artisan" in r.stderr
    assert "materialized 7 artifacts" in r.stdout and "trace: " in r.stdout
    # its spans are in this home's trace file (the client's environment), written before it answered
    trace_id = r.stdout.split("trace: ", 1)[1].split()[0]
    last = run_ctx("trace", "--last", env=env)
    assert last.returncode == 0 and last.stdout.splitlines()[0] == f"trace {trace_id}", last.stdout[:500]
    assert "artifact" in last.stdout
    twin = run_ctx("build", str(manifest), "--out", str(twin_out), env=twin_env)
    assert twin.returncode == 0 and "materialized 7 artifacts" in twin.stdout, twin.stderr[-2000:]
    # the same bundle, byte for byte (provenance.json names its runs and times: the export folder aside)
    ours, theirs = _files(out), _files(twin_out)
    assert len(ours) >= 21 and ours == theirs
    # status answers through the warm process too, exactly as in the user's own process; a no-op build
    # then finds nothing to rebuild
    for flags in ([], ["--json", "--verbose"]):
        warm_status = run_ctx("status", str(manifest), "--out", str(out), *flags, env=env)
        own_status = run_ctx("status", str(manifest), "--out", str(out), *flags, env={**env, "CTX_BUILD_SERVER": "0"})
        assert warm_status.returncode == own_status.returncode == 0, warm_status.stderr[-2000:]
        assert (warm_status.stdout, warm_status.stderr) == (own_status.stdout, own_status.stderr)
    assert len(_served(env, "status")) == 2
    again = run_ctx("build", str(manifest), "--out", str(out), env=env)
    assert again.returncode == 0 and "nothing to rebuild" in again.stderr


def _files(out: Path) -> dict[Path, bytes]:
    return {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file() and "export" not in p.parts}


def test_failures_and_usage_errors_come_back_with_their_exit_codes(warm):
    env, manifest, out = warm["env"], warm["manifest"], warm["out"]
    served = len(_served(env))
    edit(manifest, lambda d: d["metadata"]["links"].update(repository="https://ci:t0ps3cretpw@git.example.com/x"))
    r = run_ctx("build", str(manifest), "--out", str(out), env=env)
    assert r.returncode == 1 and "FAILED gate secret_scan" in r.stderr, r.stderr[-2000:]
    assert "t0ps3cretpw" not in r.stdout + r.stderr  # the one redaction path holds in the warm process
    r = run_ctx("build", str(manifest), "--bogus", env=env)
    assert r.returncode == 2 and "unrecognized arguments: --bogus" in r.stderr
    r = run_ctx("build", str(manifest), "--out", str(out), "--targets", "nope", env=env)
    assert r.returncode == 2 and "unknown target(s): nope" in r.stderr
    assert [line.rsplit(" exit ", 1)[1].split()[0] for line in _served(env)[served:]] == ["1", "2", "2"]
    assert warm_build_pid(warm["path"]) == warm["pid"]  # still the same process, still serving


def test_a_relative_out_is_the_clients_own_folder(warm, tmp_path):
    """One warm process, two working directories, the same relative --out: each bundle in its own folder."""
    env, served = warm["env"], len(_served(warm["env"]))
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        manifest = small_manifest(tmp_path / name)
        edit(manifest, lambda d, n=name: d["spec"]["targets"][0].update(namespace=f"in-{n}"))
        r = run_ctx("build", "m.contextcore.yaml", "--out", "bundle", cwd=tmp_path / name, env=env)
        assert r.returncode == 0, r.stderr[-2000:]
    assert len(_served(env)) == served + 2  # both through the warm process
    for name in ("a", "b"):
        rules = (tmp_path / name / "bundle" / "prometheus" / "rules" / "svc-0000-prometheus-rules.yaml").read_text()
        assert f"namespace: in-{name}" in rules
        assert f"namespace: in-{'b' if name == 'a' else 'a'}" not in rules


def test_ctrl_c_stops_the_build_and_the_warm_process_and_keeps_the_bundle(own_warm, tmp_path):
    warm = own_warm
    env, manifest, out = warm["env"], warm["manifest"], warm["out"]
    before = {p: p.read_bytes() for p in out.rglob("*.yaml")}
    # The build is held inside its artifact gates: the first promtool or amtool call here says it runs and
    # waits (a new availability gives every rule file a new shape, so the verdict cache cannot answer);
    # a terminal's Ctrl-C would reach it, and so must the client's.
    tools, started = tmp_path / "tools", tmp_path / "validator-started"
    tools.mkdir()
    for name in ("promtool", "amtool"):
        (tools / name).write_text(f"#!/bin/sh\n[ -e {started} ] && exit 0\necho $$ > {started}\nexec sleep 600\n")
        (tools / name).chmod(0o755)
    edit(manifest, lambda d: d["spec"].setdefault("requirements", {}).update(availability="99.5"))
    client = subprocess.Popen([sys.executable, "-m", "ctx_assets.cli", "build", str(manifest), "--out", str(out)],
                              cwd=ROOT, env={**os.environ, **env, "PATH": f"{tools}:{os.environ['PATH']}"},
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for("the warm process's build to reach a validator", started.exists, 120, every=0.1)
        client.send_signal(signal.SIGINT)
        _, err = client.communicate(timeout=120)
    finally:
        for pid in started.read_text().split() if started.exists() else []:
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(pid), signal.SIGKILL)
    assert client.returncode == 130 and "ctx: interrupted" in err, err[-2000:]
    assert "stage artisan" in err  # the warm process was building (its progress on the client's stderr)
    wait_for("the interrupted warm process to end", lambda: not _alive(warm["pid"]), 30, every=0.2)
    assert {p: p.read_bytes() for p in out.rglob("*.yaml")} == before  # nothing half-written
    # the next build (of an edit: a no-op build needs no Dagster and starts nothing) works in the user's
    # process again and starts a new warm process
    edit(manifest, lambda d: d["spec"]["targets"][0].update(namespace="after-ctrl-c"))
    r = run_ctx("build", str(manifest), "--out", str(out), env=env)
    assert r.returncode == 0, r.stderr[-2000:]
    new = wait_for("a new warm process", lambda: warm_build_pid(warm["path"]), 60, every=0.2)
    assert new != warm["pid"]
    warm["pid"] = new


def test_an_idle_warm_process_exits(tmp_path, monkeypatch):
    env = _env(tmp_path, CTX_BUILD_SERVER_IDLE_SECONDS="1")
    manifest = small_manifest(tmp_path, n=1)
    assert run_ctx("build", str(manifest), "--out", str(tmp_path / "out"), env=env).returncode == 0
    path = _socket(env, monkeypatch)
    log = tmp_path / ".ctx" / "logs" / "build-server.log"
    wait_for("the warm process to start", lambda: log.exists() and "serving" in log.read_text(), 60, every=0.2)
    wait_for("the idle warm process to exit and remove its socket", lambda: not path.exists(), 30, every=0.2)


def test_off_under_ci_and_when_asked(tmp_path, monkeypatch):
    monkeypatch.delenv("CTX_BUILD_SERVER")
    monkeypatch.setenv("CI", "true")
    assert settings().build_server is False
    monkeypatch.delenv("CI")
    assert settings().build_server is True
    monkeypatch.setenv("CTX_BUILD_SERVER", "0")
    assert settings().build_server is False
    # off: a build leaves no process behind
    env = {**_env(tmp_path), "CTX_BUILD_SERVER": "0"}
    manifest = small_manifest(tmp_path, n=1)
    assert run_ctx("build", str(manifest), "--out", str(tmp_path / "out"), env=env).returncode == 0
    # a build that starts one opens its log before it returns: none here
    assert not (tmp_path / ".ctx" / "logs" / "build-server.log").exists()
    assert warm_build_pid(_socket(env, monkeypatch)) is None


def test_other_code_or_another_home_is_another_process(tmp_path, monkeypatch):
    monkeypatch.setenv("CTX_HOME", str(tmp_path / "a"))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "a" / "dagster"))
    (tmp_path / "a").mkdir()
    first = server.socket_path()
    package = tmp_path / "pkg"
    (package / "sub").mkdir(parents=True)
    (package / "sub" / "m.py").write_text("x = 1\n")
    monkeypatch.setattr(server, "_PACKAGE", package)
    before = server.socket_path()
    assert before != first
    (package / "sub" / "m.py").write_text("x = 22\n")  # a module edited: another size
    assert server.socket_path() != before
    monkeypatch.setenv("CTX_HOME", str(tmp_path / "b"))
    (tmp_path / "b").mkdir()
    assert server.socket_path() != before


def test_a_folder_others_can_write_is_never_used(tmp_path, monkeypatch):
    monkeypatch.setattr(server.tempfile, "gettempdir", lambda: str(tmp_path))
    monkeypatch.setenv("CTX_HOME", str(tmp_path / "h"))
    folder = tmp_path / f"ctx-{os.getuid()}"
    folder.mkdir(mode=0o777)
    folder.chmod(0o777)
    with pytest.raises(PermissionError):
        server.socket_path()
    assert server.delegate(["build", "x"]) is None  # the client builds in its own process instead
