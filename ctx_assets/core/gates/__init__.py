"""Gate functions: pure, each returning a typed GateResult."""
