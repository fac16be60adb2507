"""The warehouse's own serialization: waits that say who they wait for, and nothing the dead hold.

Every holder here is a real second process (a writer of ours, or a DuckDB reader that knows
nothing of our lock), as in production.
"""

from __future__ import annotations

import os
import signal
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

import duckdb
import pytest

from intercom_pipeline.warehouse import NotADatabase, Warehouse, WarehouseBusy, WarehouseError
from intercom_pipeline.warehouse import lock as lock_module

HOLD_AS_WRITER = """
import sys, time
from pathlib import Path
from intercom_pipeline.warehouse import Warehouse
with Warehouse.at(Path(sys.argv[1])).connect("a test holding the warehouse"):
    print("held", flush=True)
    time.sleep(float(sys.argv[2]))
"""
HOLD_AS_READER = """
import sys, time, duckdb
conn = duckdb.connect(sys.argv[1], read_only=True)
print("held", flush=True)
time.sleep(float(sys.argv[2]))
conn.close()
"""
WAIT_AS_WRITER = """
import sys
from pathlib import Path
from intercom_pipeline.warehouse import Warehouse
print("waiting", flush=True)
with Warehouse.at(Path(sys.argv[1])).connect("a test waiting"):
    print("got it", flush=True)
"""


class Recorded:
    """A log that keeps what it is told."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def info(self, msg: str) -> None:
        self.lines.append(msg)

    def warning(self, msg: str) -> None:
        self.lines.append(msg)


def start(script: str, *args: str) -> subprocess.Popen[str]:
    """A Python process running `script`, once it printed its first line."""
    child = subprocess.Popen(
        [sys.executable, "-c", script, *args], stdout=subprocess.PIPE, text=True
    )
    assert child.stdout is not None
    child.stdout.readline()
    return child


@pytest.fixture
def warehouse_file(tmp_path: Path) -> Path:
    path = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(path)) as conn:
        conn.execute("create table t as select 1 as a")
    return path


def test_a_writer_waits_for_another_and_names_it(warehouse_file: Path) -> None:
    holder = start(HOLD_AS_WRITER, str(warehouse_file), "2")
    log = Recorded()
    started = time.monotonic()
    with Warehouse.at(warehouse_file, log).connect("the test") as conn:
        waited = time.monotonic() - started
        assert conn.execute("select a from t").fetchall() == [(1,)]
    holder.wait(timeout=30)
    assert 1.0 < waited < 15
    assert f"PID {holder.pid}" in log.lines[0]
    assert "a test holding the warehouse" in log.lines[0]
    assert "writer lock" in log.lines[0]


def test_the_wait_is_reported_again_while_it_lasts(
    warehouse_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(lock_module, "REPORT_EVERY_SECONDS", 0.5)
    holder = start(HOLD_AS_WRITER, str(warehouse_file), "2.2")
    log = Recorded()
    with Warehouse.at(warehouse_file, log).connect("the test"):
        pass
    holder.wait(timeout=30)
    assert len(log.lines) >= 3
    assert all(f"PID {holder.pid}" in line for line in log.lines)


def test_a_wait_that_runs_out_names_the_holder_and_the_fix(warehouse_file: Path) -> None:
    holder = start(HOLD_AS_WRITER, str(warehouse_file), "30")
    try:
        with pytest.raises(WarehouseBusy) as refused:
            with Warehouse.at(warehouse_file, lock_timeout_seconds=1).connect("the test"):
                pass
    finally:
        holder.kill()
        holder.wait()
    message = str(refused.value)
    assert f"PID {holder.pid}" in message
    assert "a test holding the warehouse" in message
    assert "DUCKDB_LOCK_TIMEOUT_SECONDS" in message
    assert "credentials" not in message and "internet" not in message


def test_what_a_killed_writer_held_is_free_at_once(warehouse_file: Path) -> None:
    holder = start(HOLD_AS_WRITER, str(warehouse_file), "300")
    holder.send_signal(signal.SIGKILL)
    holder.wait(timeout=30)
    log = Recorded()
    started = time.monotonic()
    with Warehouse.at(warehouse_file, log, lock_timeout_seconds=5).connect("the test") as conn:
        conn.execute("insert into t values (2)")
    assert time.monotonic() - started < 2
    assert log.lines == []


def test_a_reader_of_another_process_is_waited_for(warehouse_file: Path) -> None:
    reader = start(HOLD_AS_READER, str(warehouse_file), "2")
    log = Recorded()
    with Warehouse.at(warehouse_file, log).connect("the test") as conn:
        conn.execute("insert into t values (2)")
    reader.wait(timeout=30)
    assert any(f"PID {reader.pid}" in line and "has it open" in line for line in log.lines)


def test_a_waiting_writer_stops_on_sigterm(warehouse_file: Path) -> None:
    holder = start(HOLD_AS_WRITER, str(warehouse_file), "60")
    waiting = start(WAIT_AS_WRITER, str(warehouse_file))
    try:
        time.sleep(1)
        assert waiting.poll() is None
        waiting.send_signal(signal.SIGTERM)
        assert waiting.wait(timeout=5) == -signal.SIGTERM
    finally:
        holder.kill()
        waiting.kill()
        holder.wait()


def test_nested_connections_in_one_process_share_the_first(warehouse_file: Path) -> None:
    warehouse = Warehouse.at(warehouse_file)
    with warehouse.connect("outer") as outer:
        outer.execute("insert into t values (3)")
        with warehouse.connect("inner") as inner:
            assert inner.execute("select count(*) from t").fetchone() == (2,)


def test_a_file_that_is_not_a_database_is_named_in_one_line(tmp_path: Path) -> None:
    damaged = tmp_path / "warehouse.duckdb"
    damaged.write_text("not a database " * 100)
    with pytest.raises(NotADatabase) as refused:
        with Warehouse.at(damaged).connect("the test"):
            pass
    message = str(refused.value)
    assert "\n" not in message
    assert str(damaged) in message
    assert "move it aside" in message and "DUCKDB_PATH" in message


def test_a_file_from_a_newer_duckdb_names_the_bi_copy_that_replaces_it(tmp_path: Path) -> None:
    """Releases before the lake mode wrote the warehouse with DuckDB 2.0, which 1.5 cannot read."""
    newer = tmp_path / "warehouse.duckdb"
    duckdb.connect(str(newer)).close()
    header = bytearray(newer.read_bytes())
    assert header[8:12] == b"DUCK"
    header[12:20] = (999).to_bytes(8, "little")  # the storage version a DuckDB 2.0 file carries
    header[:8] = _block_checksum(header[8:4096]).to_bytes(8, "little")
    newer.write_bytes(bytes(header))
    with pytest.raises(WarehouseError) as refused:
        with Warehouse.at(newer).connect("the test"):
            pass
    message = str(refused.value)
    assert "newer DuckDB" in message and duckdb.__version__ in message
    assert f"cp {tmp_path / 'serving' / 'warehouse.duckdb'} {newer}" in message


def _block_checksum(block: bytes) -> int:
    """DuckDB's checksum of a block (src/common/checksum.cpp): 5381 xor each word times a constant."""
    result = 5381
    for (word,) in struct.iter_unpack("<Q", block):
        result ^= (word * 0xBF58476D1CE4E5B9) % 2**64
    return result


def test_two_warehouses_have_their_own_working_folders(tmp_path: Path) -> None:
    first, second = Warehouse.at(tmp_path / "a.duckdb"), Warehouse.at(tmp_path / "b.duckdb")
    assert first.pipelines_dir != second.pipelines_dir
    assert first.pipelines_dir.parent.parent == tmp_path
    assert first.lock.path != second.lock.path


def test_the_holder_is_read_from_the_lock_file(warehouse_file: Path) -> None:
    holder = start(HOLD_AS_WRITER, str(warehouse_file), "5")
    try:
        found = Warehouse.at(warehouse_file).lock.holder()
    finally:
        holder.kill()
        holder.wait()
    assert found.pid == holder.pid
    assert "python" in found.command
    assert found.purpose.startswith("a test holding the warehouse since ")
    assert os.getpid() != found.pid


def test_threads_of_one_process_each_get_a_connection_of_their_own(warehouse_file: Path) -> None:
    warehouse = Warehouse.at(warehouse_file)
    opened, release = threading.Event(), threading.Event()
    seen: list[int] = []

    def other_thread() -> None:
        with warehouse.connect("another thread") as conn:
            opened.set()
            release.wait(10)
            seen.append(conn.execute("select count(*) from t").fetchone()[0])

    worker = threading.Thread(target=other_thread)
    with warehouse.connect("the test") as conn:
        worker.start()
        assert opened.wait(10)
        conn.execute("insert into t values (2)")
    release.set()  # the first connection is closed: the other thread's still works
    worker.join(10)
    assert seen == [2]
