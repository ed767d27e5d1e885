"""The pipeline's own metrics to a Prometheus Pushgateway (`CTX_PUSHGATEWAY_URL`), as real counters.

A build is a short-lived process, and so is every Dagster run the daemon launches: a counter
that starts at zero in each process never rises in Prometheus. So each process adds what it
counted since its last push (delta temporality) to cumulative totals kept in the project home
(`<home>/metrics/pipeline.json`, under a file lock) and pushes the totals in the Prometheus text
format to `/metrics/job/ctx-assets/instance/<host>-<home hash>`. The run and gate counters carry
every known label set from the first push, at 0, so `increase()` sees the first failure. A
gateway that is down costs one bounded timeout and one warning.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import re
import socket
import urllib.request
from pathlib import Path
from typing import Any

from opentelemetry.sdk.metrics import Counter, Histogram
from opentelemetry.sdk.metrics.export import AggregationTemporality, MetricReader, MetricsData

from ctx_assets.contracts import semconv as sc
from ctx_assets.contracts.artifacts import ArtifactType
from ctx_assets.contracts.gates import GateName

log = logging.getLogger("ctx_assets")
ENV_URL = "CTX_PUSHGATEWAY_URL"
# Series present from the first push (value 0): rate() and increase() need a sample before the first +1.
ZERO_SERIES: dict[str, list[dict[str, str]]] = {
    sc.METRIC_RUNS: [{"result": r} for r in (sc.CICD_RESULT_SUCCESS, sc.CICD_RESULT_FAILURE)],
    sc.METRIC_GATE_VIOLATIONS: [{sc.GATE_NAME: g.value, sc.GATE_RESULT: r} for g in GateName
                                for r in ("failed", "warned")],
    sc.METRIC_CALIBRATION_MISMATCH: [{"artifact_type": t.value} for t in ArtifactType],
}


def prom_name(name: str, unit: str = "", counter: bool = False) -> str:
    """An OTel instrument or attribute name as Prometheus spells it (dots to underscores, unit suffix)."""
    out = re.sub(r"[^a-zA-Z0-9_:]", "_", name)
    if unit == "s" and not out.endswith("_seconds"):
        out += "_seconds"
    return out + "_total" if counter and not out.endswith("_total") else out


def _key(labels: dict[str, Any]) -> str:
    return json.dumps(sorted((prom_name(k), str(v)) for k, v in labels.items()))


def _fmt(v: float) -> str:
    return repr(float(v)) if v != int(v) else str(int(v))


class PushgatewayReader(MetricReader):
    """Collected on each `Telemetry.flush()`: deltas into the persisted totals, totals to the gateway."""

    def __init__(self, url: str, state: Path, timeout: float = 3.0):
        super().__init__(preferred_temporality={Counter: AggregationTemporality.DELTA,
                                                Histogram: AggregationTemporality.DELTA})
        self.url, self.state, self.timeout, self.dead = url.rstrip("/"), state, timeout, False
        self._data: MetricsData | None = None
        instance = f"{socket.gethostname()}-{hashlib.sha256(str(state.resolve()).encode()).hexdigest()[:8]}"
        self.group = f"{self.url}/metrics/job/{sc.SERVICE_NAME_VALUE}/instance/{instance}"

    def _receive_metrics(self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any) -> None:
        self._data = metrics_data

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        pass

    def push(self) -> None:
        self._data = None
        self.collect()
        totals = self._merge(self._data)
        if self.dead:
            return
        req = urllib.request.Request(self.group, data=exposition(totals).encode(), method="PUT",
                                     headers={"Content-Type": "text/plain; version=0.0.4"})
        try:
            with urllib.request.urlopen(req, timeout=self.timeout):
                pass
        except OSError as e:  # never fail a build over its own metrics
            self.dead = True
            log.warning("pushgateway %s unreachable (%s); metrics are kept in %s", self.url, e, self.state)

    def _merge(self, data: MetricsData | None) -> dict[str, Any]:
        """Adds the deltas to the totals on disk (under a lock: builds and the daemon share a home)."""
        self.state.parent.mkdir(parents=True, exist_ok=True)
        with open(self.state.with_suffix(".lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            totals: dict[str, Any] = json.loads(self.state.read_text()) if self.state.exists() else {}
            for name, series in ZERO_SERIES.items():
                counter = totals.setdefault(prom_name(name, counter=True), {"type": "counter", "series": {}})
                for labels in series:
                    counter["series"].setdefault(_key(labels), 0)
            for rm in data.resource_metrics if data else []:
                for sm in rm.scope_metrics:
                    for m in sm.metrics:
                        _add(totals, m)
            tmp = self.state.with_suffix(".tmp")
            tmp.write_text(json.dumps(totals, sort_keys=True))
            os.replace(tmp, self.state)
        return totals


def _add(totals: dict[str, Any], m: Any) -> None:
    points = list(m.data.data_points)
    if hasattr(m.data, "is_monotonic"):  # a Sum: counters only (no up-down counters here)
        entry = totals.setdefault(prom_name(m.name, m.unit, counter=True), {"type": "counter", "series": {}})
        for p in points:
            k = _key(p.attributes)
            entry["series"][k] = entry["series"].get(k, 0) + p.value
        return
    entry = totals.setdefault(prom_name(m.name, m.unit), {"type": "histogram", "series": {}})
    for p in points:
        k = _key(p.attributes)
        cur = entry["series"].setdefault(k, {"bounds": list(p.explicit_bounds), "counts": [0] * len(p.bucket_counts),
                                             "sum": 0.0, "count": 0})
        if cur["bounds"] != list(p.explicit_bounds):  # buckets changed with a new version: start over
            cur.update(bounds=list(p.explicit_bounds), counts=[0] * len(p.bucket_counts), sum=0.0, count=0)
        cur["counts"] = [a + b for a, b in zip(cur["counts"], p.bucket_counts, strict=True)]
        cur["sum"] += p.sum
        cur["count"] += p.count


def exposition(totals: dict[str, Any]) -> str:
    """The Prometheus text format of the totals (cumulative histogram buckets, sorted for stable output)."""
    lines: list[str] = []
    for name in sorted(totals):
        entry = totals[name]
        lines.append(f"# TYPE {name} {entry['type']}")
        for key in sorted(entry["series"]):
            labels = json.loads(key)
            value = entry["series"][key]
            if entry["type"] == "counter":
                lines.append(f"{name}{_labels(labels)} {_fmt(value)}")
                continue
            running = 0
            for bound, count in zip([*value["bounds"], "+Inf"], value["counts"], strict=True):
                running += count
                le = bound if bound == "+Inf" else _fmt(bound)
                lines.append(f"{name}_bucket{_labels([*labels, ['le', le]])} {running}")
            lines.append(f"{name}_sum{_labels(labels)} {_fmt(value['sum'])}")
            lines.append(f"{name}_count{_labels(labels)} {value['count']}")
    return "\n".join(lines) + "\n"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _labels(pairs: list[list[str]]) -> str:
    return "{" + ",".join(f'{k}="{_escape(v)}"' for k, v in pairs) + "}" if pairs else ""
