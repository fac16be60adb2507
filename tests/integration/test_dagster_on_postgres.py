"""deploy/dagster.yaml on a real PostgreSQL: the instance that several processes and hosts share.

The repository's own deploy/dagster.yaml (linked into a temporary DAGSTER_HOME, not rewritten
here) is loaded with Dagster's instance schema, its settings read from DAGSTER_PG_* as a
deployment sets them (an empty password included). A job then runs with the multiprocess
executor: each op in a process of its own writes its events straight to PostgreSQL, where they
are read back with SQL. A schedule started through one instance object is seen by a second one,
and a fresh Python process that shares nothing but the environment sees the run and the
schedule, as the webserver or daemon on another host would.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import psycopg2
import pytest
from dagster._core.remote_origin import InProcessCodeLocationOrigin
from dagster._core.run_coordinator import QueuedRunCoordinator
from dagster._core.scheduler.instigation import InstigatorStatus
from dagster._core.types.loadable_target_origin import LoadableTargetOrigin
from dagster_postgres import (
    PostgresEventLogStorage,
    PostgresRunStorage,
    PostgresScheduleStorage,
)

from tests.integration import dagster_pg_job
from tests.postgres import PostgresCluster

REPO = Path(__file__).resolve().parents[2]
DEPLOY_INSTANCE = REPO / "deploy" / "dagster.yaml"
DATABASE = "dagster_deploy_instance"

# What a second host runs: the instance from DAGSTER_HOME and nothing else of this process.
READER = """
import json, sys
from dagster import DagsterEventType, DagsterInstance
instance = DagsterInstance.get()
run = instance.get_run_by_id(sys.argv[1])
successes = instance.get_records_for_run(sys.argv[1], of_type=DagsterEventType.STEP_SUCCESS)
state = instance.get_instigator_state(sys.argv[2], sys.argv[3])
print(json.dumps({
    "storage": type(instance.run_storage).__name__,
    "status": run.status.value,
    "job": run.job_name,
    "steps": sorted(r.event_log_entry.step_key for r in successes.records),
    "schedule": state.status.value,
    "cron": state.instigator_data.cron_schedule,
}))
"""


@pytest.fixture
def dagster_home(
    postgres: PostgresCluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[Path, str]:
    """A DAGSTER_HOME holding the repository's deploy/dagster.yaml, pointed at a new database."""
    dsn = postgres.create_database(DATABASE)
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").symlink_to(DEPLOY_INSTANCE)
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    monkeypatch.setenv("DAGSTER_PG_HOST", "127.0.0.1")
    monkeypatch.setenv("DAGSTER_PG_PORT", str(postgres.port))
    monkeypatch.setenv("DAGSTER_PG_USERNAME", "postgres")
    monkeypatch.setenv("DAGSTER_PG_PASSWORD", "")  # trust authentication: no password at all
    monkeypatch.setenv("DAGSTER_PG_DB", DATABASE)
    return home, dsn


def _query(dsn: str, sql: str, *params: object) -> list[tuple]:
    with psycopg2.connect(dsn) as conn, conn.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    conn.close()
    return rows


def test_deploy_instance_runs_across_processes_on_postgres(
    dagster_home: tuple[Path, str], tmp_path: Path
) -> None:
    home, dsn = dagster_home
    assert (home / "dagster.yaml").resolve() == DEPLOY_INSTANCE

    # The file passes Dagster's instance schema and builds the PostgreSQL storages.
    with dg.DagsterInstance.from_config(str(home)) as instance:
        _check_instance(instance, home, dsn, tmp_path)


def _check_instance(instance: dg.DagsterInstance, home: Path, dsn: str, tmp_path: Path) -> None:
    assert isinstance(instance.run_storage, PostgresRunStorage)
    assert isinstance(instance.event_log_storage, PostgresEventLogStorage)
    assert isinstance(instance.schedule_storage, PostgresScheduleStorage)
    assert isinstance(instance.run_coordinator, QueuedRunCoordinator)
    assert instance.run_monitoring_enabled
    assert instance.run_monitoring_max_resume_run_attempts == 0
    assert not instance.telemetry_enabled
    # DagsterInstance.get() (what every Dagster process does) finds the same configuration.
    with dg.DagsterInstance.get() as from_home:
        assert isinstance(from_home.run_storage, PostgresRunStorage)

    # A job whose ops each run in a child process of their own.
    pid_folder = tmp_path / "pids"
    pid_folder.mkdir()
    started = time.monotonic()
    with dg.execute_job(
        dg.reconstructable(dagster_pg_job.pid_job),
        instance=instance,
        run_config={"resources": {"pids": {"config": {"folder": str(pid_folder)}}}},
    ) as result:
        assert result.success
        run_id = result.run_id
    print(f"run on PostgreSQL in {time.monotonic() - started:.1f} s")

    pids = {step: int((pid_folder / f"{step}.pid").read_text()) for step in dagster_pg_job.STEPS}
    assert len(set(pids.values())) == len(dagster_pg_job.STEPS)  # one process per step
    assert os.getpid() not in pids.values()

    # The run and its events are rows of the database, whoever wrote them.
    assert _query(dsn, "select pipeline_name, status from runs where run_id = %s", run_id) == [
        ("pid_job", "SUCCESS")
    ]
    successes = _query(
        dsn,
        "select step_key, event from event_logs"
        " where run_id = %s and dagster_event_type = 'STEP_SUCCESS' order by step_key",
        run_id,
    )
    assert [step for step, _ in successes] == sorted(dagster_pg_job.STEPS)
    # Each STEP_SUCCESS was written by the child process that ran the step.
    written_by = {step: json.loads(body)["dagster_event"]["pid"] for step, body in successes}
    assert written_by == pids
    kinds = dict(
        _query(
            dsn,
            "select dagster_event_type, count(*) from event_logs where run_id = %s"
            " group by dagster_event_type",
            run_id,
        )
    )
    assert kinds["STEP_START"] == kinds["STEP_SUCCESS"] == len(dagster_pg_job.STEPS)
    assert "STEP_FAILURE" not in kinds
    assert kinds["PIPELINE_SUCCESS"] == 1  # RUN_SUCCESS, stored under its pre-1.0 name

    # A schedule started through this instance (as the UI or CLI does) ...
    origin = InProcessCodeLocationOrigin(
        LoadableTargetOrigin(
            executable_path=sys.executable,
            module_name=dagster_pg_job.__name__,
            working_directory=str(REPO),
        ),
        location_name="dagster_pg_job",
    )
    with origin.create_location(instance) as location:
        schedule = location.get_repository("__repository__").get_schedule("pid_schedule")
        instance.start_schedule(schedule)
    origin_id, selector_id = schedule.get_remote_origin_id(), schedule.selector_id

    # ... is stored in PostgreSQL ...
    assert _query(dsn, "select status from jobs where job_origin_id = %s", origin_id) == [
        ("RUNNING",)
    ]
    # ... and read back by a second instance object from the same dagster.yaml,
    with dg.DagsterInstance.from_config(str(home)) as second:
        assert second is not instance
        state = second.get_instigator_state(origin_id, selector_id)
        assert state is not None
        assert state.status == InstigatorStatus.RUNNING
        assert state.instigator_data.cron_schedule == "0 3 * * *"
        run = second.get_run_by_id(run_id)
        assert run is not None
        assert run.status == dg.DagsterRunStatus.SUCCESS

    # ... and by another Python process that shares only the environment (DAGSTER_HOME and the
    # DAGSTER_PG_* variables), as the daemon or the webserver on another host would.
    reader = subprocess.run(
        [sys.executable, "-c", READER, run_id, origin_id, selector_id],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
        check=False,
    )
    assert reader.returncode == 0, reader.stderr
    assert json.loads(reader.stdout.strip().splitlines()[-1]) == {
        "storage": "PostgresRunStorage",
        "status": "SUCCESS",
        "job": "pid_job",
        "steps": sorted(dagster_pg_job.STEPS),
        "schedule": "RUNNING",
        "cron": "0 3 * * *",
    }
