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
import uuid
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


def _start_ui(tmp: Path, port: int, extra_env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    env = {**os.environ, "CTX_HOME": str(tmp / ".ctx"), "DAGSTER_HOME": str(tmp / ".ctx" / "dagster"),
           "CTX_OUT": str(tmp / "out"), **(extra_env or {})}
    ctx = Path(sys.executable).with_name("ctx")
    proc = subprocess.Popen([str(ctx), "ui", "--port", str(port)], cwd=ROOT, env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"ctx ui exited: {proc.stderr.read()[-2000:]}")  # type: ignore[union-attr]
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/server_info", timeout=2):
                return proc
        except OSError:
            time.sleep(1)
    _stop(proc)
    pytest.fail("the Dagster UI did not come up")


def _stop(proc: subprocess.Popen[str]) -> None:
    """Signal `ctx ui` only: it stops its own Dagster processes (tested below)."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(proc.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=30)


@pytest.fixture(scope="module")
def ui(tmp_path_factory):
    port = _port()
    proc = _start_ui(tmp_path_factory.mktemp("ui"), port)
    yield f"http://127.0.0.1:{port}", port
    _stop(proc)


def _marked(marker: str) -> set[int]:
    """Every live process whose environment carries `marker` (so also any that left the group or session)."""
    found = set()
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if marker.encode() in Path(entry.path, "environ").read_bytes():
                    found.add(int(entry.name))
    return found


@pytest.mark.slow
def test_sigterm_to_ctx_ui_stops_every_dagster_process_and_frees_the_port(tmp_path):
    port, marker = _port(), f"CTX_TEST_UI_MARKER={uuid.uuid4().hex}"
    proc = _start_ui(tmp_path, port, {"CTX_TEST_UI_MARKER": marker.split("=", 1)[1]})
    try:
        # ctx ui announces the URL once the webserver answers and the daemon is started: the webserver may
        # answer this test's poll first, and a SIGTERM before the announcement is another test
        err = _read_until(proc, f"Dagster UI on http://127.0.0.1:{port}", 60)
        dagster = _marked(marker) - {proc.pid}
        assert len(dagster) >= 3, dagster  # the code server, the webserver, the daemon
        start = time.monotonic()
        os.kill(proc.pid, signal.SIGTERM)  # the ctx process only
        while _marked(marker) - {proc.pid} and time.monotonic() - start < 30:
            time.sleep(0.1)
        stopped_after = time.monotonic() - start
        assert not _marked(marker) - {proc.pid}, "Dagster processes outlived ctx ui"
        assert stopped_after <= 10, stopped_after
        assert proc.wait(timeout=10) == 0
        # ctx's own lines only: the URL once, the stop; Dagster's warnings, colours and "Aborted!" are in its log
        err += proc.stderr.read()  # type: ignore[union-attr]
        assert err.count(f"Dagster UI on http://127.0.0.1:{port}") == 1, err
        assert "\x1b[" not in err and "Aborted!" not in err and "Warning" not in err, err
        assert all(line.startswith(("ctx ui:", "Dagster UI on")) for line in err.splitlines()), err
        with socket.socket() as s:  # the port is free again: nothing listens (closed connections may linger)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("127.0.0.1", port))
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port), timeout=5).close()
    finally:
        for pid in _marked(marker):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def _read_until(proc: subprocess.Popen[str], wanted: str, timeout: float) -> str:
    """ctx ui's stderr up to `wanted` (read from the pipe itself, unbuffered, so a later .read() continues)."""
    import select

    fd, seen, deadline = proc.stderr.fileno(), b"", time.monotonic() + timeout  # type: ignore[union-attr]
    while wanted.encode() not in seen:
        left = deadline - time.monotonic()
        assert left > 0 and select.select([fd], [], [], left)[0], f"ctx ui never said {wanted!r}: {seen!r}"
        chunk = os.read(fd, 65536)
        assert chunk, f"ctx ui exited before saying {wanted!r}: {seen!r}"
        seen += chunk
    return seen.decode()


def _listening_addresses(port: int) -> set[str]:
    """Addresses with a listening TCP socket on `port`, from the kernel's tables (/proc/net/tcp, tcp6)."""
    found = set()
    for table, width in (("/proc/net/tcp", 8), ("/proc/net/tcp6", 32)):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                local, state = line.split()[1], line.split()[3]
                addr, hexport = local.split(":")
                if state == "0A" and int(hexport, 16) == port:  # 0A: LISTEN
                    raw = bytes.fromhex(addr)
                    # the kernel writes each 32-bit word in host (little-endian) order
                    words = b"".join(raw[k:k + 4][::-1] for k in range(0, len(raw), 4))
                    found.add(socket.inet_ntop(socket.AF_INET if width == 8 else socket.AF_INET6, words))
    return found


def test_ui_binds_loopback_only(ui):
    _, port = ui
    addrs = _listening_addresses(port)
    assert addrs, "nothing listens on the UI's port"
    assert addrs <= {"127.0.0.1", "::1"}, addrs



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
        # the lineage graph of the project group: the seven artifact assets and their upstream seed
        html = _render(f"{url}/locations/ctx-assets/asset-groups/online_boutique/lineage",
                       tmp_path / "profile")
        if all(name in html for name in ARTIFACT_ASSETS):
            break
        time.sleep(5)
    missing = [name for name in ARTIFACT_ASSETS + ["context_seed"] if name not in html]
    assert not missing, f"not on the asset graph page: {missing}"
