"""`make bench`: the benchmark figures, all measured in one run, into bench/results.json and
docs/benchmarks.md. Every part runs in its own subprocess (fresh memory, fresh instance, fresh caches);
`ctx build` and `ctx export --artifacts` are timed as a user runs them (a fresh `ctx` process each).

    python -m bench.run [--dagster-targets N] [--huge N] [--large N]

--dagster-targets: the large Dagster build (default 1,000); --huge: the largest (default
10,000; 0 skips it). A figure is recorded at the size it was measured, never extrapolated.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "online-boutique.contextcore.yaml"
PEER = {"export_2": 0.53, "export_100": 1.02, "export_1000": 7.16}  # ContextCore `manifest export`


def manifest(n: int, folder: Path) -> Path:
    data = yaml.safe_load(EXAMPLE.read_text())
    data["spec"]["targets"] = [{"kind": "Deployment", "name": f"svc-{i:04d}", "namespace": f"team-{i % 7}"}
                               for i in range(n)]
    path = folder / f"bench-{n}.contextcore.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    past = time.time() - 60
    os.utime(path, (past, past))
    return path


def _isolate(folder: Path) -> None:
    os.environ["CTX_HOME"] = str(folder / ".ctx")
    os.environ["DAGSTER_HOME"] = str(folder / ".ctx" / "dagster")
    os.environ["CTX_TRACE_FILE"] = str(folder / ".ctx" / "traces" / "spans.jsonl")
    os.environ.pop("OTEL_EXPORTER_OTLP_ENDPOINT", None)


def part_pure(n: int, folder: Path) -> dict:
    from ctx_assets.core.artisan import build_bundle
    from ctx_assets.core.pipeline import build_without_orchestrator, export_and_plan
    from ctx_assets.resources.validators import ExternalValidators

    out: dict = {}
    for size in (2, 100, n):
        path = manifest(size, folder)
        t = time.perf_counter()
        run = export_and_plan(path, folder / f"out-export-{size}")
        out[f"export_plan_{size}_seconds"] = time.perf_counter() - t
        assert not run.blocked
    t = time.perf_counter()
    results = build_bundle(run.seed["tasks"], run.source_checksum)
    gen = time.perf_counter() - t
    assert all(r.status == "built" for r in results)
    out["pure_artifacts"] = len(results)
    out["pure_generation_seconds"] = gen
    out["pure_artifacts_per_second_per_core"] = len(results) / gen  # one process = one core
    t = time.perf_counter()
    full = build_without_orchestrator(path, folder / f"out-bundle-{n}",
                                      validators=ExternalValidators(cache_dir=str(folder / "vcache")).validate)
    out[f"bundle_{n}_seconds"] = time.perf_counter() - t  # complete, validated (promtool/amtool), written
    assert not full.blocked, [g for g in full.all_gates() if g.blocks][:3]
    out["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


def part_defs(n: int, folder: Path) -> dict:
    os.environ["CTX_MANIFEST"] = str(manifest(n, folder))
    t = time.perf_counter()
    from ctx_assets.location import defs

    defs.resolve_implicit_global_asset_job_def()
    defs.resolve_asset_graph()
    return {"definitions_load_seconds": time.perf_counter() - t}


def part_sensor(n: int, folder: Path) -> dict:
    from dagster import build_sensor_context

    from ctx_assets.build import get_instance
    from ctx_assets.definitions import definitions_for, projects_for

    path, out = manifest(n, folder), folder / "out"
    instance = get_instance()
    (p,) = projects_for([path], bundle_dirs=[out])
    defs = definitions_for([p])
    job = defs.resolve_implicit_global_asset_job_def()
    job.execute_in_process(instance=instance, asset_selection=p.stage_keys("shared"), raise_on_error=False)

    def tick(cursor):
        ctx = build_sensor_context(instance=instance, cursor=cursor)
        t = time.perf_counter()
        result = defs.sensors[0](ctx)
        return time.perf_counter() - t, result, ctx.cursor

    _, _, cursor = tick(None)  # baseline cursor
    data = yaml.safe_load(path.read_text())
    data["spec"]["targets"][n // 2]["namespace"] = "edited"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    past = time.time() - 60
    os.utime(path, (past, past))
    t1, r1, cursor = tick(cursor)  # phase 1: detects the edit, requests the shared stages
    job.execute_in_process(instance=instance, asset_selection=p.stage_keys("shared"), raise_on_error=False)
    t2, r2, cursor = tick(cursor)  # phase 2: one run request, for the edited target
    return {"sensor_tick_seconds": max(t1, t2), "sensor_phase1_seconds": t1, "sensor_phase2_seconds": t2,
            "sensor_phase2_requests": len(getattr(r2, "run_requests", []) or [])}


def part_dagster(n: int, folder: Path, floor: bool, tracing: bool, incremental: bool) -> dict:
    from bench.floor import floor_definitions
    from ctx_assets.build import build_with, run_build
    from ctx_assets.defs.project import project_of

    if not tracing:  # OpenTelemetry's own switch, read when the definitions are made
        os.environ["OTEL_SDK_DISABLED"] = "true"
    path, out = manifest(n, folder), folder / "out"
    targets = [f"svc-{i:04d}" for i in range(n)]
    t = time.perf_counter()
    if floor:
        s = build_with(floor_definitions(targets, str(path)), project_of(path), path, out)
    else:
        s = run_build(path, out)
    result = {"seconds": time.perf_counter() - t, "ok": s.ok, "materialized": len(s.materialized)}
    if incremental:
        data = yaml.safe_load(path.read_text())
        data["spec"]["targets"][n // 2]["namespace"] = "edited"
        path.write_text(yaml.safe_dump(data, sort_keys=False))
        t = time.perf_counter()
        s2 = run_build(path, out, stale_only=True)
        result.update(incremental_seconds=time.perf_counter() - t, incremental_materialized=len(s2.materialized),
                      incremental_ids=sorted(s2.materialized)[:10])
    return result


def timed_ctx(*args: str, env: dict[str, str] | None = None) -> tuple[float, subprocess.CompletedProcess]:
    """A fresh `ctx` process (with `env` added to this one's), timed by the wall clock."""
    t = time.perf_counter()
    p = subprocess.run([sys.executable, "-m", "ctx_assets.cli", *args], cwd=ROOT, capture_output=True, text=True,
                       env={**os.environ, **(env or {})})
    return time.perf_counter() - t, p


def part_cli(n: int, folder: Path, incremental: bool, pure: bool) -> dict:
    """`ctx build` of n targets as a user runs it (a fresh process, wall clock, peak RSS of that process),
    then, in the same run, a one-target edit and `ctx export --artifacts` on the same manifest."""
    path, out = manifest(n, folder), folder / "out"
    seconds, p = timed_ctx("build", str(path), "--out", str(out), "--json")
    if p.returncode:
        raise SystemExit(f"ctx build failed:\n{p.stderr[-3000:]}")
    result = {"seconds": seconds, "materialized": len(json.loads(p.stdout)["materialized"]),
              "runs": len(json.loads(p.stdout)["run_ids"]),
              "peak_rss_mib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}
    if incremental:
        data = yaml.safe_load(path.read_text())
        data["spec"]["targets"][n // 2]["namespace"] = "edited"
        path.write_text(yaml.safe_dump(data, sort_keys=False))
        seconds, p = timed_ctx("build", str(path), "--out", str(out), "--json")
        assert p.returncode == 0, p.stderr[-2000:]
        done = json.loads(p.stdout)["materialized"]
        result.update(incremental_seconds=seconds, incremental_materialized=len(done), incremental_ids=sorted(done))
    if pure:
        seconds, p = timed_ctx("export", str(path), "--artifacts", "--out", str(folder / "pure"))
        assert p.returncode == 0, p.stderr[-2000:]
        result["pure_seconds"] = seconds
    return result


def _sub(part: str, **kw) -> dict:
    with tempfile.TemporaryDirectory(prefix=f"ctx-bench-{part}-") as tmp:
        cmd = [sys.executable, "-m", "bench.run", "--part", part, "--folder", tmp, "--kw", json.dumps(kw)]
        print(f"bench: {part} {kw}", file=sys.stderr, flush=True)
        p = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
        if p.returncode:
            raise SystemExit(f"bench part {part} failed:\n{p.stderr[-3000:]}")
        return json.loads(p.stdout.strip().splitlines()[-1])


def record_or_print(figures: dict, what: str, no_record: bool) -> None:
    """`record` the figures, or with --no-record only print them (a trial run leaves results.json alone)."""
    if no_record:
        print(json.dumps(figures, indent=2))
    else:
        record(figures, what)


def record(figures: dict, what: str) -> None:
    """Merge `figures` into bench/results.json (kept figures of other parts stay), stamped `<what>_measured_at`
    with this machine."""
    path = ROOT / "bench" / "results.json"
    results = json.loads(path.read_text()) if path.exists() else {}
    results.update(figures)
    results[f"{what}_machine"] = machine()
    results[f"{what}_measured_at"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    path.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    print(json.dumps(figures, indent=2))


def machine() -> dict:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    mem = next((int(line.split()[1]) // 1024 // 1024 for line in Path("/proc/meminfo").read_text().splitlines()
                if line.startswith("MemTotal")), 0)
    return {"cpu": cpu, "cores": os.cpu_count(), "memory_gib": mem, "python": platform.python_version(),
            "platform": platform.platform()}


BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"


def _fmt(v: object, unit: str = "") -> str:
    if v is None:
        return "not measured"
    return f"{v:,.3f}{unit}" if isinstance(v, float) else f"{v}{unit}"


def _median(values: list[float] | None) -> float | None:
    return statistics.median(values) if values else None


def _secs(v: object) -> str:
    return "not measured" if v is None else f"{v:,.1f} s"


def render_table(r: dict) -> str:
    big, n = r["dagster_large_targets"], r["large_targets"]
    huge = next((int(k.split("_")[1]) for k in r if k.startswith("full_") and k.endswith("_seconds")
                 and k.split("_")[1].isdigit() and int(k.split("_")[1]) > big), None)
    sp = {str(k): v for k, v in r["export_speedup_vs_peer"].items()}  # int keys in memory, str from JSON
    live, cold = r.get("cli_live_details") or {}, "incremental_without_warm_process"
    edits = len(live.get("incremental") or []) or 3
    rows = [
        ("`ctx build`, 11 targets (the example's size)", _secs(r["full_11_seconds"]), "≤ 5 s", "fresh process"),
        (f"`ctx build`, {big:,} targets", _secs(r[f"full_{big}_seconds"]), "≤ 45 s",
         f"{r.get(f'full_{big}_runs')} Dagster runs; fresh home"),
        (f"`ctx export --artifacts`, same {big:,} targets, same run", _secs(r[f"pure_{big}_seconds"]), "—",
         "no orchestrator"),
        (f"`ctx build` ÷ `ctx export --artifacts` at {big:,}", _fmt(r[f"full_{big}_ratio_to_pure"]), "≤ 5", ""),
        ("`ctx build`, 300 targets ÷ `ctx export --artifacts` on it", _fmt(r.get("full_300_ratio_to_pure")), "≤ 5",
         f"{_secs(r.get('full_300_seconds'))} vs {_secs(r.get('pure_300_seconds'))}; "
         f"{r.get('full_300_runs')} Dagster runs"),
        (f"one-target edit of {big:,}, `ctx build` (incremental)", _secs(r[f"incremental_{big}_seconds"]), "≤ 3 s",
         f"`ctx build` answered by the warm build process; 7 artifacts rebuilt; median of {edits} edits "
         f"(bench/cli_live.py); without it (CTX_BUILD_SERVER=0) {_secs(_median(live.get(cold)))}"),
        (f"no-op `ctx build` of {big:,}", _secs(r.get(f"noop_{big}_seconds")), "≤ 2 s",
         f"nothing stale, answered by the warm build process; median of {edits}"),
        (f"`ctx status` of {big:,}", _secs(r.get(f"status_{big}_seconds")), "≤ 1.5 s",
         f"fresh process; median of {edits}"),
        (f"one-target edit of {big:,}, in a running process (information)",
         _secs(r.get(f"incremental_{big}_in_process_seconds")), "—",
         "`run_build` again in the process that built: no start-up or imports"),
        (f"no-op floor, same shape, {big:,} targets (information)", _secs(r[f"floor_{big}_seconds"]), "—",
         "in process"),
        (f"peak RSS, `ctx build` of {big:,} (MiB)", _fmt(r.get(f"peak_rss_mib_{big}")), "≤ 1,536", ""),
        (f"`ctx build`, {huge or 10000:,} targets", _secs(r.get(f"full_{huge}_seconds")), "completes", ""),
        (f"peak RSS, `ctx build` of {huge or 10000:,} (MiB)", _fmt(r.get(f"peak_rss_mib_{huge}")), "≤ 1,536", ""),
        ("tracing on ÷ off (11 targets)", _fmt(r["tracing_overhead_ratio"]), "≤ 1.05", "in process"),
        ("pure generation, artifacts/s/core", _fmt(r["pure_artifacts_per_second_per_core"]), "≥ 2,000",
         "DESIGN + IMPLEMENT + in-product validation, 7,000 artifacts"),
        ("export + plan, 2 / 100 / 1,000 targets: speed-up vs ContextCore",
         " / ".join(_fmt(sp.get(k)) for k in ("2", "100", str(n))), "≥ 5×", "peer 0.53 / 1.02 / 7.16 s"),
        (f"complete validated bundle, {n:,} targets, no Dagster (s)",
         _fmt(r[f"bundle_{n}_seconds_without_dagster"]), "< 7.16", "incl. promtool/amtool, written"),
        ("sensor tick, 1,000 targets (s)", _fmt(r["sensor_tick_seconds_1000"]), "≤ 2", ""),
        ("Definitions load, 1,000 targets (s)", _fmt(r["definitions_load_seconds_1000"]), "≤ 2", ""),
        ("live rebuild through `ctx ui`'s sensor, 11 targets: save → artifacts", _secs(r.get("sensor_edit_11_seconds")),
         "≤ 10 s", "real `ctx ui`, real edit, median of 5 (bench/sensor_edit.py)"),
        ("live rebuild, 1,000 targets: save → artifacts", _secs(r.get("sensor_edit_1000_seconds")), "≤ 15 s",
         "same"),
        ("live rebuild: artifacts → provenance", _secs(r.get("sensor_provenance_lag_seconds")), "≤ 5 s",
         "the larger of the two sizes' medians"),
    ]
    m = r["machine"]
    out = [BEGIN, "", f"Measured {r['date']} on {m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB, "
           f"Python {m['python']} ({m['platform']}). Raw figures: `bench/results.json`."
           + "".join(f" {what} rows: measured {r[key]} (same machine class)." for what, key in PARTS if r.get(key)), "",
           "| figure | measured | goal | note |", "| --- | --- | --- | --- |"]
    out += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows]
    return "\n".join(out + ["", END])


# Parts a single bench module re-measures on its own, and when (their rows may be newer than the full run).
PARTS = (("The no-op, status and one-target-edit", "cli_live_measured_at"),
         ("The live-rebuild", "sensor_edit_measured_at"))


def write_markdown(results: dict) -> None:
    path = ROOT / "docs" / "benchmarks.md"
    text = path.read_text() if path.exists() else f"# Benchmarks\n\n{BEGIN}\n{END}\n"
    if BEGIN not in text:
        text += f"\n{BEGIN}\n{END}\n"
    head, rest = text.split(BEGIN, 1)
    tail = rest.split(END, 1)[1] if END in rest else ""
    path.write_text(head + render_table(results) + tail)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--part")
    ap.add_argument("--folder")
    ap.add_argument("--kw", default="{}")
    ap.add_argument("--render", action="store_true", help="only re-render docs/benchmarks.md from results.json")
    ap.add_argument("--large", type=int, default=1000)
    ap.add_argument("--dagster-targets", type=int, default=int(os.environ.get("BENCH_DAGSTER_TARGETS", 1000)))
    ap.add_argument("--huge", type=int, default=int(os.environ.get("BENCH_HUGE_TARGETS", 10000)),
                    help="targets of the largest Dagster build (0 skips it)")
    args = ap.parse_args()
    if args.render:
        write_markdown(json.loads((ROOT / "bench" / "results.json").read_text()))
        return
    if args.part:
        folder = Path(args.folder)
        _isolate(folder)
        kw = json.loads(args.kw)
        fn = {"pure": part_pure, "defs": part_defs, "sensor": part_sensor, "dagster": part_dagster,
              "cli": part_cli}[args.part]
        print(json.dumps(fn(folder=folder, **kw)))
        return

    n, big, huge = args.large, args.dagster_targets, args.huge
    pure = _sub("pure", n=n)
    defs = _sub("defs", n=n)
    sensor = _sub("sensor", n=n)
    full11 = _sub("cli", n=11, incremental=False, pure=False)
    traced11 = _sub("dagster", n=11, floor=False, tracing=True, incremental=False)
    untraced11 = _sub("dagster", n=11, floor=False, tracing=False, incremental=False)
    full_300 = _sub("cli", n=300, incremental=False, pure=True)  # issue 9's done-when size
    full_big = _sub("cli", n=big, incremental=True, pure=True)
    warm_big = _sub("dagster", n=big, floor=False, tracing=True, incremental=True)
    floor_big = _sub("dagster", n=big, floor=True, tracing=True, incremental=False)
    full_huge = _sub("cli", n=huge, incremental=False, pure=False) if huge else {}
    results = {
        "date": dt.date.today().isoformat(), "machine": machine(), "large_targets": n, "dagster_large_targets": big,
        "full_11_seconds": full11["seconds"],
        f"full_{big}_seconds": full_big["seconds"], f"pure_{big}_seconds": full_big["pure_seconds"],
        f"full_{big}_ratio_to_pure": full_big["seconds"] / full_big["pure_seconds"],
        f"full_{big}_runs": full_big["runs"],
        "full_300_seconds": full_300["seconds"], "pure_300_seconds": full_300["pure_seconds"],
        "full_300_ratio_to_pure": full_300["seconds"] / full_300["pure_seconds"], "full_300_runs": full_300["runs"],
        f"incremental_{big}_seconds": full_big["incremental_seconds"],
        f"incremental_{big}_in_process_seconds": warm_big["incremental_seconds"],
        f"incremental_{big}_fraction_of_full": full_big["incremental_seconds"] / full_big["seconds"],
        "incremental_materialized": full_big["incremental_materialized"],
        "incremental_ids_sample": full_big["incremental_ids"][:10],
        f"floor_{big}_seconds": floor_big["seconds"],
        f"peak_rss_mib_{big}": full_big["peak_rss_mib"],
        f"full_{huge}_seconds": full_huge.get("seconds"), f"peak_rss_mib_{huge}": full_huge.get("peak_rss_mib"),
        "tracing_overhead_ratio": traced11["seconds"] / untraced11["seconds"],
        "pure_artifacts_per_second_per_core": pure["pure_artifacts_per_second_per_core"],
        "peak_rss_mib_pure_1000": pure["peak_rss_mib"],
        "sensor_tick_seconds_1000": sensor["sensor_tick_seconds"],
        "definitions_load_seconds_1000": defs["definitions_load_seconds"],
        "export_plan_seconds": {k: v for k, v in pure.items() if k.startswith("export_plan_")},
        "peer_export_seconds": PEER,
        "export_speedup_vs_peer": {s: PEER[f"export_{s}"] / pure[f"export_plan_{s}_seconds"] for s in (2, 100, n)
                                   if f"export_{s}" in PEER},
        f"bundle_{n}_seconds_without_dagster": pure[f"bundle_{n}_seconds"],
        "details": {"pure": pure, "defs": defs, "sensor": sensor, "full11": full11, "full300": full_300,
                    "warm_big": warm_big, "traced11": traced11, "untraced11": untraced11, "full_big": full_big,
                    "floor_big": floor_big, "full_huge": full_huge},
    }
    (ROOT / "bench").mkdir(exist_ok=True)
    path = ROOT / "bench" / "results.json"
    # `python -m bench.engines` records its own figures in the same file; this run does not measure them
    kept = {k: v for k, v in json.loads(path.read_text()).items() if k.startswith("engines_")} if path.exists() else {}
    path.write_text(json.dumps({**results, **kept}, indent=2) + "\n")
    # live rebuilds through a real `ctx ui` (bench/sensor_edit.py records its figures into results.json)
    print("bench: sensor_edit", file=sys.stderr, flush=True)
    subprocess.run([sys.executable, "-m", "bench.sensor_edit"], cwd=ROOT, check=True)
    # no-op build, status and one-target edits at the large size (bench/cli_live.py records them likewise)
    print("bench: cli_live", file=sys.stderr, flush=True)
    subprocess.run([sys.executable, "-m", "bench.cli_live", "--targets", str(big)], cwd=ROOT, check=True)
    results = json.loads(path.read_text())
    write_markdown(results)
    print(json.dumps({k: v for k, v in results.items() if k != "details"}, indent=2))


if __name__ == "__main__":
    main()
