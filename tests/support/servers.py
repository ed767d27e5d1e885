"""Throwaway servers for the scaling tests and bench/engines.py: PostgreSQL (Debian's `postgresql`
package), Redis (Debian's `redis-server`) and helpers to start and stop processes in their own process
group. Loopback and free ports only."""

from __future__ import annotations

import contextlib
import glob
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]  # the checkout: docs/, and the working directory of processes
SCALING_YAML = ROOT / "docs" / "scaling" / "dagster.yaml"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pg_bin(tool: str) -> str | None:
    """A PostgreSQL server binary: Debian keeps them off PATH, under /usr/lib/postgresql/<version>/bin."""
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{tool}"), key=lambda p: int(p.split("/")[4]))
    return found[-1] if found else shutil.which(tool)


def _as_server_user() -> list[str]:
    """initdb and postgres refuse to run as root: then run them as Debian's `postgres` user."""
    return ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []


@dataclass
class Postgres:
    port: int
    user: str
    password: str
    host: str = "127.0.0.1"

    def create_database(self) -> str:
        """A fresh database per test: Dagster's schema is created in it on first use."""
        name = f"ctx_{secrets.token_hex(4)}"
        self.query(f'CREATE DATABASE "{name}"')
        return name

    def connect(self, db: str = "postgres") -> Any:
        """A psycopg2 connection in autocommit (CREATE DATABASE cannot run in a transaction); close it."""
        import psycopg2

        conn = psycopg2.connect(host=self.host, port=self.port, user=self.user, password=self.password, dbname=db)
        conn.autocommit = True
        return conn

    def query(self, sql: str, *args: Any, db: str = "postgres") -> list[tuple]:
        """One statement on its own connection; its rows, if it returns any."""
        conn = self.connect(db)
        try:
            with conn.cursor() as cur:
                cur.execute(sql, args or None)
                return cur.fetchall() if cur.description else []
        finally:
            conn.close()

    def url(self, db: str) -> str:
        return f"postgresql+psycopg2://{self.user}:{self.password}@{self.host}:{self.port}/{db}"

    def env(self, db: str) -> dict[str, str]:
        """What docs/scaling/dagster.yaml reads from the environment."""
        return {"DAGSTER_PG_USERNAME": self.user, "DAGSTER_PG_PASSWORD": self.password,
                "DAGSTER_PG_HOST": self.host, "DAGSTER_PG_PORT": str(self.port), "DAGSTER_PG_DB": db}

    def home(self, folder: Path, stock: bool = False, dequeue_seconds: int | None = None) -> dict[str, str]:
        """A ctx home whose Dagster instance is docs/scaling/dagster.yaml on a new database: the env to run with.
        `stock`: dagster-postgres's own `storage: postgres` with the same config instead of our kept storage.
        `dequeue_seconds`: the daemon's run queue looks this often (Dagster's own setting; default 5 s), for
        tests that wait on a daemon: the queue's pace is not what they check."""
        dagster_home = folder / ".ctx" / "dagster"
        dagster_home.mkdir(parents=True, exist_ok=True)
        config = yaml.safe_load(SCALING_YAML.read_text())
        if stock:
            config["storage"] = {"postgres": config["storage"]["custom"]["config"]}
        if dequeue_seconds is not None:
            config["run_coordinator"]["config"]["dequeue_interval_seconds"] = dequeue_seconds
        (dagster_home / "dagster.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
        return {"CTX_HOME": str(folder / ".ctx"), "DAGSTER_HOME": str(dagster_home),
                **self.env(self.create_database())}


@contextlib.contextmanager
def postgres_server(timeout: float = 60) -> Iterator[Postgres]:
    """initdb into a temp dir, serve on 127.0.0.1:<free port> (socket in the temp dir), stop and delete at the end."""
    initdb, pg_ctl = pg_bin("initdb"), pg_bin("pg_ctl")
    assert initdb and pg_ctl, "PostgreSQL server binaries are missing"
    # Not pytest's tmp_path: that is private to the test user, and the server may run as `postgres`.
    base = Path(tempfile.mkdtemp(prefix="ctx-pg-"))
    run_as = _as_server_user()
    if run_as:
        shutil.chown(base, "postgres", "postgres")
    pg = Postgres(port=free_port(), user="ctx", password=secrets.token_urlsafe(18))
    pwfile = base / "pw"
    pwfile.write_text(pg.password + "\n")
    if run_as:
        shutil.chown(pwfile, "postgres", "postgres")
    data = base / "data"
    try:
        subprocess.run([*run_as, initdb, "-D", str(data), "-U", pg.user, f"--pwfile={pwfile}", "--auth=scram-sha-256",
                        "-E", "UTF8", "--locale=C", "--no-sync"], check=True, capture_output=True, timeout=timeout)
        pwfile.unlink()
        # fsync off: a throwaway server; durability across power loss is not what these tests measure.
        opts = f"-k {base} -h {pg.host} -p {pg.port} -c fsync=off -c synchronous_commit=off -c max_connections=200"
        subprocess.run([*run_as, pg_ctl, "-D", str(data), "-l", str(base / "log"), "-w", "-t", str(int(timeout)),
                        "-o", opts, "start"], check=True, capture_output=True, timeout=timeout + 10)
        yield pg
    finally:
        if (data / "postmaster.pid").exists():
            subprocess.run([*run_as, pg_ctl, "-D", str(data), "-m", "immediate", "-w", "stop"],
                           capture_output=True, timeout=timeout)
        shutil.rmtree(base, ignore_errors=True)


def stop_group(proc: subprocess.Popen, grace: float = 30) -> None:
    """SIGTERM the process group started with start_new_session=True, then SIGKILL what is left."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=grace)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=grace)


def wait_for(what: str, check, timeout: float, every: float = 1.0):
    """Poll `check()` until it returns something truthy; fail with `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


@contextlib.contextmanager
def redis_server(folder: Path, timeout: float = 30) -> Iterator[str]:
    """A throwaway Redis (Debian's `redis-server`) on 127.0.0.1:<free port>, no persistence: the broker URL."""
    port = free_port()
    proc = subprocess.Popen([shutil.which("redis-server") or "redis-server", "--bind", "127.0.0.1", "--port", str(port),
                             "--save", "", "--appendonly", "no", "--dir", str(folder)],
                            start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        def up() -> bool:
            assert proc.poll() is None, "redis-server exited"
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")
            return False

        wait_for("redis-server to answer PING", up, timeout, every=0.2)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        stop_group(proc)


@dataclass
class Process:
    """A long-running ctx/Dagster process in its own process group, its output in a log file (a pipe
    nobody reads would fill up and block it)."""

    name: str
    popen: subprocess.Popen
    log: Path

    def assert_running(self) -> None:
        if self.popen.poll() is not None:
            tail = self.log.read_text(errors="replace")[-3000:]
            raise AssertionError(f"{self.name} exited with {self.popen.returncode}:\n{tail}")

    def stop(self) -> None:
        stop_group(self.popen)


def start(name: str, args: list[str], env: dict[str, str], logs: Path) -> Process:
    """Start `args` with `env` added, output in `logs`/`name`.log; stop it with Process.stop()."""
    logs.mkdir(parents=True, exist_ok=True)
    log = logs / f"{name}.log"
    with log.open("ab") as out:
        popen = subprocess.Popen(args, cwd=ROOT, env={**os.environ, **env}, start_new_session=True,
                                 stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
    return Process(name, popen, log)


def warm_build_pid(path: Path) -> int | None:
    """The pid a warm build process (ctx_assets/build/server.py) greets with on its socket `path`, or None
    when nobody listens there."""
    with contextlib.suppress(OSError, ValueError), socket.socket(socket.AF_UNIX) as s:
        s.settimeout(5)
        s.connect(str(path))
        return int(s.recv(32).decode().strip())
    return None
