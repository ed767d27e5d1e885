"""What a build leaves in the output folder and the homes (issue 22 item 4, the parts done so far): an
invalid manifest writes nothing anywhere (`.ctx` included), an output folder belongs to one project,
and the temp files and validator folders of killed processes are removed by the next run."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

from ctx_assets.core.fsio import OWNER_FILE, sweep_leftover_temps
from ctx_assets.resources.validators import sweep_validator_temps

from .conftest import run_ctx
from .dagster_env import cli_env, small_manifest


def _bundle(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


def _dead_pid() -> int:
    """The pid of a process that has exited (reaped), so nothing owns it now."""
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def test_invalid_manifest_build_writes_nothing_anywhere(tmp_path):
    env, out = cli_env(tmp_path), tmp_path / "out"
    manifest = small_manifest(tmp_path, n=1)
    data = yaml.safe_load(manifest.read_text())
    data["spec"]["targets"][0]["name"] = "Bad Name"
    manifest.write_text(yaml.safe_dump(data))
    before = sorted(p.name for p in tmp_path.iterdir())
    for args in (["build", str(manifest), "--out", str(out)], ["build", str(manifest), "--out", str(out), "--json"],
                 ["export", str(manifest), "--out", str(out), "--artifacts", "--no-external"]):
        r = run_ctx(*args, env=env)
        assert r.returncode == 2 and "spec.targets[0].name" in r.stderr, r.stderr[-2000:]
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # no out/, no .ctx (instance, span, log line)


def test_a_second_project_cannot_build_into_a_folder_that_holds_another_projects_bundle(tmp_path):
    env, out = cli_env(tmp_path), tmp_path / "out"
    first = small_manifest(tmp_path, n=1, name="a.contextcore.yaml")
    r = run_ctx("build", str(first), "--out", str(out), env=env)
    assert r.returncode == 0, r.stderr[-2000:]
    assert (out / OWNER_FILE).read_text().strip() == "online-boutique"
    before = _bundle(out)
    data = yaml.safe_load(first.read_text())
    data["metadata"]["name"] = data["spec"]["project"]["id"] = "other-project"
    second = tmp_path / "b.contextcore.yaml"
    second.write_text(yaml.safe_dump(data, sort_keys=False))
    for args in (["build", str(second), "--out", str(out)],
                 ["export", str(second), "--out", str(out), "--artifacts", "--no-external"]):
        r = run_ctx(*args, env=env)
        assert r.returncode == 2, r.stderr[-2000:]
        assert "holds the bundle of project 'online-boutique'" in r.stderr.strip().splitlines()[-1]
    assert _bundle(out) == before  # byte-identical
    r = run_ctx("build", str(first), "--out", str(out), env=env)  # its own project still builds there
    assert r.returncode == 0, r.stderr[-2000:]


def test_temp_files_of_killed_writers_are_removed_by_the_next_run(tmp_path):
    out = tmp_path / "out"
    manifest = small_manifest(tmp_path, n=1)
    assert run_ctx("export", str(manifest), "--out", str(out), "--artifacts", "--no-external").returncode == 0
    folder = out / "grafana" / "dashboards"
    dead = folder / f".svc-0000-dashboard.json.{_dead_pid()}.3.tmp"
    live = folder / f".svc-0000-dashboard.json.{os.getpid()}.4.tmp"  # this test process: alive
    dead.write_bytes(b"half a dashb")
    live.write_bytes(b"being written")
    r = run_ctx("export", str(manifest), "--out", str(out), "--artifacts", "--no-external")
    assert r.returncode == 0, r.stderr
    assert not dead.exists() and live.exists()
    assert sweep_leftover_temps(out) == [] and live.exists()


def test_validator_temp_folders_of_killed_processes_are_removed():
    root = Path(tempfile.gettempdir())
    dead = Path(tempfile.mkdtemp(prefix=f"ctx-promtool-{_dead_pid()}-", dir=root))
    (dead / "svc-0000-prometheus-rule.yaml").write_text("groups: []\n")
    live = Path(tempfile.mkdtemp(prefix=f"ctx-amtool-{os.getpid()}-", dir=root))
    try:
        removed = sweep_validator_temps()
        assert dead in removed and not dead.exists()
        assert live.exists() and live not in removed
    finally:
        for p in (dead, live):
            if p.exists():
                for f in p.iterdir():
                    f.unlink()
                p.rmdir()
