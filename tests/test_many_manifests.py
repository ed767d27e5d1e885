"""Many manifests, one Dagster instance: own asset key prefix and partitions per project.

Two manifests that share every target name are built at the same time into one home; both
must succeed and both statuses stay true. `ctx ui` serves 200 manifests from one code location.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from ctx_assets.defs.project import project_of
from ctx_assets.workspaces import WorkspaceError, manifests_in, write_workspace

from .conftest import ROOT, manifest_with_targets, run_ctx
from .test_one_run_build import _graphql
from .test_ui import _port


def _manifest(folder: Path, project: str, namespace: str) -> Path:
    data = manifest_with_targets(3)
    data["spec"]["project"]["id"] = project
    data["metadata"]["name"] = project
    for t in data["spec"]["targets"]:
        t["namespace"] = namespace
    path = folder / f"{project}.contextcore.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


@pytest.fixture
def two(tmp_path):
    env = {"CTX_HOME": str(tmp_path / ".ctx"), "DAGSTER_HOME": str(tmp_path / ".ctx" / "dagster")}
    return tmp_path, env, _manifest(tmp_path, "alpha", "team-a"), _manifest(tmp_path, "beta", "team-b")


def test_two_manifests_with_the_same_targets_build_at_once_into_one_home(two):
    build_two_at_once(*two)


def build_two_at_once(tmp: Path, env: dict[str, str], a: Path, b: Path) -> None:
    """Both build at once into one home, both statuses are true, each project's records are its own
    (also run on Postgres, tests/test_postgres.py)."""
    procs = [subprocess.Popen([sys.executable, "-m", "ctx_assets.cli", "build", str(m), "--out", str(tmp / m.stem)],
                              cwd=ROOT, env={**os.environ, **env}, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for m in (a, b)]
    outs = [p.communicate(timeout=600) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], "\n\n".join(  # a str: pytest would cut a list's repr short
        f"{m.stem}: exit {p.returncode}\n{err[-2500:]}" for m, p, (_, err) in zip((a, b), procs, outs, strict=True))
    for m in (a, b):
        r = run_ctx("status", str(m), "--out", str(tmp / m.stem), "--json", env=env)
        assert r.returncode == 0, r.stderr
        rows = yaml.safe_load(r.stdout)["artifacts"]
        assert len(rows) == 22 and {x["status"] for x in rows} == {"fresh"}, r.stdout[:500]  # 21 + provenance
    # each project's records are its own: a rebuild of one does not make the other stale
    assert run_ctx("build", str(a), "--out", str(tmp / a.stem), "--all", env=env).returncode == 0
    r = run_ctx("status", str(b), "--out", str(tmp / b.stem), "--json", env=env)
    assert {x["status"] for x in yaml.safe_load(r.stdout)["artifacts"]} == {"fresh"}
    os.environ.update(env)
    try:
        from ctx_assets.build import get_instance

        instance = get_instance()
        for m in (a, b):
            p = project_of(m)
            assert instance.get_dynamic_partitions(p.targets.name) == ["svc-0000", "svc-0001", "svc-0002"]
            assert instance.get_materialized_partitions(p.key("runbook")) == {"svc-0000", "svc-0001", "svc-0002"}
    finally:
        for k in env:
            os.environ.pop(k, None)


def test_workspace_is_one_location_for_every_manifest(two, tmp_path):
    _, _, a, b = two
    assert manifests_in([str(a.parent)]) == sorted([a.resolve(), b.resolve()])
    ws = write_workspace([a, b], tmp_path / "out", tmp_path / "ws")
    (entry,) = yaml.safe_load(ws.read_text())["load_from"]
    assert entry["python_file"]["location_name"] == "ctx-assets"
    import runpy

    defs = runpy.run_path(entry["python_file"]["relative_path"])["defs"]
    keys = {k.to_user_string() for k in defs.resolve_asset_graph().get_all_asset_keys()}
    assert {"alpha/dashboard", "beta/dashboard"} <= keys
    assert [j.name for j in defs.resolve_all_job_defs()] == ["__ASSET_JOB"]  # no job of ours: asset selections
    (sensor,) = defs.sensors  # one sensor watches both manifests
    stores = {k: v for k, v in defs.resources.items() if k.startswith("ctx_assets_store__")}
    assert {k: v.out_dir for k, v in stores.items()} == {
        "ctx_assets_store__alpha": str((tmp_path / "out" / "alpha").resolve()),
        "ctx_assets_store__beta": str((tmp_path / "out" / "beta").resolve())}


def test_two_manifests_of_one_project_are_refused(two, tmp_path):
    _, _, a, _ = two
    twin = tmp_path / "twin.contextcore.yaml"
    twin.write_text(a.read_text())
    with pytest.raises(WorkspaceError, match="both describe project 'alpha'"):
        write_workspace([a, twin], tmp_path / "out", tmp_path / "ws")
    r = run_ctx("ui", str(a), str(twin), "--port", str(_port()))
    assert r.returncode == 2 and "both describe project" in r.stderr


@contextlib.contextmanager
def ctx_ui(paths: list[Path], tmp: Path, env: dict[str, str]):
    """`ctx ui PATHS` on a free port; yields its URL and the paths of every asset served once `wanted`
    projects are all there (polled until then, 300 s at most). Stops the whole tree at the end."""
    port = _port()
    proc = subprocess.Popen([sys.executable, "-m", "ctx_assets.cli", "ui", *map(str, paths), "--port", str(port),
                             "--out", str(tmp / "bundles")], cwd=ROOT, env={**os.environ, **env},
                            start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"

    def served(wanted: set[str]) -> set[tuple[str, ...]]:
        deadline, paths = time.monotonic() + 300, set()
        while time.monotonic() < deadline:
            assert proc.poll() is None, proc.stderr.read()[-2000:]
            with contextlib.suppress(OSError, AssertionError, KeyError):
                nodes = _graphql(url, "{ assetNodes { assetKey { path } } }")["assetNodes"]
                paths = {tuple(n["assetKey"]["path"]) for n in nodes}
                if wanted <= {p[0] for p in paths}:
                    break
            time.sleep(0.5)
        return paths

    try:
        yield url, served
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=60)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)


def _locations(url: str) -> list[str]:
    got = _graphql(url, "{ workspaceOrError { ... on Workspace { locationEntries { name } } } }")
    return [e["name"] for e in got["workspaceOrError"]["locationEntries"]]


@pytest.mark.slow
def test_ctx_ui_serves_200_manifests_from_one_code_location(tmp_path):
    """200 projects in ONE code location, every one served with its assets, one sensor for all: 199 named
    by their folder, one by its file (`ctx ui FOLDER FILE`). The memory, process and time figures at this
    scale are bench/projects.py's."""
    folder, elsewhere = tmp_path / "manifests", tmp_path / "elsewhere"
    folder.mkdir()
    elsewhere.mkdir()
    names = {f"p{i:03d}" for i in range(200)}
    for name in names:
        _manifest(elsewhere if name == "p199" else folder, name, "team-a")
    env = {"CTX_HOME": str(tmp_path / ".ctx"), "DAGSTER_HOME": str(tmp_path / ".ctx" / "dagster")}
    with ctx_ui([folder, elsewhere / "p199.contextcore.yaml"], tmp_path, env) as (url, served):
        paths = served(names)
        assert {p[0] for p in paths} == names
        assert {(name, "dashboard") for name in names} <= paths  # each project's own assets, under its prefix
        assert _locations(url) == ["ctx-assets"]
        sensors = _graphql(url, '{ sensorsOrError(repositorySelector: {repositoryLocationName: "ctx-assets", '
                                'repositoryName: "__repository__"}) { ... on Sensors { results { name } } } }')
        assert len(sensors["sensorsOrError"]["results"]) == 1  # one sensor watches all 200


def test_build_status_and_export_of_a_folder_say_one_line_per_project_and_exit_with_the_worst(two, tmp_path):
    tmp, env, a, b = two
    bundles = tmp / "bundles"
    r = run_ctx("build", str(a.parent), "--out", str(bundles), env=env)
    assert r.returncode == 0, r.stderr[-2000:]
    lines = r.stdout.strip().splitlines()
    assert lines[0].startswith("alpha: 21 built, 0 blocked") and lines[1].startswith("beta: 21 built, 0 blocked")
    assert lines[-1] == "2 projects: 2 ok, 42 artifacts built"
    assert (bundles / "alpha" / "export" / "provenance.json").exists()
    r = run_ctx("status", str(a.parent), "--out", str(bundles), env=env)
    assert r.returncode == 0 and "alpha: 22 fresh, 0 stale, 0 missing" in r.stdout, r.stdout

    # beta now carries a credential: its export is blocked (exit 1), alpha still builds; the worst code wins
    data = yaml.safe_load(b.read_text())
    data["metadata"]["links"] = {"repository": "https://ci:t0ps3cretpw@git.example.com/x"}
    b.write_text(yaml.safe_dump(data, sort_keys=False))
    r = run_ctx("build", str(a.parent), "--out", str(bundles), "--json", env=env)
    assert r.returncode == 1, r.stderr[-2000:]
    doc = yaml.safe_load(r.stdout)
    assert [(p["project"], p["exit_code"]) for p in doc["projects"]] == [("alpha", 0), ("beta", 1)]
    assert "t0ps3cretpw" not in r.stdout + r.stderr
    r = run_ctx("export", str(a.parent), "--out", str(tmp / "pure"), env=env)
    assert r.returncode == 1 and "beta: blocked by secret_scan" in r.stdout, r.stdout
    assert (tmp / "pure" / "alpha" / "export" / "artifact-manifest.yaml").exists()
    # a folder with no manifest, and --targets with a folder, are invalid input
    empty = tmp / "empty"
    empty.mkdir()
    assert run_ctx("build", str(empty), env=env).returncode == 2
    assert run_ctx("build", str(a.parent), "--targets", "svc-0000", env=env).returncode == 2
