"""Dagster definitions, one module per role; each exposes a `defs()` function."""
