"""`ctx build` and `ctx status` on a built 1,000-target bundle, as a user runs them between edits: each a
fresh `ctx` process, wall clock, median of three.

    python -m bench.cli_live [--targets 1000] [--repeat 3] [--no-record]

Figures: `noop_1000_seconds` (`ctx build` with nothing stale), `status_1000_seconds` (`ctx status`) and
`incremental_1000_seconds` (`ctx build` after saving one target's namespace, a different target each
time; 7 artifacts rebuilt), answered by the warm build process the first build left (as on a user's
machine; `cli_live_details` also holds the same edit and `ctx status` with CTX_BUILD_SERVER=0, a fresh
process doing it all).
`cli_live_phases` is where each command's time goes: the cumulative seconds
of its main steps, from one run under cProfile (which adds its own overhead: read them as shares; steps
nest, e.g. `_find_and_load` is the modules the command imports as it goes, inside the others).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from bench.run import ROOT, manifest, record_or_print
from tests.support.servers import warm_build_pid

# The steps whose cumulative time `phases` reports, by (module suffix, function name).
STEPS = {
    "status": [("cli/status.py", "_status_one"), ("importlib._bootstrap>", "_find_and_load"),
               ("core/validate.py", "validate_file"), ("build/fresh.py", "memo_statuses"),
               ("core/plan_memo.py", "read_memo"), ("build/fresh.py", "recorded_for"),
               ("core/checksums.py", "file_checksum"), ("core/checksums.py", "load_index"),
               ("core/checksums.py", "save_index"), ("cli/common.py", "print_json")],
    "build": [("cli/build.py", "cmd_build"), ("importlib._bootstrap>", "_find_and_load"),
              ("core/validate.py", "validate_file"), ("build/fresh.py", "memo_statuses"),
              ("core/plan_memo.py", "read_memo"), ("build/fresh.py", "recorded_for"),
              ("core/checksums.py", "file_checksum"), ("core/checksums.py", "save_index"),
              ("telemetry/build_trace.py", "__exit__"), ("cli/build.py", "_print_build_table")],
}


def _ctx(env: dict[str, str], *args: str) -> tuple[float, subprocess.CompletedProcess]:
    t = time.perf_counter()
    p = subprocess.run([sys.executable, "-m", "ctx_assets.cli", *args], cwd=ROOT, capture_output=True, text=True,
                       env={**os.environ, **env})
    seconds = time.perf_counter() - t
    if p.returncode:
        raise SystemExit(f"ctx {' '.join(args)} failed:\n{p.stderr[-3000:]}")
    return seconds, p


def _edit(path: Path, target: int) -> None:
    data = yaml.safe_load(path.read_text())
    data["spec"]["targets"][target]["namespace"] = f"edited-{target}"
    path.write_text(yaml.safe_dump(data, sort_keys=False))


def phases(env: dict[str, str], args: list[str], command: str, folder: Path) -> dict[str, float]:
    """Cumulative seconds of each step of STEPS[command], from one profiled run, plus the whole and imports."""
    import pstats

    prof = folder / f"{command}.prof"
    code = "\n".join([
        "import cProfile, sys, time",
        "t = time.perf_counter()",
        "from ctx_assets.cli import main",
        "print('IMPORT', time.perf_counter() - t, file=sys.stderr)",
        "sys.argv = ['ctx', *sys.argv[1:]]",
        "pr = cProfile.Profile()",
        "pr.enable()",
        "try:",
        "    main()",
        "except SystemExit:",
        "    pass",
        "pr.disable()",
        f"pr.dump_stats({str(prof)!r})",
    ])
    t = time.perf_counter()
    p = subprocess.run([sys.executable, "-c", code, *args], cwd=ROOT, capture_output=True, text=True,
                       env={**os.environ, **env})
    whole = time.perf_counter() - t
    imported = float(next(line.split()[1] for line in p.stderr.splitlines() if line.startswith("IMPORT ")))
    stats = pstats.Stats(str(prof)).stats  # type: ignore[attr-defined]
    out = {"whole process (s)": whole, "import ctx_assets.cli (s)": imported}
    for suffix, name in STEPS[command]:
        cum = sum(v[3] for (file, _, fn), v in stats.items() if fn == name and file.endswith(suffix))
        out[f"{suffix}:{name}"] = cum
    return out


def measure(n: int, repeat: int, folder: Path) -> dict:
    env = {"CTX_HOME": str(folder / ".ctx"), "DAGSTER_HOME": str(folder / ".ctx" / "dagster")}
    path, out = manifest(n, folder), folder / "out"
    build = ["build", str(path), "--out", str(out), "--json"]
    print(f"bench: cli_live {n}: first build", file=sys.stderr, flush=True)
    _ctx(env, *build)
    # A user's next edit comes seconds after the first build, by when the warm process it started is up.
    deadline = time.monotonic() + 120
    while _warm_pid(env) is None and time.monotonic() < deadline:
        time.sleep(0.5)
    noop, status, incremental = [], [], []
    for i in range(repeat):
        s, p = _ctx(env, *build)
        assert not json.loads(p.stdout)["materialized"], "the no-op build rebuilt something"
        noop.append(s)
        s, p = _ctx(env, "status", str(path), "--out", str(out), "--json")
        assert {a["status"] for a in json.loads(p.stdout)["artifacts"]} == {"fresh"}
        status.append(s)
        _edit(path, n // 2 + i)
        s, p = _ctx(env, *build)
        built = json.loads(p.stdout)["materialized"]
        assert len(built) == 7, built
        incremental.append(s)
        print(f"bench: cli_live {n} #{i + 1}: no-op {noop[-1]:.2f} s, status {status[-1]:.2f} s, "
              f"one-target edit {incremental[-1]:.2f} s", file=sys.stderr, flush=True)
    warm = _warm_pid(env)
    assert warm, "no warm build process answered (ctx_assets/build/server.py)"
    cold_env = {**env, "CTX_BUILD_SERVER": "0"}  # the same edit as a fresh process doing all the work itself
    cold, cold_status = [], []
    for i in range(repeat):
        _edit(path, n // 2 + repeat + i)
        cold.append(_ctx(cold_env, *build)[0])
        cold_status.append(_ctx(cold_env, "status", str(path), "--out", str(out), "--json")[0])
        print(f"bench: cli_live {n} #{i + 1}: in its own process: one-target edit {cold[-1]:.2f} s, "
              f"status {cold_status[-1]:.2f} s", file=sys.stderr, flush=True)
    _ctx(env, *build)  # the edit's provenance settled: the profiled runs below are the no-op and status again
    os.kill(warm, signal.SIGTERM)
    # What the warm process says of each build it answered (wall and CPU seconds inside it): a figure above with
    # no line here was built by the client itself (the process was busy or not up yet).
    served = [line.split(" ", 1)[1].replace(f" (in {ROOT})", "") for line in
              (folder / ".ctx" / "logs" / "build-server.log").read_text().splitlines() if " exit " in line]
    return {f"noop_{n}_seconds": statistics.median(noop), f"status_{n}_seconds": statistics.median(status),
            f"incremental_{n}_seconds": statistics.median(incremental),
            "cli_live_details": {"noop": noop, "status": status, "incremental": incremental,
                                 "incremental_without_warm_process": cold,
                                 "status_without_warm_process": cold_status, "warm_process_pid": warm,
                                 "warm_process_log": served},
            "cli_live_phases": {"status": phases(cold_env, ["status", str(path), "--out", str(out), "--json"],
                                                 "status", folder),
                                "noop build": phases(cold_env, build, "build", folder)}}


def _warm_pid(env: dict[str, str]) -> int | None:
    """The pid of the warm build process of this home (its greeting), or None."""
    from ctx_assets.build import server

    saved = dict(os.environ)
    os.environ.update(env)
    try:
        path = server.socket_path()
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return warm_build_pid(path)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--targets", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--no-record", action="store_true")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix=f"ctx-bench-cli-{a.targets}-") as tmp:
        figures = measure(a.targets, a.repeat, Path(tmp))
    record_or_print(figures, "cli_live", a.no_record)


if __name__ == "__main__":
    os.chdir(ROOT)
    main()
