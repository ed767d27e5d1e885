"""Dagster wiring: thin adapters from assets, checks and sensors to the pure core."""
