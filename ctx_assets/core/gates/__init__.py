"""Gate functions: pure, each returning a typed GateResult (SPEC §6)."""
