"""The sync history and the audit log: rebuilt from the Dagster instance after every sync.

`operations_history` reads the instance (every run, failed or not, with its tags and events)
and writes two raw tables, which the dbt marts `ops.sync_history` and `ops.audit_log` serve to
BI tools:

- `ops_raw.sync_runs`: one row per raw table per sync run of the last OPS_SYNC_HISTORY_DAYS,
  rebuilt each time (the instance keeps every run);
- `ops_raw.setup_events`: the setup's changes found by comparing the setup with the one the
  previous refresh saw (kept in the instance's key-value store), plus the manual syncs and
  retries; appended, as a diff cannot be recomputed, and trimmed to OPS_AUDIT_LOG_DAYS.

After any sync ends, in success or failure, a sensor requests `refresh_operations_history`
(this asset and the two marts); the BI copy follows through the automation sensor. That job is
no sync, so it never triggers itself.
"""

from collections.abc import Iterator, Sequence
from dataclasses import astuple
from datetime import UTC, datetime

import dagster as dg
import duckdb

from intercom_pipeline.defs.resources import IntercomResource, WarehouseResource
from intercom_pipeline.defs.schedules import INTERVALS, SYNCS, active_syncs, schedule_jobs
from intercom_pipeline.operations.history import (
    AuditEvent,
    HistoryRow,
    ScheduleStatus,
    SetupSnapshot,
    cutoff,
    history_rows,
    run_events,
    setup_events,
    status_text,
    token_fingerprint,
)
from intercom_pipeline.operations.instance import (
    OperationsResource,
    read_snapshot,
    sync_runs,
    synced_tables,
    write_snapshot,
)
from intercom_pipeline.operations.pause import read_pauses
from intercom_pipeline.sources.intercom.selection import SetupSelection, setup_selection
from intercom_pipeline.sources.intercom.tables import MODULES, tables_of
from intercom_pipeline.warehouse import Warehouse
from intercom_pipeline.warehouse.rows import merge_rows, write_rows

GROUP = "operations"
SYNC_RUNS = dg.AssetKey(["ops_raw", "sync_runs"])
SETUP_EVENTS = dg.AssetKey(["ops_raw", "setup_events"])
OPS_MARTS = (dg.AssetKey(["ops", "sync_history"]), dg.AssetKey(["ops", "audit_log"]))
HISTORY_JOB = "refresh_operations_history"

# Column -> DuckDB type, in the order of `HistoryRow` and `AuditEvent`.
SYNC_RUNS_COLUMNS = {
    "run_id": "varchar",
    "table_name": "varchar",
    "job_name": "varchar",
    "run_kind": "varchar",
    "schedule_name": "varchar",
    "parent_run_id": "varchar",
    "status": "varchar",
    "started_at": "timestamp",
    "ended_at": "timestamp",
    "rows_loaded": "bigint",
    "run_api_calls": "bigint",
    "run_rate_limited_429": "bigint",
    "failure_reason": "varchar",
}
SETUP_EVENTS_COLUMNS = {
    "event_id": "varchar",
    "occurred_at": "timestamp",
    "event_type": "varchar",
    "subject": "varchar",
    "detail": "varchar",
    "run_id": "varchar",
}


def current_setup(
    instance: dg.DagsterInstance,
    intercom: IntercomResource,
    selection: SetupSelection | None = None,
) -> SetupSnapshot:
    """The setup now: modules, fields left out, intervals, token fingerprints and pauses."""
    selection = selection or setup_selection()
    pauses = read_pauses(instance.run_storage, schedule_jobs())
    return SetupSnapshot(
        modules=tuple(selection.modules),
        excluded_fields=tuple(selection.excluded_fields),
        intervals={sync.name: sync.interval() for sync in SYNCS},
        tokens={ws.name: token_fingerprint(ws.access_token.reveal()) for ws in intercom.settings()},
        pauses={
            name: {"reason": p.reason, "run_id": p.run_id, "since": p.since}
            for name, p in pauses.items()
        },
    )


@dg.multi_asset(
    name="operations_history",
    specs=[
        dg.AssetSpec(
            SYNC_RUNS,
            group_name=GROUP,
            kinds={"dagster", "duckdb"},
            description="One row per raw table per sync run, from the Dagster instance.",
        ),
        dg.AssetSpec(
            SETUP_EVENTS,
            group_name=GROUP,
            kinds={"dagster", "duckdb"},
            description="One row per setup change, manual sync or retry, from the instance.",
        ),
    ],
)
def operations_history(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    intercom: IntercomResource,
    operations: OperationsResource,
) -> Iterator[dg.MaterializeResult]:
    """Rebuild the sync history and append the setup's changes since the last refresh."""
    instance, now = context.instance, datetime.now(UTC)
    history_since = cutoff(now, operations.history_days())
    audit_since = cutoff(now, operations.audit_days())
    runs = sync_runs(instance, min(history_since, audit_since), not_syncs={HISTORY_JOB})
    snapshot = current_setup(instance, intercom)
    rows = history_rows(runs, since=history_since)
    events = [
        *setup_events(read_snapshot(instance), snapshot, now),
        *(e for e in run_events(runs) if e.occurred_at >= audit_since),
    ]
    kept = write_history(warehouse.get(context.log), rows, events, audit_since)
    write_snapshot(instance, snapshot)  # after the write: a failed write loses no change
    context.log.info(f"{len(rows)} sync rows, {len(events)} setup events found ({kept} kept)")
    yield dg.MaterializeResult(
        asset_key=SYNC_RUNS, metadata={"rows": dg.MetadataValue.int(len(rows))}
    )
    yield dg.MaterializeResult(
        asset_key=SETUP_EVENTS, metadata={"rows": dg.MetadataValue.int(kept)}
    )


def write_history(
    store: Warehouse,
    rows: Sequence[HistoryRow],
    events: Sequence[AuditEvent],
    audit_since: datetime,
) -> int:
    """Write the history into the warehouse (`write_tables`); returns the events kept."""
    with store.connect("recording the sync history") as conn:
        return write_tables(conn, rows, events, audit_since)


def write_tables(
    conn: duckdb.DuckDBPyConnection,
    rows: Sequence[HistoryRow],
    events: Sequence[AuditEvent],
    audit_since: datetime,
) -> int:
    """Replace `ops_raw.sync_runs`, add the new events, drop the old ones; returns events kept.

    Plain tables without constraints, so the DuckDB file and the DuckLake take the same SQL; an
    event already stored (the same id) is not added again.
    """
    conn.execute("create schema if not exists ops_raw")
    for table, columns in (
        ("ops_raw.sync_runs", SYNC_RUNS_COLUMNS),
        ("ops_raw.setup_events", SETUP_EVENTS_COLUMNS),
    ):
        body = ", ".join(f"{name} {kind}" for name, kind in columns.items())
        conn.execute(f"create table if not exists {table} ({body})")
    conn.execute("begin")
    conn.execute("delete from ops_raw.sync_runs")
    casts = ", ".join(f"cast({c} as {t}) as {c}" for c, t in SYNC_RUNS_COLUMNS.items())
    write_rows(
        conn,
        f"insert into ops_raw.sync_runs select {casts} from incoming",
        list(SYNC_RUNS_COLUMNS),
        [_plain(astuple(row)) for row in rows],
    )
    merge_rows(
        conn,
        "ops_raw.setup_events",
        ("event_id",),
        list(SETUP_EVENTS_COLUMNS),
        [_plain(astuple(e)) for e in events],
        update=False,
    )
    conn.execute("delete from ops_raw.setup_events where occurred_at < ?", [_utc(audit_since)])
    conn.execute("commit")
    return conn.execute("select count(*) from ops_raw.setup_events").fetchone()[0]  # type: ignore[index]


def _plain(values: tuple[object, ...]) -> tuple[object, ...]:
    """Times as UTC without a zone: the columns are UTC timestamps, whatever the session's zone."""
    return tuple(_utc(v) if isinstance(v, datetime) else v for v in values)


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


history_job = dg.define_asset_job(
    HISTORY_JOB,
    selection=dg.AssetSelection.assets(SYNC_RUNS, SETUP_EVENTS, *OPS_MARTS),
    description="Refresh ops.sync_history and ops.audit_log from the Dagster instance.",
)


def refresh_request(context: dg.RunStatusSensorContext) -> dg.RunRequest | dg.SkipReason:
    """A refresh for a sync that ended; nothing for other runs (this job's own included)."""
    run = context.dagster_run
    if run.job_name == HISTORY_JOB or not synced_tables(context.instance, run.run_id):
        return dg.SkipReason(f"run {run.run_id} of {run.job_name} is no sync")
    return dg.RunRequest(run_key=f"history-after-{run.run_id}")


@dg.run_status_sensor(
    run_status=dg.DagsterRunStatus.SUCCESS,
    request_job=history_job,
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
)
def history_after_success(context: dg.RunStatusSensorContext) -> dg.RunRequest | dg.SkipReason:
    """Refreshes the sync history and the audit log after a sync succeeded."""
    return refresh_request(context)


@dg.run_failure_sensor(
    request_job=history_job,
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
)
def history_after_failure(context: dg.RunFailureSensorContext) -> dg.RunRequest | dg.SkipReason:
    """Refreshes the sync history and the audit log after a sync failed: its reason is news."""
    return refresh_request(context)


def schedule_statuses(instance: dg.DagsterInstance) -> list[ScheduleStatus]:
    """Each sync schedule: its interval, its pause, and whether someone stopped it."""
    pauses = read_pauses(instance.run_storage, schedule_jobs())
    stopped = {
        state.instigator_name
        for state in instance.all_instigator_state()
        if state.instigator_type.value == "SCHEDULE" and state.status.value == "STOPPED"
    }
    statuses = []
    for sync in active_syncs():
        pause = pauses.get(sync.name)
        statuses.append(
            ScheduleStatus(
                sync.name,
                sync.interval(),
                INTERVALS[sync.interval()][0],
                pause.skip_message().removeprefix("Paused: ") if pause else None,
                sync.name in stopped,
            )
        )
    return statuses


def status_report(instance: dg.DagsterInstance, days: int, now: datetime | None = None) -> str:
    """`intercom-pipeline status`: each module's last sync, each schedule's next tick or pause."""
    now = now or datetime.now(UTC)
    rows = history_rows(sync_runs(instance, cutoff(now, days), not_syncs={HISTORY_JOB}))
    modules = {m: tables_of(*MODULES[m]) for m in setup_selection().modules}
    return status_text(rows, modules, schedule_statuses(instance), now, days)


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions(
        assets=[operations_history],
        jobs=[history_job],
        sensors=[history_after_success, history_after_failure],
    )
