"""Extraction code with no Dagster in it: runnable and testable on its own."""
