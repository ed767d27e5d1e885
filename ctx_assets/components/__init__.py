"""Dagster Components: `ContextCoreComponent` and its scaffolder."""
