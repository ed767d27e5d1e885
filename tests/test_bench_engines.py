"""bench/engines.py adds its figures to bench/results.json and keeps every other figure there."""

from __future__ import annotations

from bench.engines import record


def test_engine_figures_are_added_and_the_other_results_kept():
    results = {"full_1000_seconds": 55.6, "engines_20_seconds": {"sqlite": 1.0},
               "engines_1000_seconds": {"postgres": 90.0}, "engines_1000_details": {"postgres": {"seconds": 90.0}}}
    figures = {"sqlite": {"seconds": 50.0, "runs": 3}, "celery_2_workers_sqlite": {"seconds": 40.0, "runs": 4}}
    out = record(results, 1000, figures)
    assert out["full_1000_seconds"] == 55.6 and out["engines_20_seconds"] == {"sqlite": 1.0}
    # an engine measured in an earlier invocation keeps its figure
    assert out["engines_1000_seconds"] == {"postgres": 90.0, "sqlite": 50.0, "celery_2_workers_sqlite": 40.0}
    details = out["engines_1000_details"]
    assert details["postgres"] == {"seconds": 90.0}
    assert details["sqlite"]["runs"] == 3 and details["sqlite"]["date"] and details["machine"]["cores"]
