"""A run killed half-way, then run again, ends with the same tables as a clean run."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from intercom_sandbox import RunningSandbox, SandboxConfig
from tests.conftest import SandboxClient
from tests.integration.test_ingestion import fingerprint, ingest

CHILD = """
from intercom_pipeline.defs.resources import resources_from_environment
from intercom_pipeline.warehouse.load import run_ingestion
resources = resources_from_environment(resolved=True)
run_ingestion(resources["warehouse"].get(), resources["intercom"].connect(), part_fetch_workers=2)
"""


@pytest.fixture
def sandbox_config() -> SandboxConfig:
    return SandboxConfig(seed=8, scale="tiny")


def test_killed_run_then_rerun_equals_a_clean_run(
    running_sandbox: RunningSandbox, intercom: SandboxClient, tmp_path: Path
) -> None:
    intercom.control("PUT", "/faults", {"latency_ms": 15})  # slow enough to stop it half-way
    env = {
        **os.environ,
        "INTERCOM_BASE_URL": running_sandbox.base_url,
        "INTERCOM_ACCESS_TOKEN": "sandbox-token",
        "DUCKDB_PATH": str(tmp_path / "killed" / "warehouse.duckdb"),
        "DLT_DATA_DIR": str(tmp_path / "killed" / "dlt"),
    }
    # A first complete run in both warehouses, so the kill interrupts an incremental run.
    subprocess.run([sys.executable, "-c", CHILD], env=env, check=True, timeout=300)
    ingest(running_sandbox, tmp_path / "clean")
    intercom.control("POST", "/clock/advance", {"seconds": 3600})
    intercom.control("POST", "/stats/reset")
    child = subprocess.Popen([sys.executable, "-c", CHILD], env=env)
    deadline = time.monotonic() + 120
    while intercom.control("GET", "/stats")["calls"].get("GET /conversations/{id}", 0) < 5:
        assert child.poll() is None, "the run ended before it could be killed"
        assert time.monotonic() < deadline
        time.sleep(0.02)
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL

    intercom.control("PUT", "/faults", {"latency_ms": 0})
    subprocess.run([sys.executable, "-c", CHILD], env=env, check=True, timeout=300)
    ingest(running_sandbox, tmp_path / "clean")
    assert fingerprint(tmp_path / "killed" / "warehouse.duckdb") == fingerprint(
        tmp_path / "clean" / "warehouse.duckdb"
    )
