"""The sync history and the audit log end to end: a scripted sequence of real runs against the
sandbox and of setup changes, recorded by a real Dagster instance, then the ops assets
materialized into the warehouse and the marts `ops.sync_history` and `ops.audit_log` read.

The instance is a persistent one in a temporary DAGSTER_HOME, so that `intercom-pipeline status`
(run in-process, as the command line would) reads the same runs and pauses.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
import pytest

from intercom_pipeline import cli
from intercom_pipeline.defs.operations import (
    HISTORY_JOB,
    SETUP_EVENTS,
    SYNC_RUNS,
    history_after_failure,
    history_after_success,
    write_tables,
)
from intercom_pipeline.defs.schedules import SYNCS, pause_on_blocking_failure, resume_on_success
from intercom_pipeline.operations.history import SyncRun, TableLoad, event, history_rows
from intercom_pipeline.warehouse.extensions import install_extensions
from intercom_sandbox import DEFAULT_TOKEN, RunningSandbox, Sandbox, SandboxConfig

JOB, SCHEDULE = "intercom_settings_job", "intercom_settings"
SCHEDULES = ("intercom_contacts", "intercom_conversations", "intercom_settings")
WRONG_TOKEN = "revoked-token-5f3a9c71d2"
SETTINGS_TABLES = set(next(sync.tables for sync in SYNCS if sync.name == SCHEDULE))


@pytest.fixture
def sandbox(monkeypatch: pytest.MonkeyPatch) -> Iterator[RunningSandbox]:
    with RunningSandbox(Sandbox(SandboxConfig(seed=2, scale="tiny"))) as running:
        monkeypatch.setenv("INTERCOM_BASE_URL", running.base_url)
        monkeypatch.setenv("INTERCOM_ACCESS_TOKEN", DEFAULT_TOKEN)
        for name in (
            "SMTP_HOST",
            "NOTIFY_EMAIL_TO",
            "NOTIFY_WEBHOOK_URL",
            "INTERCOM_MODULES",
            "INTERCOM_EXCLUDE_FIELDS",
            "INTERCOM_SETTINGS_SCHEDULE",
            "OPS_SYNC_HISTORY_DAYS",
            "OPS_AUDIT_LOG_DAYS",
        ):
            monkeypatch.delenv(name, raising=False)
        yield running


def definitions() -> dg.Definitions:
    """The project's definitions, as the code location loads them (the environment now)."""
    from intercom_pipeline.definitions import build_definitions

    return build_definitions()


def settings_job() -> dg.JobDefinition:
    """The settings sync, reconstructable for a re-execution as the UI launches it."""
    return definitions().resolve_job_def(JOB)


def sync(
    instance: dg.DagsterInstance, tags: dict[str, str] | None = None
) -> dg.ExecuteInProcessResult:
    """Run the settings sync, then the sensors the daemon would call for its end."""
    result = settings_job().execute_in_process(
        instance=instance, tags=tags or {}, raise_on_error=False
    )
    sense(instance, result.dagster_run, result.success)
    return result


def sense(instance: dg.DagsterInstance, run: dg.DagsterRun, success: bool) -> None:
    """The pause/resume sensor and the history sensor, as the daemon evaluates them."""
    status = dg.DagsterEventType.RUN_SUCCESS if success else dg.DagsterEventType.RUN_FAILURE
    event = instance.get_records_for_run(run.run_id, of_type=status).records[0]
    pause_sensor = resume_on_success if success else pause_on_blocking_failure
    history_sensor = history_after_success if success else history_after_failure
    for sensor in (pause_sensor, history_sensor):
        context = dg.build_run_status_sensor_context(
            sensor_name=sensor.name,
            dagster_instance=instance,
            dagster_run=run,
            dagster_event=event.event_log_entry.dagster_event,  # type: ignore[arg-type]
        )
        if sensor is history_sensor:
            requested = sensor(context)
            assert isinstance(requested, dg.RunRequest), requested
            assert requested.run_key == f"history-after-{run.run_id}"
        else:
            sensor(context)


def refresh(instance: dg.DagsterInstance, with_marts: bool = False) -> None:
    """What the history sensor's run does: the raw ops tables (and, at the end, the marts)."""
    job = definitions().resolve_job_def(HISTORY_JOB)
    selection = None if with_marts else [SYNC_RUNS, SETUP_EVENTS]
    result = job.execute_in_process(instance=instance, asset_selection=selection)
    assert result.success
    # The refresh is no sync: it never asks for another refresh.
    context = dg.build_run_status_sensor_context(
        sensor_name=history_after_success.name,
        dagster_instance=instance,
        dagster_run=result.dagster_run,
        dagster_event=result.get_run_success_event(),
    )
    assert isinstance(history_after_success(context), dg.SkipReason)


def reexecute(instance: dg.DagsterInstance, failed_run_id: str) -> dg.DagsterRun:
    """Re-execute a failed run from its failure, as the UI's "Re-execute" does."""
    options = dg.ReexecutionOptions.from_failure(failed_run_id, instance)
    with dg.execute_job(
        dg.reconstructable(settings_job), instance, reexecution_options=options
    ) as result:
        run = result.dagster_run
        assert result.success, run.run_id
    sense(instance, run, success=True)
    return run


def query(sql: str) -> list[tuple[Any, ...]]:
    from intercom_pipeline.defs.resources import resources_from_environment

    with resources_from_environment(resolved=True)["warehouse"].get().connect() as conn:
        return conn.execute(sql).fetchall()


def started(instance: dg.DagsterInstance, run_id: str) -> datetime:
    record = instance.get_run_records(dg.RunsFilter(run_ids=[run_id]))[0]
    return datetime.fromtimestamp(record.start_time, UTC).replace(tzinfo=None)  # type: ignore[arg-type]


def test_the_history_and_audit_tables_hold_a_scripted_sequence(
    sandbox: RunningSandbox,
    instance: dg.DagsterInstance,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # 1. A scheduled sync, then the first refresh: the setup's baseline, no event.
    scheduled = sync(instance, {"dagster/schedule_name": SCHEDULE})
    assert scheduled.success
    refresh(instance)
    # 2. "Sync now".
    manual = sync(instance)
    assert manual.success
    # 3. The token is revoked: the next scheduled sync fails (401) and pauses every schedule.
    monkeypatch.setenv("INTERCOM_ACCESS_TOKEN", WRONG_TOKEN)
    failed = sync(instance, {"dagster/schedule_name": SCHEDULE})
    assert not failed.success
    refresh(instance)
    capsys.readouterr()
    assert cli.main(["status"]) == 0
    paused_status = capsys.readouterr().out
    # 4. A good token again, a new interval; the failed run re-executed succeeds and resumes.
    monkeypatch.setenv("INTERCOM_ACCESS_TOKEN", DEFAULT_TOKEN)
    monkeypatch.setenv("INTERCOM_SETTINGS_SCHEDULE", "6h")
    retry = reexecute(instance, failed.run_id)
    # 5. Modules and fields edited; the last refresh builds the marts.
    monkeypatch.setenv("INTERCOM_MODULES", "conversations,contacts,companies,admins,tags")
    monkeypatch.setenv("INTERCOM_EXCLUDE_FIELDS", "contacts.phone")
    refresh(instance, with_marts=True)

    runs = {
        scheduled.run_id: ("schedule", "success"),
        manual.run_id: ("manual", "success"),
        failed.run_id: ("schedule", "failure"),
        retry.run_id: ("retry", "success"),
    }
    history = query(
        "select run_id, table_name, run_kind, status, rows_loaded, run_api_calls, "
        "run_rate_limited_429, failure_reason, parent_run_id, schedule_name, "
        "run_duration_seconds from ops.sync_history"
    )
    assert {(r[0], r[1], r[2], r[3]) for r in history} == {
        (run_id, table, kind, status)
        for run_id, (kind, status) in runs.items()
        for table in SETTINGS_TABLES
    }
    assert len(history) == 4 * len(SETTINGS_TABLES)
    by_key = {(r[0], r[1]): r for r in history}
    first_admins = by_key[scheduled.run_id, "admins"]
    assert first_admins[4] == len(sandbox.sandbox.workspace.admins)  # every admin, first time
    for row in history:
        if row[3] == "success":
            assert row[4] is not None and row[5] > 0 and row[6] == 0 and row[7] is None, row
        else:
            assert row[4] is None and row[7].startswith("IntercomAuthError: "), row
            assert "(401" in row[7] and WRONG_TOKEN not in row[7]
        assert row[10] is not None and row[10] >= 0
    assert by_key[retry.run_id, "admins"][8] == failed.run_id
    assert by_key[failed.run_id, "admins"][9] == SCHEDULE
    assert by_key[manual.run_id, "admins"][9] is None

    audit = query(
        "select occurred_at, event_type, subject, detail, run_id from ops.audit_log "
        "order by event_type, subject, occurred_at"
    )
    pause_detail = "token rejected (401)"
    replaced = "access token replaced (the token itself is never recorded)"
    assert [row[1:] for row in audit] == [
        ("field_excluded", "contacts.phone", "left out of the sync", None),
        ("manual_sync", JOB, f"launched by hand ({', '.join(_tables())}): success", manual.run_id),
        *[
            ("module_removed", module, "turned off", None)
            for module in sorted(
                {"tickets", "segments", "data_attributes", "admin_activity_logs", "help_center"}
            )
        ],
        *[("paused", s, pause_detail, failed.run_id) for s in SCHEDULES],
        *[
            (
                "resumed",
                s,
                f"{pause_detail} no longer blocks it (paused since {_pause_since(audit, s)})",
                None,
            )
            for s in SCHEDULES
        ],
        (
            "retry",
            JOB,
            f"re-execution of run {failed.run_id} ({', '.join(_tables())}): success",
            retry.run_id,
        ),
        ("schedule_changed", SCHEDULE, "daily → 6h", None),
        ("token_replaced", "default", replaced, None),
        ("token_replaced", "default", replaced, None),
    ]
    occurred = {(row[1], row[4]): row[0] for row in audit if row[4]}
    assert occurred["manual_sync", manual.run_id] == started(instance, manual.run_id)
    assert occurred["retry", retry.run_id] == started(instance, retry.run_id)
    assert not any(WRONG_TOKEN in str(row) or DEFAULT_TOKEN in str(row) for row in audit)

    # The status command: paused while the token was rejected, then the next ticks.
    assert f"intercom_settings       paused: token rejected (401) in run {failed.run_id}. " in (
        paused_status
    )
    capsys.readouterr()
    assert cli.main(["status"]) == 0
    out = capsys.readouterr().out
    assert "Last sync of each module (the last 45 days):" in out
    admins_line = next(line for line in out.splitlines() if line.startswith("  admins "))
    assert "  success  " in admins_line and admins_line.endswith(f"retry  run {retry.run_id}")
    assert "  intercom_settings       next " in out and "(every 6h)" in out
    assert "paused" not in out


def _tables() -> list[str]:
    from intercom_pipeline.sources.intercom import RAW_TABLES

    return [t for t in RAW_TABLES if t in SETTINGS_TABLES]


def _pause_since(audit: list[tuple[Any, ...]], schedule: str) -> str:
    """The pause's own start, as the paused event dates it."""
    moment = next(row[0] for row in audit if row[1] == "paused" and row[2] == schedule)
    return moment.replace(tzinfo=UTC).isoformat(timespec="seconds")


def test_status_without_dagster_home_or_runs_says_so(
    sandbox: RunningSandbox,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    assert cli.main(["status"]) == 0
    assert "DAGSTER_HOME is not set: set it to the folder" in capsys.readouterr().out
    home = tmp_path / "empty_home"
    home.mkdir()
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    assert cli.main(["status"]) == 0
    out = capsys.readouterr().out
    assert "no sync has run yet" in out and "never synced" in out
    assert "  intercom_settings       next " in out


@pytest.fixture(params=["duckdb", "ducklake"])
def conn(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """A warehouse connection: a DuckDB file, or a DuckLake with a local catalog."""
    connection = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    if request.param == "ducklake":
        install_extensions(connection, ("ducklake",))
        connection.execute(
            f"ATTACH 'ducklake:{tmp_path}/cat.ducklake' AS lake (DATA_PATH '{tmp_path}/files/')"
        )
        connection.execute("USE lake")
    yield connection
    connection.close()


def test_the_tables_are_rebuilt_appended_and_trimmed_on_a_file_and_a_lake(
    conn: duckdb.DuckDBPyConnection,
) -> None:
    t0 = datetime(2026, 6, 1, 12, tzinfo=UTC)
    one = SyncRun("r1", JOB, "success", "schedule", t0, t0, ("admins",), {"admins": TableLoad(3)})
    two = SyncRun("r2", JOB, "failure", "manual", t0, t0, ("tags",), failure_reason="boom")
    old = event(t0, "schedule_changed", SCHEDULE, "daily → 6h")
    new = event(t0 + timedelta(days=10), "manual_sync", JOB, "launched by hand", "r2")

    assert write_tables(conn, history_rows([one]), [old], t0) == 1
    # Rebuilt: the history holds this refresh's rows only; the event found again adds nothing.
    assert write_tables(conn, history_rows([one, two]), [old, new], t0) == 2
    assert conn.execute(
        "select run_id, table_name, status, rows_loaded, failure_reason, started_at "
        "from ops_raw.sync_runs order by run_id"
    ).fetchall() == [
        ("r1", "admins", "success", 3, None, t0.replace(tzinfo=None)),
        ("r2", "tags", "failure", None, "boom", t0.replace(tzinfo=None)),
    ]
    # Trimmed: an event older than the audit log's retention goes.
    assert write_tables(conn, [], [], t0 + timedelta(days=1)) == 1
    assert conn.execute("select event_type, run_id from ops_raw.setup_events").fetchall() == [
        ("manual_sync", "r2")
    ]
    assert conn.execute("select count(*) from ops_raw.sync_runs").fetchone() == (0,)
