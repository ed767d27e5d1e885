"""Live rebuilds through a real `ctx ui` (webserver + daemon + code server): a real file edit of one
target's namespace, timed from the save to the target's files rewritten and to provenance.json rewritten.

    python -m bench.sensor_edit [--targets 11 1000] [--edits 5] [--no-record]

The bundle is built first with `ctx build` (a fresh process); then `ctx ui` starts and, once its sensor
has ticked, each edit is saved and timed by the files' own modification times (the manifest's after the
write, each of the target's seven artifacts', provenance.json's), polled every 50 ms. Figures are the
median over the edits: `sensor_edit_<N>_seconds` (save → the last of the target's artifacts rewritten)
and `sensor_provenance_lag_seconds` (that last artifact → provenance.json, the larger of the sizes'
medians), plus each edit's figures in `sensor_edit_details`.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import yaml

from bench.run import ROOT, manifest, record_or_print
from tests.support.servers import free_port

FILES = ("k8s/observability/{t}-service-monitor.yaml", "slo/{t}-slo.yaml", "prometheus/rules/{t}-prometheus-rules.yaml",
         "loki/rules/{t}-loki-rules.yaml", "grafana/dashboards/{t}-dashboard.json",
         "alertmanager/{t}-notification.yaml", "runbooks/{t}-runbook.md")
PROVENANCE = "export/provenance.json"


def _ticks(url: str) -> list[dict]:
    """The manifest sensor's newest ticks through the webserver's GraphQL (what the UI shows)."""
    q = ("{ repositoriesOrError { ... on RepositoryConnection { nodes { sensors { name sensorState { "
         "ticks(limit: 5) { status timestamp skipReason error { message } } } } } } } }")
    req = urllib.request.Request(f"{url}/graphql", json.dumps({"query": q}).encode(),
                                 {"Content-Type": "application/json"})
    with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
        nodes = json.loads(urllib.request.urlopen(req, timeout=10).read())["data"]["repositoriesOrError"]["nodes"]
        return [t for n in nodes for s in n["sensors"] if s["name"].endswith("manifest_sensor")
                for t in s["sensorState"]["ticks"]]
    return []


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def _wait(what: str, ok, deadline: float, proc: subprocess.Popen, log: Path) -> None:
    while not ok():
        if proc.poll() is not None:
            raise SystemExit(f"ctx ui exited while waiting for {what}:\n{log.read_text()[-3000:]}")
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}; ui log:\n{log.read_text()[-3000:]}")
        time.sleep(0.05)


def measure(n: int, edits: int, folder: Path) -> dict:
    env = {**os.environ, "CTX_HOME": str(folder / ".ctx"), "DAGSTER_HOME": str(folder / ".ctx" / "dagster")}
    env.pop("CTX_SENSOR_DEBOUNCE_SECONDS", None)  # the default is what is measured
    path, out = manifest(n, folder), folder / "out"
    p = subprocess.run([sys.executable, "-m", "ctx_assets.cli", "build", str(path), "--out", str(out)], cwd=folder,
                       env=env, capture_output=True, text=True)
    assert p.returncode == 0, p.stderr[-3000:]
    port, log = free_port(), folder / "ui.log"
    url = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen([sys.executable, "-m", "ctx_assets.cli", "ui", str(path), "--out", str(out), "--port",
                             str(port)], cwd=folder, env=env, start_new_session=True, stdout=subprocess.DEVNULL,
                            stderr=log.open("wb"))
    rows = []
    try:
        started = time.time()
        _wait("the sensor's first tick", lambda: any(t["timestamp"] > started for t in _ticks(url)),
              time.monotonic() + 600, proc, log)
        target = f"svc-{n // 2:04d}"
        files = [out / f.format(t=target) for f in FILES]
        for i in range(edits):
            data = yaml.safe_load(path.read_text())
            data["spec"]["targets"][n // 2]["namespace"] = f"edit-{i}"
            path.write_text(yaml.safe_dump(data, sort_keys=False))  # the save
            saved = _mtime(path)
            _wait(f"edit {i}: the target's artifacts", lambda s=saved: all(_mtime(f) >= s for f in files),
                  time.monotonic() + 180, proc, log)
            written = max(_mtime(f) for f in files)
            _wait(f"edit {i}: provenance", lambda w=written: _mtime(out / PROVENANCE) >= w, time.monotonic() + 180,
                  proc, log)
            rows.append({"artifacts_seconds": written - saved, "provenance_lag_seconds": _mtime(out / PROVENANCE)
                         - written})
            print(f"bench: sensor edit {n} #{i}: {rows[-1]}", file=sys.stderr, flush=True)
            time.sleep(1)  # not a measured window: lets the provenance run's process exit before the next save
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=60)
    return {"edit": statistics.median(r["artifacts_seconds"] for r in rows),
            "lag": statistics.median(r["provenance_lag_seconds"] for r in rows), "rows": rows}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--targets", type=int, nargs="+", default=[11, 1000])
    ap.add_argument("--edits", type=int, default=5)
    ap.add_argument("--no-record", action="store_true")
    a = ap.parse_args()
    figures: dict = {"sensor_edit_details": {}}
    for n in a.targets:
        with tempfile.TemporaryDirectory(prefix=f"ctx-bench-sensor-{n}-") as tmp:
            m = measure(n, a.edits, Path(tmp))
        figures[f"sensor_edit_{n}_seconds"] = m["edit"]
        figures["sensor_edit_details"][str(n)] = m
    figures["sensor_provenance_lag_seconds"] = max(m["lag"] for m in figures["sensor_edit_details"].values())
    record_or_print(figures, "sensor_edit", a.no_record)


if __name__ == "__main__":
    os.chdir(ROOT)
    main()
