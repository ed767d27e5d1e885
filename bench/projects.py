"""Many projects: N manifests × T targets in one `ctx ui`, and `ctx build FOLDER` against
`ctx export --artifacts FOLDER`. Measured at the size asked, never extrapolated; the figures go into
bench/results.json beside `make bench`'s.

    python -m bench.projects [--projects 200] [--targets 11] [--watch 120]

- projects_<N>_ui_load_seconds: `ctx ui FOLDER` start → every project's assets served (GraphQL);
- projects_<N>_ui_rss_mib / _processes: the most the whole process tree of `ctx ui` held at once (its
  webserver, daemon, code server and the runs its sensor launches to build the never-built projects),
  sampled every second from start until `--watch` seconds after every project was served;
- projects_<N>_sensor_tick_seconds: an idle tick over every manifest (all built, none edited), in process;
- projects_<N>_build_seconds / projects_<N>_pure_seconds / projects_<N>_build_ratio_to_pure: `ctx build
  FOLDER` and `ctx export --artifacts FOLDER`, each a fresh process.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import yaml

from bench.run import EXAMPLE, ROOT, record
from tests.support.servers import free_port


def make_folder(folder: Path, projects: int, targets: int) -> Path:
    base = yaml.safe_load(EXAMPLE.read_text())
    manifests = folder / "manifests"
    manifests.mkdir(parents=True)
    past = time.time() - 60  # settled: past the sensor's debounce
    for i in range(projects):
        data = json.loads(json.dumps(base))
        name = f"svc-{i:03d}"
        data["metadata"]["name"] = name
        data["spec"]["project"]["id"] = name
        data["spec"]["targets"] = [{"kind": "Deployment", "name": f"{name}-t{j:02d}", "namespace": f"team-{i % 9}"}
                                   for j in range(targets)]
        path = manifests / f"{name}.contextcore.yaml"
        path.write_text(yaml.safe_dump(data, sort_keys=False))
        os.utime(path, (past, past))
    return manifests


def _tree(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo += children.get(pid, [])
    return out


def _rss_mib(pid: int) -> float:
    with contextlib.suppress(OSError, ValueError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def _served(url: str, projects: int) -> bool:
    body = json.dumps({"query": "{ assetNodes { assetKey { path } } }"}).encode()
    req = urllib.request.Request(f"{url}/graphql", body, {"Content-Type": "application/json"})
    with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
        nodes = json.loads(urllib.request.urlopen(req, timeout=30).read())["data"]["assetNodes"]
        return len({n["assetKey"]["path"][0] for n in nodes}) >= projects
    return False


def ui(manifests: Path, folder: Path, projects: int, watch: float) -> dict:
    env = {**os.environ, "CTX_HOME": str(folder / ".ctx"), "DAGSTER_HOME": str(folder / ".ctx" / "dagster")}
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "ctx_assets.cli", "ui", str(manifests), "--port", str(port),
                             "--out", str(folder / "bundles")], cwd=folder, env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=(folder / "ui.log").open("wb"))
    start, loaded, peak_rss, peak_procs, url = time.monotonic(), None, 0.0, 0, f"http://127.0.0.1:{port}"
    try:
        while time.monotonic() - start < 900:
            assert proc.poll() is None, (folder / "ui.log").read_text()[-3000:]
            pids = _tree(proc.pid)
            peak_rss = max(peak_rss, sum(_rss_mib(p) for p in pids))
            peak_procs = max(peak_procs, len(pids))
            if loaded is None and _served(url, projects):
                loaded = time.monotonic() - start
                print(f"bench: every project served after {loaded:.1f} s", file=sys.stderr, flush=True)
            if loaded is not None and time.monotonic() - start > loaded + watch:
                break
            time.sleep(1)
        built = len(list((folder / "bundles").glob("*/export/provenance.json")))
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=60)
    return {f"projects_{projects}_ui_load_seconds": loaded, f"projects_{projects}_ui_rss_mib": round(peak_rss, 1),
            f"projects_{projects}_ui_processes": peak_procs,
            f"projects_{projects}_ui_watched_seconds": watch, f"projects_{projects}_ui_bundles_built": built}


def _timed(args: list[str], folder: Path, env: dict[str, str]) -> float:
    t = time.perf_counter()
    p = subprocess.run([sys.executable, "-m", "ctx_assets.cli", *args], cwd=folder, env=env,
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-2000:]
    return time.perf_counter() - t


def build_and_tick(manifests: Path, folder: Path, projects: int) -> dict:
    env = {**os.environ, "CTX_HOME": str(folder / ".ctx2"), "DAGSTER_HOME": str(folder / ".ctx2" / "dagster")}
    pure = _timed(["export", str(manifests), "--artifacts", "--out", str(folder / "pure")], folder, env)
    build = _timed(["build", str(manifests), "--out", str(folder / "built")], folder, env)
    p = subprocess.run([sys.executable, "-m", "bench.projects", "--tick", str(manifests), str(folder / "built")],
                       cwd=ROOT, env=env, capture_output=True, text=True)
    assert p.returncode == 0, p.stderr[-3000:]
    tick = json.loads(p.stdout.strip().splitlines()[-1])
    return {f"projects_{projects}_pure_seconds": pure, f"projects_{projects}_build_seconds": build,
            f"projects_{projects}_build_ratio_to_pure": build / pure,
            f"projects_{projects}_sensor_tick_seconds": tick["idle"],
            f"projects_{projects}_sensor_ticks_to_cover": tick["ticks"]}


def idle_tick(manifests: str, built: str) -> dict:
    """Ticks the sensor in this process until its cursor covers every project, then once more: that
    last tick, with nothing edited, is the idle one."""
    from dagster import build_sensor_context

    from ctx_assets.build import get_instance
    from ctx_assets.definitions import definitions_for, manifest_paths, projects_for

    projects = projects_for(manifest_paths([manifests]), built)
    sensor = definitions_for(projects).sensors[0]
    instance, cursor, times = get_instance(), None, []
    for _ in range(100):
        ctx = build_sensor_context(instance=instance, cursor=cursor)
        t = time.perf_counter()
        result = sensor(ctx)
        times.append(time.perf_counter() - t)
        covered = len(json.loads(ctx.cursor)["projects"]) == len(projects)
        cursor = ctx.cursor
        if covered and getattr(result, "skip_message", None) and len(times) > 1:
            break
    return {"idle": times[-1], "ticks": len(times)}


def main() -> None:
    if sys.argv[1:2] == ["--tick"]:
        print(json.dumps(idle_tick(sys.argv[2], sys.argv[3])))
        return
    ap = argparse.ArgumentParser()
    ap.add_argument("--projects", type=int, default=200)
    ap.add_argument("--targets", type=int, default=11)
    ap.add_argument("--watch", type=float, default=120, help="seconds to keep sampling after every project loads")
    ap.add_argument("--skip-ui", action="store_true")
    ap.add_argument("--ui-only", action="store_true", help="only the ctx ui figures")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="ctx-bench-projects-") as tmp:
        folder = Path(tmp)
        manifests = make_folder(folder, a.projects, a.targets)
        if not a.skip_ui:  # recorded at once: the build below takes minutes
            record(ui(manifests, folder, a.projects, a.watch), "projects")
        if a.ui_only:
            return
        figures = build_and_tick(manifests, folder, a.projects)
    record(figures, "projects")


if __name__ == "__main__":
    main()
