"""Loads that share a host with readers and with other warehouses, as users run them."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from intercom_pipeline.settings import intercom_settings
from intercom_pipeline.sources.intercom import connect
from intercom_pipeline.warehouse import Warehouse
from intercom_pipeline.warehouse.load import run_ingestion
from intercom_sandbox import DEFAULT_TOKEN, RunningSandbox, SandboxConfig
from tests.unit.test_warehouse_lock import HOLD_AS_READER, Recorded, start

CLI = [sys.executable, "-m", "intercom_pipeline.cli"]


@pytest.fixture
def sandbox_config() -> SandboxConfig:
    return SandboxConfig(seed=3, scale="tiny")


def sandbox_env(running: RunningSandbox, warehouse: Path) -> dict[str, str]:
    return {
        **os.environ,
        "INTERCOM_BASE_URL": running.base_url,
        "INTERCOM_ACCESS_TOKEN": DEFAULT_TOKEN,
        "DUCKDB_PATH": str(warehouse),
    }


def conversations(warehouse: Path) -> int:
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        return conn.execute("select count(*) from intercom_raw.conversations").fetchone()[0]


def test_a_load_waits_for_a_reader_holding_the_warehouse(
    running_sandbox: RunningSandbox, tmp_path: Path
) -> None:
    settings = intercom_settings(
        {"INTERCOM_BASE_URL": running_sandbox.base_url, "INTERCOM_ACCESS_TOKEN": DEFAULT_TOKEN}
    )
    path = tmp_path / "warehouse.duckdb"
    run_ingestion(Warehouse.at(path), connect([settings]), ["admins"])
    reader = start(HOLD_AS_READER, str(path), "20")  # a notebook, read-only, for 20 s
    log = Recorded()
    started = time.monotonic()
    result = run_ingestion(Warehouse.at(path, log), connect([settings]), ["conversations"])
    reader.wait(timeout=60)
    assert time.monotonic() - started >= 15
    assert result.rows_loaded["conversations"] == 300
    assert conversations(path) == 300
    assert f"PID {reader.pid}" in log.lines[0] and "has it open" in log.lines[0]


def test_two_warehouses_load_at_once_on_one_host(
    running_sandbox: RunningSandbox, tmp_path: Path
) -> None:
    paths = [tmp_path / "one" / "intercom.duckdb", tmp_path / "two" / "intercom.duckdb"]
    children = [
        subprocess.Popen(
            [*CLI, "ingest", "conversations"],
            env=sandbox_env(running_sandbox, path),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for path in paths
    ]
    for child in children:
        _, stderr = child.communicate(timeout=300)
        assert child.returncode == 0, stderr
    assert [conversations(path) for path in paths] == [300, 300]
    assert all((path.parent / "intercom.work" / "dlt").is_dir() for path in paths)


def test_a_damaged_warehouse_is_named_in_one_line(
    running_sandbox: RunningSandbox, tmp_path: Path
) -> None:
    damaged = tmp_path / "intercom.duckdb"
    damaged.write_bytes(b"this is not a DuckDB database\n" * 200)
    done = subprocess.run(
        [*CLI, "ingest", "admins"],
        env=sandbox_env(running_sandbox, damaged),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0, done.stderr
    assert f"{damaged} is not a DuckDB database" in done.stderr
    assert "move it aside" in done.stderr and "DUCKDB_PATH" in done.stderr
    assert damaged.read_bytes().startswith(b"this is not a DuckDB database")  # nothing lost
