"""`ctx ui` serves the Dagster UI on 127.0.0.1, and a real headless Chromium finds the artifact assets."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from .conftest import ROOT, require

ARTIFACT_ASSETS = ["service_monitor", "slo_definition", "prometheus_rule", "loki_rule", "dashboard",
                   "notification_policy", "runbook"]


def _chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    require(path is not None, "chromium (Debian package chromium)")
    return path  # type: ignore[return-value]


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def ui(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ui")
    port = _port()
    env = {**os.environ, "CTX_HOME": str(tmp / ".ctx"), "DAGSTER_HOME": str(tmp / ".ctx" / "dagster"),
           "CTX_OUT": str(tmp / "out")}
    ctx = Path(sys.executable).with_name("ctx")
    proc = subprocess.Popen([str(ctx), "ui", "--port", str(port)], cwd=ROOT, env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"ctx ui exited: {proc.stderr.read()[-2000:]}")
        try:
            with urllib.request.urlopen(f"{url}/server_info", timeout=2):
                break
        except OSError:
            time.sleep(1)
    else:
        os.killpg(proc.pid, signal.SIGTERM)
        pytest.fail("the Dagster UI did not come up")
    yield url, port
    os.killpg(proc.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=30)
    time.sleep(2)
    with contextlib.suppress(ProcessLookupError):  # code servers that outlive `dagster dev`
        os.killpg(proc.pid, signal.SIGKILL)


def _listening_addresses(port: int) -> set[str]:
    out = subprocess.run(["ss", "-ltnH"], capture_output=True, text=True).stdout if shutil.which("ss") else ""
    return {line.split()[3].rsplit(":", 1)[0] for line in out.splitlines() if line.split()[3].endswith(f":{port}")}


def test_ui_binds_loopback_only(ui):
    _, port = ui
    addrs = _listening_addresses(port)
    if addrs:  # `ss` is there: the webserver listens on loopback and nowhere else
        assert addrs <= {"127.0.0.1", "[::1]"}, addrs


def _render(url: str, tmp: Path) -> str:
    chromium = _chromium()
    r = subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                        "--disable-background-networking", "--disable-component-update", "--disable-sync",
                        f"--user-data-dir={tmp}", "--virtual-time-budget=30000", "--window-size=2400,1600",
                        "--dump-dom", url], capture_output=True, text=True, timeout=180)
    return r.stdout


def test_asset_graph_page_shows_the_artifact_assets(ui, tmp_path):
    url, _ = ui
    html = ""
    for _ in range(3):  # the first load may race the code server's start
        # the lineage graph of the artisan group: the seven artifact assets and their upstream seed
        html = _render(f"{url}/locations/ctx_assets.definitions:defs/asset-groups/artisan/lineage",
                       tmp_path / "profile")
        if all(name in html for name in ARTIFACT_ASSETS):
            break
        time.sleep(5)
    missing = [name for name in ARTIFACT_ASSETS + ["context_seed"] if name not in html]
    assert not missing, f"not on the asset graph page: {missing}"
