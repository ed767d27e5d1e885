"""Artisan gates: size estimate and calibration before IMPLEMENT; contract, schema, secrets after."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ctx_assets.contracts.gates import GateName, GateResult, Violation

from ..generators._common import get_path
from ..generators.base import Design, Rendered
from ..secrets import scan_text
from ..sizing import CHARS_PER_TOKEN


def check_size_estimate(d: Design, contract: dict[str, Any]) -> GateResult:
    """Before IMPLEMENT: would the planned artifact fit the contract? (truncation caught early)"""
    v = []
    if d.estimated_lines > contract["max_lines"]:
        v.append(Violation(field="estimated_lines", message=f"estimate {d.estimated_lines} lines exceeds the "
                                                            f"contract's {contract['max_lines']}: would be truncated"))
    if d.estimated_tokens > contract["max_tokens"]:
        v.append(Violation(field="estimated_tokens", message=f"estimate {d.estimated_tokens} tokens exceeds "
                                                             f"{contract['max_tokens']}"))
    return GateResult.of(GateName.size_estimate, v, **{"size.estimated_lines": d.estimated_lines,
                                                        "size.estimated_tokens": d.estimated_tokens,
                                                        "size.max_lines": contract["max_lines"],
                                                        "size.max_tokens": contract["max_tokens"]})


def check_design_calibration(d: Design, hint: dict[str, Any]) -> GateResult:
    """Depth tier of the design vs the tier the artifact type calls for (problem statement §2.3)."""
    v = []
    if d.tier.value not in hint["allowed_tiers"]:
        v.append(Violation(field="tier", message=f"designed as {d.tier.value}, expected {hint['expected_tier']}: "
                                                 f"{hint['red_flag']}"))
    return GateResult.of(GateName.design_calibration, v, blocking=False, warn_only=True, **{
        "calibration.expected_tier": hint["expected_tier"], "calibration.actual_tier": d.tier.value,
        "calibration.estimated_lines": d.estimated_lines, "calibration.mismatch": bool(v)})


def check_output_contract(r: Rendered, contract: dict[str, Any]) -> GateResult:
    text = r.content.decode("utf-8", errors="replace")
    lines = text.count("\n") + (0 if text.endswith("\n") else 1)
    tokens = len(text) // CHARS_PER_TOKEN
    v = []
    for f in contract["required_fields"]:
        present = f in text if isinstance(r.document, str) else get_path(r.document, f) not in (None, "", [], {})
        if not present:
            v.append(Violation(field=f, message="required field missing or empty"))
    for marker in contract["completeness_markers"]:
        if marker not in text:
            v.append(Violation(field="completeness_markers", message=f"marker {marker!r} not found"))
    if not contract["min_lines"] <= lines <= contract["max_lines"]:
        v.append(Violation(field="lines", message=f"{lines} lines outside [{contract['min_lines']}, "
                                                  f"{contract['max_lines']}]"))
    if tokens > contract["max_tokens"]:
        v.append(Violation(field="tokens", message=f"~{tokens} tokens exceeds {contract['max_tokens']}"))
    return GateResult.of(GateName.output_contract, v, lines=lines, tokens=tokens)


def check_artifact_schema(problems: list[tuple[str, str]],
                          warnings: Sequence[tuple[str, str]] = ()) -> GateResult:
    """Failed on a structural problem; warned (not blocking) when the output is valid but the user must
    complete it, e.g. a receiver without integration."""
    found = [Violation(field=f, message=m) for f, m in [*problems, *warnings]]
    return GateResult.of(GateName.artifact_schema, found, warn_only=not problems)


def check_artifact_secrets(r: Rendered, path: str) -> GateResult:
    return GateResult.of(GateName.secret_scan, scan_text(r.content, path))
