"""Reading the Dagster instance for the sync history: its runs as plain `SyncRun`s.

The instance records every run, failed or not, with its tags, its planned and done
materializations and its step failures, in SQLite or PostgreSQL alike: the history is rebuilt
from it. The setup snapshot the audit log compares with sits in its key-value store, like the
pauses (`operations/pause.py`). `OperationsResource` holds the retention settings; it lives
here, not in `defs/operations.py`, so that `defs/resources.py` can list it without an import
cycle (`defs/operations.py` imports `defs/resources.py`).
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, datetime

import dagster as dg
from pydantic import Field

from intercom_pipeline.operations.history import (
    DEFAULT_AUDIT_LOG_DAYS,
    DEFAULT_SYNC_HISTORY_DAYS,
    PARENT_RUN_TAG,
    SCHEDULE_TAG,
    SetupSnapshot,
    SyncRun,
    TableLoad,
    retention_days,
    run_kind,
)
from intercom_pipeline.operations.notify import error_text, without_secrets
from intercom_pipeline.sources.intercom.tables import RAW_TABLES

SNAPSHOT_KEY = "intercom_pipeline/ops/setup_snapshot"
# Resource field -> the environment variable that sets it.
OPERATIONS_VARIABLES = {
    "sync_history_days": "OPS_SYNC_HISTORY_DAYS",
    "audit_log_days": "OPS_AUDIT_LOG_DAYS",
}
_ENDED = [dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED]
_STATUS = {
    dg.DagsterRunStatus.SUCCESS: "success",
    dg.DagsterRunStatus.FAILURE: "failure",
    dg.DagsterRunStatus.CANCELED: "canceled",
}


# Variables whose values never reach the history (as notifications.py keeps them from a chat).
class OperationsResource(dg.ConfigurableResource):
    """How long the sync history and the audit log keep their rows."""

    sync_history_days: str = Field(
        default="",
        description=f"OPS_SYNC_HISTORY_DAYS: days of ops.sync_history (unset: "
        f"{DEFAULT_SYNC_HISTORY_DAYS})",
    )
    audit_log_days: str = Field(
        default="",
        description=f"OPS_AUDIT_LOG_DAYS: days of ops.audit_log (unset: {DEFAULT_AUDIT_LOG_DAYS})",
    )

    def history_days(self) -> int:
        return retention_days(
            self.sync_history_days,
            OPERATIONS_VARIABLES["sync_history_days"],
            DEFAULT_SYNC_HISTORY_DAYS,
        )

    def audit_days(self) -> int:
        return retention_days(
            self.audit_log_days, OPERATIONS_VARIABLES["audit_log_days"], DEFAULT_AUDIT_LOG_DAYS
        )


def sync_runs(
    instance: dg.DagsterInstance, since: datetime, not_syncs: Collection[str] = ()
) -> list[SyncRun]:
    """The ended runs created since `since` that selected raw Intercom tables, oldest first.

    `not_syncs`: jobs known to select none (the refresh's own), whose events are not read.
    """
    records = instance.get_run_records(
        filters=dg.RunsFilter(statuses=_ENDED, created_after=since), ascending=True
    )
    runs = []
    for record in records:
        if record.dagster_run.job_name in not_syncs:
            continue
        tables = synced_tables(instance, record.dagster_run.run_id)
        if tables:
            runs.append(_sync_run(instance, record, tables))
    return runs


def synced_tables(instance: dg.DagsterInstance, run_id: str) -> tuple[str, ...]:
    """The raw Intercom tables a run selected (planned to materialize): none for other runs."""
    planned = instance.get_records_for_run(
        run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION_PLANNED
    ).records
    keys = {r.event_log_entry.dagster_event.event_specific_data.asset_key for r in planned}  # type: ignore[union-attr]
    return tuple(t for t in RAW_TABLES if dg.AssetKey(["intercom", t]) in keys)


def _sync_run(
    instance: dg.DagsterInstance, record: dg.RunRecord, tables: tuple[str, ...]
) -> SyncRun:
    run = record.dagster_run
    status = _STATUS[run.status]
    return SyncRun(
        run_id=run.run_id,
        job_name=run.job_name,
        status=status,
        kind=run_kind(run.tags, run.parent_run_id),
        started_at=_moment(record.start_time),
        ended_at=_moment(record.end_time),
        tables=tables,
        loads=_loads(instance, run.run_id),
        failure_reason=_failure_reason(instance, run.run_id) if status == "failure" else "",
        schedule_name=run.tags.get(SCHEDULE_TAG),
        parent_run_id=run.parent_run_id or run.tags.get(PARENT_RUN_TAG),
    )


def _moment(timestamp: float | None) -> datetime | None:
    return datetime.fromtimestamp(timestamp, UTC) if timestamp is not None else None


def _loads(instance: dg.DagsterInstance, run_id: str) -> dict[str, TableLoad]:
    """Raw table -> the counts its materialization in the run carries."""
    done = instance.get_records_for_run(
        run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION
    ).records
    loads = {}
    for record in done:
        materialization = record.event_log_entry.dagster_event.event_specific_data.materialization  # type: ignore[union-attr]
        path = materialization.asset_key.path
        if len(path) == 2 and path[0] == "intercom" and path[1] in RAW_TABLES:
            metadata = materialization.metadata
            loads[path[1]] = TableLoad(
                _int(metadata.get("rows_loaded")),
                _int(metadata.get("run_api_calls")),
                _int(metadata.get("run_rate_limited_429")),
            )
    return loads


def _int(value: object) -> int | None:
    inner = getattr(value, "value", None)
    return inner if isinstance(inner, int) else None


def _failure_reason(instance: dg.DagsterInstance, run_id: str) -> str:
    """The failed step's own error (as `defs/notifications.failure_text` reads it), no secret."""
    steps = instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.STEP_FAILURE).records
    text = ""
    if steps:
        error = steps[0].event_log_entry.dagster_event.event_specific_data.error  # type: ignore[union-attr]
        text = error_text(error) if error is not None else ""
    if not text:
        failures = instance.get_records_for_run(
            run_id, of_type=dg.DagsterEventType.RUN_FAILURE
        ).records
        text = failures[0].event_log_entry.dagster_event.message or "" if failures else ""  # type: ignore[union-attr]
    return without_secrets(text)


def read_snapshot(instance: dg.DagsterInstance) -> SetupSnapshot | None:
    """The setup the last refresh saw (None before the first)."""
    value = instance.run_storage.get_cursor_values({SNAPSHOT_KEY}).get(SNAPSHOT_KEY)
    try:
        return SetupSnapshot.from_json(value) if value else None
    except (ValueError, TypeError):
        return None  # unreadable: start again from this refresh, as on the first


def write_snapshot(instance: dg.DagsterInstance, snapshot: SetupSnapshot) -> None:
    instance.run_storage.set_cursor_values({SNAPSHOT_KEY: snapshot.to_json()})
