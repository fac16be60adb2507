"""Publishing the BI copy: complete, read-only, replaced atomically, clear when there is nothing."""

from __future__ import annotations

import stat
from pathlib import Path

import duckdb
import pytest

from intercom_pipeline.warehouse import Warehouse
from intercom_pipeline.warehouse.publish import publish_warehouse


def _at(path: Path) -> Warehouse:
    """The warehouse in `path`, its BI copy in the folder `serving` beside it."""
    return Warehouse.at(path, serving_dir=str(path.parent / "serving"))


def _warehouse(warehouse: Warehouse, rows: int) -> Warehouse:
    with warehouse.connect() as conn:
        conn.execute("create schema if not exists analytics")
        conn.execute(
            "create or replace table analytics.facts as select range as n from range(?)", [rows]
        )
    return warehouse


def test_the_copy_has_everything_and_cannot_be_written(tmp_path: Path) -> None:
    warehouse = _warehouse(_at(tmp_path / "intercom.duckdb"), 1000)
    published = publish_warehouse(warehouse)
    assert published.path == tmp_path / "serving" / "intercom.duckdb"
    assert published.tables == 1
    assert not published.path.stat().st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)
    with duckdb.connect(str(published.path), read_only=True) as conn:
        assert conn.execute("select count(*), sum(n) from analytics.facts").fetchone() == (
            1000,
            499500,
        )
    assert [p.name for p in published.path.parent.iterdir()] == ["intercom.duckdb"]  # no leftovers


def test_a_reader_of_the_old_copy_is_not_disturbed(tmp_path: Path) -> None:
    warehouse = _warehouse(_at(tmp_path / "intercom.duckdb"), 10)
    target = tmp_path / "serving" / "intercom.duckdb"
    assert publish_warehouse(warehouse).path == target
    reader = duckdb.connect(str(target), read_only=True)
    try:
        _warehouse(warehouse, 20)
        publish_warehouse(warehouse)  # neither waits for the other
        assert reader.execute("select count(*) from analytics.facts").fetchone() == (10,)
    finally:
        reader.close()
    with duckdb.connect(str(target), read_only=True) as conn:
        assert conn.execute("select count(*) from analytics.facts").fetchone() == (20,)


def test_nothing_to_publish_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="run the ingestion first"):
        publish_warehouse(_at(tmp_path / "missing.duckdb"))
