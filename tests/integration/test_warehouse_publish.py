"""The BI copy: replaced whole, and what a process that keeps a connection open sees.

DuckDB keeps one database per path in a process while any connection to it is open: such a
process goes on reading the copy it opened, and sees a new build once all its connections to
the file are closed (the README says so for BI tools with connection pools).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import duckdb

from intercom_pipeline.warehouse import Warehouse
from intercom_pipeline.warehouse.publish import publish_warehouse

POOLED_READER = """
import sys, duckdb
path = sys.argv[1]
def rows():
    with duckdb.connect(path, read_only=True) as conn:
        return conn.execute("select count(*) from analytics.marts").fetchone()[0]
held = duckdb.connect(path, read_only=True)       # a pool's long-lived connection
print(rows(), flush=True)
sys.stdin.readline()                               # the pipeline publishes a new build
print(rows(), flush=True)                          # a new connection while one is held
held.close()                                       # the pool lets go of every connection
print(rows(), flush=True)
"""


def build(warehouse: Warehouse, rows: int) -> None:
    with warehouse.connect("the test") as conn:
        conn.execute("create schema if not exists analytics")
        conn.execute("create schema if not exists intercom_raw_staging")
        conn.execute(
            f"create or replace table analytics.marts as select range as id from range({rows})"
        )
        conn.execute("create or replace table intercom_raw_staging.leftover as select 1 as a")


def test_a_new_connection_sees_a_new_build_once_the_old_ones_are_closed(tmp_path: Path) -> None:
    warehouse = Warehouse.at(tmp_path / "intercom.duckdb", serving_dir=str(tmp_path / "serving"))
    build(warehouse, 10)
    published = publish_warehouse(warehouse)
    reader = subprocess.Popen(
        [sys.executable, "-c", POOLED_READER, str(published.path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert reader.stdin is not None and reader.stdout is not None
    assert reader.stdout.readline().strip() == "10"
    build(warehouse, 20)
    publish_warehouse(warehouse)  # never waits for the reader of the copy
    reader.stdin.write("\n")
    reader.stdin.flush()
    assert reader.stdout.readline().strip() == "10"
    assert reader.stdout.readline().strip() == "20"
    assert reader.wait(timeout=30) == 0


def test_the_copy_is_read_only_in_an_older_format_without_dlt_staging(tmp_path: Path) -> None:
    warehouse = Warehouse.at(tmp_path / "intercom.duckdb", serving_dir=str(tmp_path / "serving"))
    build(warehouse, 5)
    published = publish_warehouse(warehouse)
    assert published.storage_version == "v1.2.0"
    assert published.path == tmp_path / "serving" / "intercom.duckdb"
    assert not published.path.stat().st_mode & 0o222
    with duckdb.connect(str(published.path), read_only=True) as conn:
        assert conn.execute("select count(*) from analytics.marts").fetchone() == (5,)
        schemas = {
            r[0] for r in conn.execute("select schema_name from duckdb_schemas()").fetchall()
        }
        version = conn.execute(
            "select tags['storage_version'] from duckdb_databases()"
            " where database_name = 'intercom'"
        ).fetchone()
    assert "intercom_raw_staging" not in schemas
    assert version == ("v1.2.0+",)
    assert [p.name for p in published.path.parent.iterdir()] == ["intercom.duckdb"]
