"""Dagster resources, and nothing else: the output store, the external validators, the run tracer."""
