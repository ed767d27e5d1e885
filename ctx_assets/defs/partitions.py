"""Targets as dynamic partitions: the sensor and the seed asset add and remove them."""

from dagster import DynamicPartitionsDefinition

TARGETS = DynamicPartitionsDefinition(name="targets")
