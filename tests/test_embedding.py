"""ctx-assets inside a Dagster user's own project, each case a real process:

(a) a project with its own `resources` package, its own asset and `multiprocess_executor`, merging two
    manifests through `contextcore_definitions`, passes `dagster definitions validate`;
(b) the same through `ContextCoreComponent`: `dg scaffold defs` writes a defs.yaml that `dg list defs` loads;
(c) `dagster-daemon` on that project, on Dagster's stock SQLite storage: the sensor builds both bundles from
    nothing with the user's executor (files and provenance on disk, every gate passed).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml
from dagster import DagsterEventType, DagsterInstance, DagsterRunStatus, RunsFilter

from tests.support.engines import BIN, settled, start_daemon
from tests.support.servers import wait_for

from .conftest import manifest_with_targets
from .dagster_env import settle

USER_DEFS = """\
from pathlib import Path

import dagster as dg
from resources import MARK  # the user's own top-level package, a very common name

from ctx_assets import ContextCoreTranslator, contextcore_definitions

HERE = Path(__file__).parent  # a code server's working directory is not its current directory


class Translator(ContextCoreTranslator):
    def get_group_name(self, project):
        return "observability_" + project.prefix


@dg.asset
def my_asset() -> str:
    return MARK


defs = dg.Definitions.merge(
    # steps forked from a server that preloaded this module (Dagster's option): not a new interpreter each
    dg.Definitions(assets=[my_asset], executor=dg.multiprocess_executor.configured(
        {"max_concurrent": 2, "start_method": {"forkserver": {}}})),
    contextcore_definitions(HERE / "manifests" / "*.contextcore.yaml", out_dir=HERE / "bundles",
                            translator=Translator()),
)
"""


def _manifest(folder: Path, name: str, targets: int = 2) -> Path:
    data = manifest_with_targets(targets)
    data["metadata"]["name"] = name
    data["spec"]["project"]["id"] = name
    path = folder / f"{name}.contextcore.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    settle(path)  # past the sensor's debounce
    return path


@pytest.fixture
def user_project(tmp_path) -> Path:
    """A Dagster user's project folder: their `resources` package, their definitions, two manifests."""
    proj = tmp_path / "user"
    (proj / "resources").mkdir(parents=True)
    (proj / "resources" / "__init__.py").write_text('MARK = "the user\'s resources"\n')
    (proj / "user_defs.py").write_text(USER_DEFS)
    (proj / "manifests").mkdir()
    _manifest(proj / "manifests", "shop")
    _manifest(proj / "manifests", "ledger")
    return proj


def _run(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": "", **(env or {})})


def test_user_project_with_its_own_resources_package_validates(user_project):
    r = _run([str(BIN / "dagster"), "definitions", "validate", "-m", "user_defs"], cwd=user_project)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert "Validation successful" in r.stderr + r.stdout
    # What the user gets: their package, their executor, our assets under unique names, one sensor
    code = textwrap.dedent("""\
        import json, resources, user_defs
        d = user_defs.defs
        keys = sorted(k.to_user_string() for k in d.resolve_asset_graph().get_all_asset_keys())
        graph = d.resolve_asset_graph()
        print(json.dumps({"mark": resources.MARK, "keys": keys,
                          "executor": d.resolve_implicit_global_asset_job_def().executor_def.name,
                          "groups": sorted({graph.get(k).group_name for k in graph.get_all_asset_keys()
                                            if k.path[0] == "shop"}),
                          "sensors": [s.name for s in d.sensors], "resources": sorted(d.resources)}))
        """)
    r = _run([sys.executable, "-c", code], cwd=user_project)
    assert r.returncode == 0, r.stderr[-3000:]
    got = json.loads(r.stdout)
    assert got["mark"] == "the user's resources"
    assert got["executor"] == "multiprocess"
    assert {"my_asset", "shop/dashboard", "ledger/dashboard", "shop/provenance", "ledger/context_seed"} <= set(
        got["keys"])
    assert got["groups"] == ["observability_shop"]  # the translator's group
    assert len(got["sensors"]) == 1
    assert set(got["resources"]) == {"ctx_assets_store__shop", "ctx_assets_store__ledger", "ctx_assets_tracer",
                                     "ctx_assets_validators"}


DG_PYPROJECT = """\
[project]
name = "user_dg"
version = "0.1.0"
requires-python = ">=3.11"

[tool.dg]
directory_type = "project"

[tool.dg.project]
root_module = "user_dg"
"""


def test_component_scaffolds_and_loads_with_dg(tmp_path):
    proj = tmp_path / "dgproj"
    (proj / "user_dg" / "defs").mkdir(parents=True)
    (proj / "pyproject.toml").write_text(DG_PYPROJECT)
    (proj / "user_dg" / "__init__.py").write_text("")
    (proj / "user_dg" / "defs" / "__init__.py").write_text("")
    (proj / "user_dg" / "definitions.py").write_text(
        "from pathlib import Path\nimport dagster as dg\n\n\n@dg.definitions\ndef defs():\n"
        "    return dg.load_from_defs_folder(path_within_project=Path(__file__).parent)\n")
    dg = str(BIN / "dg")
    r = _run([dg, "list", "components", "--json"], cwd=proj)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "ctx_assets.ContextCoreComponent" in {c["key"] for c in json.loads(r.stdout)["items"]}
    r = _run([dg, "scaffold", "defs", "ctx_assets.ContextCoreComponent", "bundle"], cwd=proj)
    assert r.returncode == 0, r.stderr[-3000:]
    folder = proj / "user_dg" / "defs" / "bundle"
    assert yaml.safe_load((folder / "defs.yaml").read_text())["type"] == "ctx_assets.ContextCoreComponent"
    _manifest(folder, "second")  # a second manifest beside the starter one: the glob takes both
    r = _run([dg, "list", "defs", "--json"], cwd=proj)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-3000:]
    listed = json.loads(r.stdout)
    keys = {a["asset_key"] for a in listed["assets"]}
    assert {"bundle/dashboard", "second/dashboard", "bundle/provenance"} <= keys
    kinds = {a["asset_key"]: set(a["kinds"]) for a in listed["assets"]}
    assert kinds["bundle/dashboard"] == {"grafana"} and kinds["bundle/runbook"] == {"markdown"}
    assert len(listed["sensors"]) == 1


@pytest.mark.slow
def test_daemon_on_stock_sqlite_builds_both_bundles_with_the_users_executor(user_project, tmp_path):
    home = tmp_path / "dagster_home"
    home.mkdir()
    # Dagster's own defaults (stock SQLite, the run queue), the queue looking every second instead of every
    # 5 s: three stages of two projects each wait for it, and its pace is not what this test checks.
    (home / "dagster.yaml").write_text("run_queue:\n  dequeue_interval_seconds: 1\ntelemetry:\n  enabled: false\n")
    ws = tmp_path / "workspace.yaml"
    ws.write_text(yaml.safe_dump({"load_from": [{"python_module": {
        "module_name": "user_defs", "attribute": "defs", "working_directory": str(user_project)}}]}))
    env = {"DAGSTER_HOME": str(home), "CTX_HOME": str(tmp_path / ".ctx"), "PYTHONPATH": ""}
    daemon = start_daemon(ws, env, tmp_path / "logs")
    bundles = {name: user_project / "bundles" / name for name in ("shop", "ledger")}
    try:
        def built() -> bool:
            daemon.assert_running()
            # no run going (stopping the daemon would end it as failed), and every artifact fresh (`ctx status`
            # only once no run is going and both provenance files are there)
            return all(settled(user_project / "manifests" / f"{name}.contextcore.yaml", b, env)
                       for name, b in bundles.items())

        wait_for("the daemon's sensor to build both bundles and its runs to end", built, 600)
    finally:
        daemon.stop()
    for b in bundles.values():
        prov = json.loads((b / "export" / "provenance.json").read_text())
        assert len(prov["artifacts"]) == 14  # 2 targets x 7 types, each on disk
        assert all((b / a["path"]).exists() for a in prov["artifacts"].values())
    instance = DagsterInstance.from_config(str(home))
    try:
        assert type(instance.event_log_storage).__name__ == "SqliteEventLogStorage"  # stock, not ours
        runs = instance.get_runs(RunsFilter())
        failed = {r.run_id: [e.message for e in instance.all_logs(r.run_id) if e.is_dagster_event
                             and e.dagster_event.is_failure][-3:] for r in runs if r.status != DagsterRunStatus.SUCCESS}
        assert runs and not failed, failed  # with the reason a run failed
        evaluations = [e for r in runs
                       for e in instance.all_logs(r.run_id, of_type=DagsterEventType.ASSET_CHECK_EVALUATION)]
        assert evaluations and all(e.dagster_event.event_specific_data.passed for e in evaluations)
        engine = [e.message for r in runs for e in instance.all_logs(r.run_id, of_type=DagsterEventType.ENGINE_EVENT)]
        assert any("multiprocess executor" in (m or "") for m in engine)  # the user's executor ran the steps
    finally:
        instance.dispose()
