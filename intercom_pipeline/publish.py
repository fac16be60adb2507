"""Publish the warehouse as a read-only copy for BI tools, replaced atomically.

DuckDB lets one process write a file, and a reader blocks the writer. BI tools therefore open a
copy: after each build the warehouse is checkpointed, copied beside the old copy, and renamed over
it. A reader holding the old copy keeps reading it undisturbed; the next connection sees the new
one. The pipeline never waits for a reader, and a reader never waits for the pipeline.
"""

from __future__ import annotations

import os
import shutil
import stat
from dataclasses import dataclass
from pathlib import Path

import duckdb


@dataclass(frozen=True)
class Published:
    path: Path
    size_bytes: int
    tables: int


def publish_warehouse(warehouse: Path, target: Path) -> Published:
    """Copy `warehouse` to `target` (read-only file), replacing any previous copy atomically.

    Raises:
        FileNotFoundError: the warehouse does not exist yet (nothing was loaded).
    """
    if not warehouse.exists():
        raise FileNotFoundError(
            f"no warehouse at {warehouse} to publish: run the ingestion first (DUCKDB_PATH)"
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.with_name(f".{target.name}.{os.getpid()}.partial")
    with duckdb.connect(str(warehouse)) as conn:
        # Everything in the write-ahead log goes into the file, so the file alone is complete.
        conn.execute("checkpoint")
    shutil.copyfile(warehouse, staging)
    try:
        with duckdb.connect(str(staging), read_only=True) as conn:
            tables = conn.execute(
                "select count(*) from information_schema.tables"
                " where table_schema not in ('information_schema', 'pg_catalog')"
            ).fetchone()[0]  # type: ignore[index]
        staging.chmod(stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)
        os.replace(staging, target)
    finally:
        staging.unlink(missing_ok=True)
    return Published(target, target.stat().st_size, int(tables))
