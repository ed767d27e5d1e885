"""The warm build process: `ctx build` (and `ctx status`) hands its whole command to a process that has
Dagster imported and the last build's caches in memory, so an edit of one target costs the edit, not
Python's start-up, and a status reads what the last build left in memory.

A `ctx build` that ran Dagster in its own process leaves one such process behind, keyed by everything a
build's result depends on besides its arguments: the ctx home, the Dagster home, the interpreter and the
code (each module's size and modification time), so changed code or another home gets a process of its
own and an outdated one is never used. The client sends its arguments, working directory and environment
over a Unix socket in a private folder (0700, the peer's uid checked) with its stdin, stdout and stderr
themselves (SCM_RIGHTS), so everything the build prints reaches the user's terminal as if run there. The
process serves one build at a time; a client that finds it busy, gone or mid-crash builds in its own
process as before. Idle for CTX_BUILD_SERVER_IDLE_SECONDS (10 minutes) it exits; CTX_BUILD_SERVER=0 turns
the whole path off, and it is off under CI. Ctrl-C in the client interrupts the build and ends the process.

Importing this module costs the client nothing but the standard library; Dagster is imported by `serve`.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

from ctx_assets.settings import settings

# A process that does not greet within this is busy with another build (one that is finishing the last
# build's cache files greets within a second).
GREETING_SECONDS = 2.0
INTERRUPT_SECONDS = 10.0  # after Ctrl-C, how long the build may take to stop before its process is killed
_PACKAGE = Path(__file__).resolve().parents[1]
_MAX_REQUEST = 4 << 20


def code_fingerprint() -> str:
    """Every module of the package (path, size, mtime): a process started on other code is never asked."""
    h = hashlib.sha256(sys.executable.encode())
    for root, dirs, files in os.walk(_PACKAGE):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for name in sorted(f for f in files if f.endswith(".py")):
            st = os.stat(os.path.join(root, name))
            h.update(f"{root}/{name}:{st.st_size}:{st.st_mtime_ns}\n".encode())
    return h.hexdigest()


def socket_path() -> Path:
    """Short (a Unix socket path holds ~100 bytes) and private: /tmp/ctx-<uid>/<key>.sock."""
    s = settings()
    key = hashlib.sha256("\0".join([str(s.home.resolve()), str(s.dagster_home.resolve()),
                                    code_fingerprint()]).encode()).hexdigest()[:24]
    folder = Path(tempfile.gettempdir()) / f"ctx-{os.getuid()}"
    folder.mkdir(mode=0o700, exist_ok=True)
    st = folder.stat()
    if st.st_uid != os.getuid() or st.st_mode & 0o077:  # someone else's folder: never talk through it
        raise PermissionError(f"{folder} is not private to this user")
    return folder / f"{key}.sock"


# --- the client: `ctx build`, `ctx status` --------------------------------------------------------------

def delegate(argv: list[str], greeting: float = GREETING_SECONDS) -> int | None:
    """The exit code of `ctx <argv>` run by a warm process, or None when there is none free to ask (none
    greeted within `greeting` seconds)."""
    try:
        path = socket_path()
    except OSError:
        return None
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.settimeout(greeting)
        sock.connect(str(path))
        pid = int(_read_line(sock))
        sock.settimeout(None)
        request = json.dumps({"argv": argv, "cwd": os.getcwd(), "env": dict(os.environ)}).encode()
        socket.send_fds(sock, [struct.pack("!I", len(request)) + request], [0, 1, 2])
    except (OSError, ValueError):
        sock.close()
        return None
    try:
        reply = _read_line(sock)
    except KeyboardInterrupt:
        return _interrupt(sock, pid)
    except OSError:
        reply = ""
    finally:
        sock.close()
    if not reply:  # the process died mid-build: what it staged is recovered by this one (core/staging.py)
        print("ctx: the warm build process stopped; building in this process", file=sys.stderr)
        return None
    return int(reply)


def _interrupt(sock: socket.socket, pid: int) -> int:
    """Ctrl-C: SIGINT to the process and everything it started (a validator, say), as a terminal sends it to
    a local build's whole group; up to INTERRUPT_SECONDS (or a second Ctrl-C) for its build to stop, then
    the process ends (SIGTERM; SIGKILL to the group if it never answered). The next build starts a new one."""
    with contextlib.suppress(OSError):
        os.killpg(pid, signal.SIGINT)  # its own session (start_background): its group is its pid
    answered = False
    try:
        sock.settimeout(INTERRUPT_SECONDS)
        answered = bool(_read_line(sock))
    except (OSError, KeyboardInterrupt):
        pass
    finally:
        sock.close()
    with contextlib.suppress(OSError):
        if answered:
            os.kill(pid, signal.SIGTERM)
        else:
            os.killpg(pid, signal.SIGKILL)
    print("ctx: interrupted", file=sys.stderr)
    return 130


def start_background(argv: list[str]) -> None:
    """A warm process for the next build of this home and code (when none is there, and it is wanted); it
    starts in this directory and environment and warms up on the manifest `argv` built."""
    if not settings().build_server:
        return
    with contextlib.suppress(OSError):
        path = socket_path()
        logs = settings().home / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        with open(logs / "build-server.log", "ab") as log:
            subprocess.Popen([sys.executable, "-m", "ctx_assets.build.server", str(path), *argv],
                             stdin=subprocess.DEVNULL,
                             stdout=log, stderr=log, start_new_session=True, close_fds=True)


def _read_line(sock: socket.socket) -> str:
    data = b""
    while not data.endswith(b"\n"):
        chunk = sock.recv(64)
        if not chunk:
            break
        data += chunk
    return data.decode().strip()


# --- the process ---------------------------------------------------------------------------------------

def serve(path: Path, built: list[str] | None = None) -> None:
    """Bind `path` (one process per key: the lock), warm up, then serve builds one by one until idle."""
    import fcntl

    lock = open(f"{path}.lock", "w")  # noqa: SIM115 - held for the process's life
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return  # another process serves this key
    from ctx_assets.build.home import keep_instances
    from ctx_assets.cli.app import run

    keep_instances()
    _warm_up(run, built or [])  # a real build: Dagster, the definitions and the build client imported once

    with contextlib.suppress(FileNotFoundError):
        path.unlink()
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(path))
    listener.listen(8)
    listener.settimeout(settings().build_server_idle_seconds or None)
    _log(f"warm build process {os.getpid()} serving {path}")
    signal.signal(signal.SIGTERM, _stop)
    try:
        while not _stopping:
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                return
            with conn:
                if not _serve_one(conn, run):
                    return
            signal.signal(signal.SIGTERM, _stop)  # again after each build: Dagster's runs install their own
            gc.collect()  # after the answer: the build's garbage goes now, not in the middle of the next build
    finally:
        for leftover in (path, Path(lock.name)):
            with contextlib.suppress(FileNotFoundError):
                leftover.unlink()


def _warm_up(run: object, built: list[str]) -> None:
    """One small build in a scratch home, its output discarded: the modules a build imports on its way and
    the caches filled on first use are ready before the first user waits for them. Then the status of the
    bundle `built` (the arguments of the build that started this process) as a build computes it, read
    only: its instance opened and read, its slices and seed parsed once, the heap grown to a build's size."""
    with tempfile.TemporaryDirectory(prefix="ctx-warm-up-") as tmp:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "CTX_", "DAGSTER_"))}
        env.update(CTX_HOME=f"{tmp}/.ctx", DAGSTER_HOME=f"{tmp}/.ctx/dagster", CTX_BUILD_SERVER="0")
        null = [os.open(os.devnull, os.O_RDWR) for _ in range(3)]
        _run_as_client({"argv": ["init", "--name", "warm-up"], "cwd": tmp, "env": env}, null, run)
        null = [os.open(os.devnull, os.O_RDWR) for _ in range(3)]
        _run_as_client({"argv": ["build", ".contextcore.yaml"], "cwd": tmp, "env": env}, null, run)
        from ctx_assets.build.home import forget_instance

        forget_instance(Path(env["DAGSTER_HOME"]))
    with contextlib.suppress(Exception):  # only a warm-up: a manifest edited or gone since costs nothing
        from ctx_assets.build.status import compute_status
        from ctx_assets.cli.common import out_for
        from ctx_assets.cli.parser import build_parser

        args = build_parser().parse_args(built)
        if args.command == "build" and Path(args.path).is_file():
            compute_status(args.path, out_for(args.path, args.out))
    gc.collect()  # the warm-up's garbage, before anyone waits


def _serve_one(conn: socket.socket, run: object) -> bool:
    """One client's command; False when this process should end (the build was interrupted)."""
    uid = struct.unpack("3i", conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i")))[1]
    if uid != os.getuid():
        return True
    try:
        conn.sendall(f"{os.getpid()}\n".encode())
        request, fds = _receive(conn)
    except (OSError, ValueError):
        return True  # a client that gave up waiting for the greeting
    started, cpu = time.perf_counter(), time.process_time()

    def reply(code: int) -> None:
        with contextlib.suppress(OSError):
            conn.sendall(f"{code}\n".encode())
        # what it built for whom, and how long it took (CPU time apart: a busy machine shows as the difference)
        _log(f"ctx {' '.join(request['argv'])} (in {request['cwd']}): exit {code} in "
             f"{time.perf_counter() - started:.2f} s (CPU {time.process_time() - cpu:.2f} s)")

    return not _run_as_client(request, fds, run, reply)


def _receive(conn: socket.socket) -> tuple[dict, list[int]]:
    data, fds, _, _ = socket.recv_fds(conn, 65536, 3)
    try:
        if len(fds) != 3 or len(data) < 4:
            raise ValueError("incomplete request")
        size = struct.unpack("!I", data[:4])[0]
        if size > _MAX_REQUEST:
            raise ValueError("request too large")
        body = data[4:]
        while len(body) < size:
            chunk = conn.recv(min(65536, size - len(body)))
            if not chunk:
                raise ValueError("incomplete request")
            body += chunk
        return json.loads(body), fds
    except (OSError, ValueError):  # the client's descriptors are not kept for a request that never came
        for fd in fds:
            os.close(fd)
        raise


def _log(line: str) -> None:
    """The process's own log (<home>/logs/build-server.log: its stderr)."""
    print(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} {line}", file=sys.stderr, flush=True)


def _run_as_client(request: dict, fds: list[int], run: object, reply: object = None) -> bool:
    """`ctx <argv>` with the client's directory, environment and standard streams, `reply(exit code)`, then
    the work only later commands need (core/afterwards.py: cache files) still in the client's directory
    and environment but off its streams; the process's own back afterwards. True if it was interrupted.
    The caches a build keeps in memory (the instance, parsed documents) carry over to the next."""
    from ctx_assets.core.afterwards import deferring
    from ctx_assets.telemetry.providers import Telemetry

    saved_env, saved_cwd = dict(os.environ), os.getcwd()
    saved_fds = [os.dup(fd) for fd in (0, 1, 2)]
    interrupted = False
    try:
        os.environ.clear()
        os.environ.update(request["env"])
        os.chdir(request["cwd"])
        with deferring() as finish:
            try:
                for fd, target in zip(fds, (0, 1, 2), strict=True):
                    os.dup2(fd, target)
                # Tracing is configured from the environment (trace file, OTLP endpoint, Pushgateway): this
                # client's, and every span written before it has its answer (`ctx trace --last` next).
                Telemetry.reset()
                _forget_previous_client()
                code = run(request["argv"])
            except SystemExit as e:  # argparse: --help, a usage error
                code = e.code if isinstance(e.code, int) else (0 if e.code is None else 2)
            except KeyboardInterrupt:
                code = 130
            except Exception:  # `--debug` lets errors through: the traceback, as a local run would print it
                traceback.print_exc()
                code = 1
            finally:
                with contextlib.suppress(Exception):
                    Telemetry.reset()
                for stream in (sys.stdout, sys.stderr):
                    with contextlib.suppress(Exception):
                        stream.flush()
                for saved, target in zip(saved_fds, (0, 1, 2), strict=True):
                    os.dup2(saved, target)
            interrupted = code == 130
            if reply is not None:
                reply(int(code))
            for e in finish():
                print(f"  deferred work failed: {type(e).__name__}: {e}", file=sys.stderr, flush=True)
    finally:
        for fd in (*saved_fds, *fds):
            os.close(fd)
        os.environ.clear()
        os.environ.update(saved_env)
        os.chdir(saved_cwd)
    return interrupted


def _forget_previous_client() -> None:
    """What a process caches from its environment or working directory, made again for this client: the
    shared resources (OTEL_SDK_DISABLED, the validators), output folders resolved from relative paths, the
    last seed parsed by path."""
    from ctx_assets.core import fsio
    from ctx_assets.defs.resource_keys import shared_resources
    from ctx_assets.resources import output_store

    shared_resources.cache_clear()
    fsio._resolved_dir.cache_clear()  # a relative --out is another folder in another working directory
    output_store.forget_parsed()


class _Stopped(BaseException):
    """SIGTERM: out of any build (its staging discarded as on a fault), the socket removed, the process gone."""


_stopping = False


def _stop(*_: object) -> None:
    # Raised inside a garbage-collection callback the exception is swallowed; the flag is not.
    global _stopping
    _stopping = True
    raise _Stopped


if __name__ == "__main__":
    signal.signal(signal.SIGHUP, signal.SIG_IGN)  # the terminal that started the first build may close
    # Dagster's runs turn SIGTERM into KeyboardInterrupt while they execute (and leave it so): either ends it.
    with contextlib.suppress(_Stopped, KeyboardInterrupt):
        serve(Path(sys.argv[1]), sys.argv[2:])
