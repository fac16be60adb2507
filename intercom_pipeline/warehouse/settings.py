"""The warehouse's settings and their defaults: the one home of every warehouse default.

The Dagster resource (`defs/resources.py`) fills them from the environment; the CLI builds the
same resource. Paths are made absolute once, against the project root, so dlt, dbt (which runs
inside dbt_project/) and Dagster all open the same file whatever directory they start in.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from intercom_pipeline.settings import ConfigurationError, absolute_path
from intercom_pipeline.warehouse.lake import LakeSettings

# The dlt datasets (schemas) the raw data loads into; dbt declares them as its sources.
RAW_DATASET = "intercom_raw"
SURVEY_FEED_DATASET = "survey_feed_raw"
DEFAULT_PATH = "data/intercom.duckdb"
DEFAULT_SERVING_DIR = "data/serving"
# DuckDB spills merges to disk beyond its budget, and the budget adds to the process's peak.
# DuckDB 1.5 needs 1GB to merge the bench-scale conversation parts (1M rows) into the file: the
# contacts (199k) run out of 128MB, the parts out of 512MB. DuckLake buffers Parquet row groups
# and loads the same scale in 1GB too (the process peaks at 1.2 GB).
DEFAULT_LOAD_MEMORY_LIMIT = "1GB"
# The dbt build and the Python writers: a share of the machine, as DuckDB's own default (80%)
# is, but leaving room for Dagster's processes. A bench-scale build (1M parts) fits in 1 GB;
# with this default it peaks at about 1.7 GB and takes about 40 s (bench/dbt_build.py).
DEFAULT_MEMORY_SHARE = 0.5
# Long enough for the longest hold (a bench-scale load), bounded so nothing waits forever.
DEFAULT_LOCK_TIMEOUT_SECONDS = 1800
# The storage format of the BI copy, written explicitly so that it does not follow the project's
# DuckDB: every release from 1.2 on reads it (the CLI, @duckdb/node-api, and the engines DBeaver,
# Metabase and Evidence ship), whatever DuckDB the pipeline runs.
DEFAULT_SERVING_STORAGE_VERSION = "v1.2.0"
_MEMORY = re.compile(r"^\d+(\.\d+)?\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)$", re.IGNORECASE)
_STORAGE_VERSION = re.compile(r"^v\d+\.\d+\.\d+$")


@dataclass(frozen=True)
class WarehouseSettings:
    """Where the warehouse lives and what it may use. Build with `warehouse_settings`."""

    path: Path
    serving_dir: Path
    memory_limit: str
    load_memory_limit: str
    lock_timeout_seconds: float
    serving_storage_version: str
    lake: LakeSettings | None = None  # WAREHOUSE=ducklake: the lake; None: the file at `path`

    @property
    def work_dir(self) -> Path:
        """This warehouse's own working folder (dlt's pipelines, dbt's profile, the lock)."""
        return self.path.with_name(f"{self.path.stem}.work")

    @property
    def serving_path(self) -> Path:
        """The BI copy: the warehouse's file name in its own folder.

        DuckDB names a database after its file, and dbt's views refer to that name.
        """
        return self.serving_dir / self.path.name


def machine_memory_bytes() -> int:
    """Physical memory, or the container's limit when it is lower (cgroup v2)."""
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    try:
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
    except OSError:
        return total
    return min(total, int(limit)) if limit.isdigit() else total


def default_memory_limit() -> str:
    """`DEFAULT_MEMORY_SHARE` of the machine's memory, in DuckDB's notation."""
    return f"{int(machine_memory_bytes() * DEFAULT_MEMORY_SHARE / 1_000_000)}MB"


def _memory(variable: str, value: str) -> str:
    if not _MEMORY.match(value.strip()):
        raise ConfigurationError(
            f"{variable}={value!r} is not an amount of memory DuckDB understands: write it as "
            "a number and a unit, such as 512MB or 4GB."
        )
    return value.strip()


def warehouse_settings(
    path: str = DEFAULT_PATH,
    serving_dir: str = DEFAULT_SERVING_DIR,
    memory_limit: str = "",
    load_memory_limit: str = "",
    lock_timeout_seconds: float = DEFAULT_LOCK_TIMEOUT_SECONDS,
    serving_storage_version: str = DEFAULT_SERVING_STORAGE_VERSION,
    lake: LakeSettings | None = None,
) -> WarehouseSettings:
    """Validated settings; each error names the variable and how to fix it."""
    warehouse = absolute_path(path.strip() or DEFAULT_PATH)
    if warehouse.is_dir():
        raise ConfigurationError(
            f"DUCKDB_PATH={path!r} is a directory; point it at a file such as "
            f"{warehouse / 'intercom.duckdb'}"
        )
    serving = absolute_path(serving_dir.strip() or DEFAULT_SERVING_DIR)
    if serving == warehouse.parent:
        raise ConfigurationError(
            f"DUCKDB_SERVING_DIR={serving_dir!r} is the warehouse's own folder; the copy needs a "
            f"folder of its own, such as {warehouse.parent / 'serving'}"
        )
    if lock_timeout_seconds < 0:
        raise ConfigurationError(
            f"DUCKDB_LOCK_TIMEOUT_SECONDS={lock_timeout_seconds}: use 0 or more seconds."
        )
    version = serving_storage_version.strip() or DEFAULT_SERVING_STORAGE_VERSION
    if not _STORAGE_VERSION.match(version):
        raise ConfigurationError(
            f"DUCKDB_SERVING_STORAGE_VERSION={serving_storage_version!r}: name a DuckDB "
            f"release such as {DEFAULT_SERVING_STORAGE_VERSION} (the oldest DuckDB that must "
            "open the BI copy)."
        )
    return WarehouseSettings(
        path=warehouse,
        serving_dir=serving,
        memory_limit=_memory("DUCKDB_MEMORY_LIMIT", memory_limit)
        if memory_limit.strip()
        else default_memory_limit(),
        load_memory_limit=_memory(
            "DUCKDB_LOAD_MEMORY_LIMIT",
            load_memory_limit.strip() or DEFAULT_LOAD_MEMORY_LIMIT,
        ),
        lock_timeout_seconds=float(lock_timeout_seconds),
        serving_storage_version=version,
        lake=lake,
    )
