"""Reading a context seed back, compactly: what the artisan stage holds for 10,000 targets.

The seed repeats, per task, what every task of a type shares (derivation rules, contract,
calibration, constraints, coverage): 70,000 tasks parse to ~1.2 GB of Python objects. Tasks are
parsed one at a time out of the file as plan ingestion wrote it (orjson, 2-space indent: each
task is a `    {` … `    }` block inside `  "tasks": [`), and the shared parts are interned, so
the seed costs ~1/4 of that. Any other layout is parsed whole (same result, more memory).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

# Task fields whose values repeat across targets (one value per type, or a handful in all).
SHARED_FIELDS = ("artifact_type", "generator", "derivation_rules", "expected_output_contract",
                 "design_calibration", "design_constraints", "design_principles", "coverage")
_TASKS_OPEN, _TASK_OPEN, _TASK_CLOSE, _TASKS_CLOSE = b'\n  "tasks": [\n', b"\n    {", b"\n    }", b"\n  ]"


def load_seed(path: str | Path) -> dict[str, Any]:
    raw = Path(path).read_bytes()
    start = raw.find(_TASKS_OPEN)
    if start < 0:
        return orjson.loads(raw)
    pool: dict[tuple[str, bytes], Any] = {}
    tasks, pos = [], start + len(_TASKS_OPEN) - 1
    close = raw.find(_TASKS_CLOSE, pos)  # deeper lines are indented further: the first is the array's end
    if close < 0:
        return orjson.loads(raw)
    while True:
        begin = raw.find(_TASK_OPEN, pos, close)
        if begin < 0:
            break
        end = raw.find(_TASK_CLOSE, begin) + len(_TASK_CLOSE)
        tasks.append(interned(orjson.loads(raw[begin:end]), pool))
        pos = end
    rest = raw[:start] + b'\n  "tasks": []' + raw[close + len(_TASKS_CLOSE):]
    del raw
    seed = orjson.loads(rest)
    seed["tasks"] = tasks
    return seed


def interned(task: dict[str, Any], pool: dict[tuple[str, bytes], Any]) -> dict[str, Any]:
    """`task` with its shared values replaced by equal ones already in `pool` (one object per value)."""
    for k in SHARED_FIELDS:
        if k in task:
            task[k] = pool.setdefault((k, orjson.dumps(task[k])), task[k])
    return task
