"""Publish the warehouse as a read-only copy for BI tools, replaced atomically.

DuckDB lets one process write a file, and a reader blocks the writer. BI tools therefore open a
copy: after each build the warehouse is copied beside the old copy, in the storage format of the
DuckDB release BI clients ship (`DUCKDB_SERVING_STORAGE_VERSION`), without dlt's staging
schemas, and renamed over it. A reader holding the old copy keeps reading it undisturbed; a new
connection sees the new one. The pipeline never waits for a reader of the copy.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

import duckdb

from intercom_pipeline.warehouse import Warehouse

COPY_ALIAS = "bi_copy"
# dlt's staging schemas (`<dataset>_staging`): the last load's merge rows, not data to query.
_STAGING_SUFFIX = "_staging"


@dataclass(frozen=True)
class Published:
    path: Path
    size_bytes: int
    tables: int
    storage_version: str


@dataclass(frozen=True)
class LakeSnapshot:
    """What readers of a lake now see: its last snapshot (nothing is copied)."""

    location: str
    snapshot_id: int
    tables: int


def publish_warehouse(warehouse: Warehouse) -> Published | LakeSnapshot:
    """Copy the warehouse to its serving path (a read-only file), replacing the old copy.

    A lake needs no copy: readers attach it read-only and see each committed snapshot.

    Raises:
        FileNotFoundError: the warehouse does not exist yet (nothing was loaded).
    """
    if warehouse.settings.lake is not None:
        return _lake_snapshot(warehouse)
    if not warehouse.exists():
        raise FileNotFoundError(
            f"no warehouse at {warehouse.path} to publish: run the ingestion first (DUCKDB_PATH)"
        )
    target = warehouse.settings.serving_path
    version = warehouse.settings.serving_storage_version
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.stem}.{os.getpid()}.partial")
    partial.unlink(missing_ok=True)
    try:
        with warehouse.connect("publishing the BI copy") as conn:
            tables = _copy(conn, partial, version)
        partial.chmod(stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
        partial.with_name(partial.name + ".wal").unlink(missing_ok=True)
    return Published(target, target.stat().st_size, tables, version)


def _copy(conn: duckdb.DuckDBPyConnection, partial: Path, version: str) -> int:
    """Write the copy into `partial`; returns how many tables and views it holds."""
    source = conn.execute("select current_database()").fetchone()[0]  # type: ignore[index]
    conn.execute(f"attach '{partial}' as {COPY_ALIAS} (storage_version '{version}')")
    try:
        conn.execute(f'copy from database "{source}" to {COPY_ALIAS}')
        schemas = conn.execute(
            "select schema_name from duckdb_schemas() where database_name = ?"
            " and ends_with(schema_name, ?)",
            [COPY_ALIAS, _STAGING_SUFFIX],
        ).fetchall()
        for (schema,) in schemas:
            conn.execute(f'drop schema {COPY_ALIAS}."{schema}" cascade')
        tables = conn.execute(
            "select count(*) from information_schema.tables where table_catalog = ?",
            [COPY_ALIAS],
        ).fetchone()[0]  # type: ignore[index]
    finally:
        conn.execute(f"detach {COPY_ALIAS}")
    return int(tables)


def _lake_snapshot(warehouse: Warehouse) -> LakeSnapshot:
    with warehouse.read() as conn:
        snapshot = conn.execute(
            "select max(snapshot_id) from ducklake_snapshots(current_database())"
        ).fetchone()[0]  # type: ignore[index]
        tables = conn.execute(
            "select count(*) from information_schema.tables where table_catalog = "
            "current_database() and not ends_with(table_schema, ?)",
            [_STAGING_SUFFIX],
        ).fetchone()[0]  # type: ignore[index]
    return LakeSnapshot(warehouse.describe(), int(snapshot), int(tables))
