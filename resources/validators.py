"""External validators (promtool, amtool) as a Dagster resource, batched per stage run.

One process per tool per stage run over all its files, never one per artifact.
A missing tool is reported ("not installed") as a warning, never a crash.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from dagster import ConfigurableResource

from ctx_assets.contracts.artifacts import ArtifactType
from ctx_assets.contracts.gates import GateName, GateResult, Violation
from ctx_assets.core import yamlout
from ctx_assets.core.alertmanager import plain_config
from ctx_assets.core.artisan import ArtifactResult
from ctx_assets.core.generators.notification_policy import role_receivers
from ctx_assets.core.generators.prometheus_rule import PrometheusRuleGenerator
from ctx_assets.core.routing import route_receivers

_UID = re.compile(r"/d/[A-Za-z0-9_-]+")
# The manifest's sha256, stamped in every artifact (header comment, annotation). Anchored on its key:
# a bare 64-hex pattern is scanned for at every offset (~0.2 s per 1,000 rule files; this, ~0.02 s).
_CHECKSUM = re.compile(r"(source-checksum: '?)[0-9a-f]{64}")
_SECTION = re.compile(r"^(?:Checking|Unit Testing:)\s+'?([^'\s]+)'?", re.MULTILINE)


def _sections(output: str) -> dict[str, str]:
    """Split tool output into per-file sections keyed by file name."""
    out: dict[str, str] = {}
    marks = list(_SECTION.finditer(output))
    for i, m in enumerate(marks):
        end = marks[i + 1].start() if i + 1 < len(marks) else len(output)
        out[Path(m.group(1)).name] = output[m.start():end]
    return out


class ExternalValidators(ConfigurableResource):
    """promtool / amtool, found on PATH unless a path is given."""

    promtool_path: str = ""
    amtool_path: str = ""
    timeout_seconds: float = 300.0
    # Content-addressed verdicts: a file already accepted (same bytes, same tool) is not re-run,
    # so per-target runs of an unchanged shape cost nothing (promtool unit tests take ~1.5 s each).
    # Empty: CTX_VALIDATOR_CACHE, else <home>/cache/validators (a CI job can keep one folder across
    # jobs and homes); "off": every file through the tools.
    cache_dir: str = ""

    def _cache(self) -> Path | None:
        from ctx_assets.settings import settings

        folder = self.cache_dir or settings().validator_cache
        return None if folder == "off" else Path(folder)

    def _cache_key(self, tool: str, what: str, data: bytes) -> str:
        return hashlib.sha256(f"{self.tool(tool)}\0{what}\0".encode() + data).hexdigest()

    def cached(self, tool: str, what: str, data: bytes) -> bool:
        c = self._cache()
        try:
            return bool(c and (c / self._cache_key(tool, what, data)).exists())
        except OSError:  # a folder this user may not read: no verdict kept for it
            return False

    def remember(self, tool: str, what: str, data: bytes) -> None:
        c = self._cache()
        # a cache: a folder this user may not write (a shared or read-only one) costs the next run its time only
        with contextlib.suppress(OSError):
            if c:
                c.mkdir(parents=True, exist_ok=True)
                (c / self._cache_key(tool, what, data)).touch()

    def tool(self, name: str) -> str | None:
        configured = self.promtool_path if name == "promtool" else self.amtool_path
        return configured or shutil.which(name)

    def _run(self, argv: list[str]) -> tuple[int, str]:
        try:
            p = subprocess.run(argv, capture_output=True, text=True, timeout=self.timeout_seconds)
        except subprocess.TimeoutExpired:
            return 124, f"{argv[0]} timed out after {self.timeout_seconds}s"
        except OSError as e:  # a configured path that does not exist or cannot run
            return 127, f"cannot run {argv[0]}: {e.strerror}"
        return p.returncode, p.stdout + p.stderr

    def _not_installed(self, name: str, results: Iterable[ArtifactResult]) -> dict[str, GateResult]:
        v = [Violation(field=name, message=f"{name} not installed; external validation skipped")]
        return {r.artifact_id: GateResult.of(GateName.external_validators, v, blocking=False, warn_only=True)
                for r in results}

    def validate(self, artifact_type: str, results: list[ArtifactResult]) -> dict[str, GateResult]:
        """Gate results per artifact id for one stage's freshly built artifacts."""
        built = [r for r in results if r.status == "built"]
        if not built:
            return {}
        if artifact_type == ArtifactType.prometheus_rule:
            return self.check_prometheus_rules(built)
        if artifact_type == ArtifactType.loki_rule:
            return self.check_loki_rules(built)
        if artifact_type == ArtifactType.notification_policy:
            return self.check_alertmanager(built)
        return {}

    def _per_file(self, tool: str, argv: list[str], files: dict[str, str], what: str) -> dict[str, GateResult]:
        code, output = self._run(argv)
        sections = _sections(output)
        out: dict[str, GateResult] = {}
        for artifact_id, fname in files.items():
            text = sections.get(fname, output if code else "")
            ok = code == 0 or ("SUCCESS" in text and "FAILED" not in text)
            v = [] if ok else [Violation(field=what, message=text.strip()[-800:] or f"{tool} failed")]
            out[artifact_id] = GateResult.of(GateName.external_validators, v, tool=tool, check=what)
        return out

    @staticmethod
    def _merge(*parts: dict[str, GateResult]) -> dict[str, GateResult]:
        merged: dict[str, GateResult] = {}
        for part in parts:
            for k, g in part.items():
                if k in merged:
                    prev = merged[k]
                    merged[k] = GateResult.of(GateName.external_validators, prev.violations + g.violations,
                                              checks=[prev.details.get("check"), g.details.get("check")])
                else:
                    merged[k] = g
        return merged

    def _by_shape(self, tool: str, what: str, results: list[ArtifactResult], key: Callable[[ArtifactResult], str],
                  run: Callable[[Path, list[ArtifactResult]], dict[str, GateResult]]) -> dict[str, GateResult]:
        """Verdicts for `results`, running `run` only on one representative per shape whose verdict
        is not cached yet (a passed shape is remembered by content hash across runs)."""
        shape_of = {r.artifact_id: key(r) for r in results}
        reps: dict[str, ArtifactResult] = {}
        for r in results:
            reps.setdefault(shape_of[r.artifact_id], r)
        todo = [r for k, r in reps.items() if not self.cached(tool, what, k.encode())]
        sweep_validator_temps()
        with tempfile.TemporaryDirectory(prefix=f"ctx-{tool}-{os.getpid()}-") as tmp:  # the pid: see the sweep
            verdict = run(Path(tmp), todo) if todo else {}
        for k, r in reps.items():
            if r.artifact_id in verdict and verdict[r.artifact_id].result == "passed":
                self.remember(tool, what, k.encode())
        cached = GateResult.of(GateName.external_validators, [], tool=tool, check=f"{what} (cached verdict)")
        out = {}
        for r in results:
            rep = reps[shape_of[r.artifact_id]].artifact_id
            g = verdict.get(rep, cached)
            out[r.artifact_id] = g if rep == r.artifact_id else g.model_copy(
                update={"details": {**g.details, "checked_as": rep}})
        return out

    def check_prometheus_rules(self, results: list[ArtifactResult]) -> dict[str, GateResult]:
        """`promtool check rules` and generated `promtool test rules`, per rule shape. Files that differ
        only in target and namespace (DNS labels, which cannot change how PromQL or templates parse)
        share a shape; promtool costs ~0.2 ms a rule and ~1.5 s a unit-test file."""
        promtool = self.tool("promtool")
        if not promtool:
            return self._not_installed("promtool", results)

        def run(tmp: Path, todo: list[ArtifactResult]) -> dict[str, GateResult]:
            rules, tests = {}, {}
            for r in todo:
                (tmp / f"{r.artifact_id}.yaml").write_bytes(yamlout.dump(r.document["spec"]))
                (tmp / f"{r.artifact_id}.tested.yaml").write_bytes(
                    yamlout.dump(PrometheusRuleGenerator.promtool_rules(r.document)))
                test_doc = PrometheusRuleGenerator.promtool_tests(_rendered(r), f"{r.artifact_id}.tested.yaml")
                (tmp / f"{r.artifact_id}.test.yaml").write_bytes(yamlout.dump(test_doc))
                rules[r.artifact_id], tests[r.artifact_id] = f"{r.artifact_id}.yaml", f"{r.artifact_id}.test.yaml"
            check = self._per_file("promtool", [promtool, "check", "rules", *[f"{tmp}/{f}" for f in rules.values()]],
                                   rules, "promtool check rules")
            unit = self._per_file("promtool", [promtool, "test", "rules", *[f"{tmp}/{f}" for f in tests.values()]],
                                  tests, "promtool test rules")
            return self._merge(check, unit)

        return self._by_shape("promtool", "check+test rules", results,
                              lambda r: rule_shape(r.content or b"", r.document), run)

    def check_loki_rules(self, results: list[ArtifactResult]) -> dict[str, GateResult]:
        """Structure and templates via promtool on a copy with each expr replaced by vector(1)."""
        promtool = self.tool("promtool")
        if not promtool:
            return self._not_installed("promtool", results)

        def run(tmp: Path, todo: list[ArtifactResult]) -> dict[str, GateResult]:
            files = {}
            for r in todo:
                doc = {"groups": [{**g, "rules": [{**rule, "expr": "vector(1)"} for rule in g["rules"]]}
                                  for g in r.document["groups"]]}
                (tmp / f"{r.artifact_id}.yaml").write_bytes(yamlout.dump(doc))
                files[r.artifact_id] = f"{r.artifact_id}.yaml"
            return self._per_file("promtool", [promtool, "check", "rules", *[f"{tmp}/{f}" for f in files.values()]],
                                  files, "promtool check rules (Loki structure)")

        def key(r: ArtifactResult) -> str:
            return shape(r.content or b"", r.target, r.document["groups"][0]["rules"][0]["labels"].get("namespace", ""))

        return self._by_shape("promtool", "loki structure", results, key, run)

    def check_alertmanager(self, results: list[ArtifactResult]) -> dict[str, GateResult]:
        """`amtool check-config` per config shape, and routes per severity for every config (in process), on
        the plain configuration each AlertmanagerConfig resource stands for (core/alertmanager.py)."""
        plain = {r.artifact_id: plain_config(r.document["metadata"]["labels"]["app.kubernetes.io/part-of"],
                                             [r.document]) for r in results}
        routing = {r.artifact_id: route_violations(plain[r.artifact_id], r.design.params if r.design else {},
                                                   r.design.plan if r.design else {}) for r in results}
        amtool = self.tool("amtool")
        if not amtool:
            missing = self._not_installed("amtool", results)
            return {k: GateResult.of(GateName.external_validators, g.violations + routing[k],
                                     blocking=bool(routing[k]), warn_only=not routing[k]) for k, g in missing.items()}

        def run(tmp: Path, todo: list[ArtifactResult]) -> dict[str, GateResult]:
            files = {}
            for r in todo:
                (tmp / f"{r.artifact_id}.yml").write_bytes(yamlout.dump(plain[r.artifact_id]))
                files[r.artifact_id] = f"{r.artifact_id}.yml"
            return self._per_file("amtool", [amtool, "check-config", *[f"{tmp}/{f}" for f in files.values()]],
                                  files, "amtool check-config")

        def key(r: ArtifactResult) -> str:
            return shape(r.content or b"", r.target, (r.design.params if r.design else {}).get("namespace", ""))

        verdicts = self._by_shape("amtool", "check-config", results, key, run)
        return {aid: g if not routing[aid] else GateResult.of(GateName.external_validators,
                                                              g.violations + routing[aid], **g.details)
                for aid, g in verdicts.items()}


def route_violations(config: dict[str, Any], params: dict[str, Any],
                     plan: dict[str, Any] | None = None) -> list[Violation]:
    """Each severity reaches the receivers the design intends (the `amtool config routes test` check)."""
    target, ns = params.get("target"), params.get("namespace")
    if not target:
        return []
    plan = plan or {}
    page = role_receivers(f"{target}-page", plan.get("page", []))
    ticket = role_receivers(f"{target}-ticket", plan.get("ticket", []))
    want = {params["page_severity"]: page}
    want.setdefault(params["ticket_severity"], ticket)
    want.setdefault("warning", ticket)
    out = []
    for severity, receivers in want.items():
        got = route_receivers(config["route"], {"job": target, "namespace": ns, "severity": severity})
        if got != receivers:
            out.append(Violation(field="route", message=f"severity={severity} reaches {got}, expected {receivers}"))
    return out


def shape(text: bytes, target: str, namespace: str) -> str:
    """A rendered rule file with its target, namespace, dashboard uid and source checksum abstracted.
    These are DNS labels and hex, which cannot change how PromQL, LogQL or templates parse, so files of
    one shape get the same verdict from promtool, also after an edit elsewhere in the manifest (which
    changes the checksum every artifact carries)."""
    s = _CHECKSUM.sub(r"\1CHECKSUM", _UID.sub("/d/UID", text.decode()))
    for form in (f'"{namespace}"', f"'{namespace}'", f": {namespace}\n"):
        s = s.replace(form, form.replace(namespace, "NS"))
    return s.replace(target, "TARGET")


def rule_shape(text: bytes, doc: dict[str, Any]) -> str:
    meta = doc["metadata"]
    return shape(text, meta["labels"]["app.kubernetes.io/name"], meta["namespace"])


def _rendered(r: ArtifactResult) -> Any:
    from ctx_assets.core.generators.base import Rendered

    return Rendered(r.content or b"", r.document)


_TEMP_DIR_RE = re.compile(r"^ctx-(?:promtool|amtool)-(\d+)-")


def sweep_validator_temps() -> list[Path]:
    """Remove the validator temp folders (`ctx-promtool-PID-…`) of processes that are gone (killed with
    kill -9 mid-validation): the next run cleans up after them. Live processes' folders are left alone."""
    from ctx_assets.core.fsio import process_alive

    removed = []
    root = Path(tempfile.gettempdir())
    try:
        entries = list(os.scandir(root))
    except OSError:
        return removed
    for entry in entries:
        m = _TEMP_DIR_RE.match(entry.name)
        if m and entry.is_dir(follow_symlinks=False) and not process_alive(int(m.group(1))):
            shutil.rmtree(entry.path, ignore_errors=True)
            removed.append(Path(entry.path))
    return removed
