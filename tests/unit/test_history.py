"""The sync history and audit log logic on plain records: rows, events, retention, status."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from intercom_pipeline.operations.history import (
    ScheduleStatus,
    SetupSnapshot,
    SyncRun,
    TableLoad,
    cutoff,
    history_rows,
    next_tick,
    retention_days,
    run_events,
    run_kind,
    setup_events,
    status_text,
    token_fingerprint,
)
from intercom_pipeline.settings import ConfigurationError

T0 = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
NOW = datetime(2026, 12, 6, 10, 20, tzinfo=UTC)


def run(
    run_id: str,
    status: str = "success",
    kind: str = "schedule",
    tables: tuple[str, ...] = ("admins",),
    loads: dict[str, TableLoad] | None = None,
    started: datetime = T0,
    **extra: object,
) -> SyncRun:
    return SyncRun(
        run_id=run_id,
        job_name="intercom_settings_job",
        status=status,
        kind=kind,
        started_at=started,
        ended_at=started + timedelta(seconds=42),
        tables=tables,
        loads=loads if loads is not None else {},
        **extra,  # type: ignore[arg-type]
    )


def test_run_kind_from_tags() -> None:
    assert run_kind({"dagster/schedule_name": "intercom_settings"}) == "schedule"
    assert run_kind({}) == "manual"
    # A re-execution is a retry, even of a scheduled run whose tags it copied.
    retry = {"dagster/parent_run_id": "a", "dagster/schedule_name": "intercom_settings"}
    assert run_kind(retry) == "retry"
    assert run_kind({"dagster/schedule_name": "intercom_settings"}, "parent-run") == "retry"


def test_a_succeeded_run_gives_one_row_per_table_with_its_counts() -> None:
    loads = {"teams": TableLoad(3, 12, 1), "team_admins": TableLoad(5, 12, 1)}
    rows = history_rows(
        [run("r1", tables=("teams",), loads=loads, schedule_name="intercom_settings")]
    )
    # The family member loaded along (team_admins) is recorded too, after the selected ones.
    assert [(r.table_name, r.status, r.rows_loaded, r.run_api_calls) for r in rows] == [
        ("teams", "success", 3, 12),
        ("team_admins", "success", 5, 12),
    ]
    assert rows[0].run_rate_limited_429 == 1 and rows[0].failure_reason is None
    assert rows[0].schedule_name == "intercom_settings" and rows[0].run_kind == "schedule"
    assert rows[0].ended_at - rows[0].started_at == timedelta(seconds=42)  # type: ignore[operator]


def test_a_failed_run_gives_a_failure_row_per_selected_table_with_its_reason() -> None:
    reason = "IntercomAuthError: Intercom rejected the access token (401). Set ..."
    failed = run("r2", "failure", "manual", ("admins", "tags"), failure_reason=reason)
    rows = history_rows([failed])
    assert [(r.table_name, r.status, r.failure_reason, r.rows_loaded) for r in rows] == [
        ("admins", "failure", reason, None),
        ("tags", "failure", reason, None),
    ]
    # A table loaded before the run failed elsewhere is a success.
    partly = run("r3", "failure", tables=("admins", "tags"), loads={"admins": TableLoad(1, 2, 0)})
    assert [(r.table_name, r.status) for r in history_rows([partly])] == [
        ("admins", "success"),
        ("tags", "failure"),
    ]
    canceled = history_rows([run("r4", "canceled")])
    assert (canceled[0].status, canceled[0].failure_reason) == ("canceled", "canceled")


def test_retention_keeps_runs_started_since_the_cutoff() -> None:
    since = cutoff(NOW, 45)
    assert since == NOW - timedelta(days=45)
    old, recent = run("old", started=since - timedelta(seconds=1)), run("new", started=since)
    assert [r.run_id for r in history_rows([old, recent], since=since)] == ["new"]


def test_retention_settings() -> None:
    assert retention_days("", "OPS_SYNC_HISTORY_DAYS", 45) == 45
    assert retention_days(" 7 ", "OPS_SYNC_HISTORY_DAYS", 45) == 7
    for bad in ("0", "-3", "a week", "1.5"):
        with pytest.raises(ConfigurationError, match=r"OPS_AUDIT_LOG_DAYS=.*whole number of days"):
            retention_days(bad, "OPS_AUDIT_LOG_DAYS", 180)


def test_manual_syncs_and_retries_are_audit_events() -> None:
    runs = [
        run("s1"),
        run("m1", "failure", "manual", started=T0 + timedelta(hours=1)),
        run("x1", kind="retry", parent_run_id="m1", started=T0 + timedelta(hours=2)),
    ]
    events = run_events(runs)
    assert [(e.event_type, e.subject, e.run_id, e.occurred_at) for e in events] == [
        ("manual_sync", "intercom_settings_job", "m1", T0 + timedelta(hours=1)),
        ("retry", "intercom_settings_job", "x1", T0 + timedelta(hours=2)),
    ]
    assert events[0].detail == "launched by hand (admins): failure"
    assert events[1].detail == "re-execution of run m1 (admins): success"
    assert run_events(runs) == events  # found again, the same ids: nothing is added twice


def snapshot(**values: object) -> SetupSnapshot:
    base: dict[str, object] = {
        "modules": ("conversations", "contacts", "admins"),
        "excluded_fields": ("contacts.phone",),
        "intervals": {"intercom_conversations": "1h", "intercom_settings": "daily"},
        "tokens": {"default": token_fingerprint("token-one")},
        "pauses": {},
    }
    return SetupSnapshot(**(base | values))  # type: ignore[arg-type]


def test_the_first_snapshot_is_the_baseline() -> None:
    assert setup_events(None, snapshot(), NOW) == []
    assert setup_events(snapshot(), snapshot(), NOW) == []


def test_setup_diffs_give_events() -> None:
    pause = {"reason": "token rejected (401)", "run_id": "r9", "since": "2026-12-06T09:00:00+00:00"}
    before = snapshot()
    after = snapshot(
        modules=("conversations", "admins", "tickets"),
        excluded_fields=("contacts.location",),
        intervals={"intercom_conversations": "3h", "intercom_settings": "daily"},
        tokens={"default": token_fingerprint("token-two")},
        pauses={"intercom_settings": pause},
    )
    found = [
        (e.occurred_at, e.event_type, e.subject, e.detail, e.run_id)
        for e in setup_events(before, after, NOW)
    ]
    paused_at = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)
    assert found == [
        (paused_at, "paused", "intercom_settings", "token rejected (401)", "r9"),
        (NOW, "field_excluded", "contacts.location", "left out of the sync", None),
        (NOW, "field_included", "contacts.phone", "synced again", None),
        (NOW, "module_added", "tickets", "turned on", None),
        (NOW, "module_removed", "contacts", "turned off", None),
        (NOW, "schedule_changed", "intercom_conversations", "1h → 3h", None),
        (
            NOW,
            "token_replaced",
            "default",
            "access token replaced (the token itself is never recorded)",
            None,
        ),
    ]
    later = NOW + timedelta(hours=1)
    resumed = setup_events(after, snapshot(pauses={}), later)
    assert ("resumed", "intercom_settings") in {(e.event_type, e.subject) for e in resumed}
    assert next(e for e in resumed if e.event_type == "resumed").detail == (
        "token rejected (401) no longer blocks it (paused since 2026-12-06T09:00:00+00:00)"
    )


def test_a_snapshot_never_holds_a_token() -> None:
    fingerprint = token_fingerprint("secret-token-123")
    assert len(fingerprint) == 64 and "secret-token-123" not in snapshot().to_json()
    assert token_fingerprint("") == ""
    assert SetupSnapshot.from_json(snapshot().to_json()) == snapshot()


def test_next_tick_of_the_intervals() -> None:
    assert next_tick("0 * * * *", NOW) == datetime(2026, 12, 6, 11, 0, tzinfo=UTC)
    assert next_tick("0 */3 * * *", NOW) == datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
    assert next_tick("0 */12 * * *", NOW) == datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
    assert next_tick("0 3 * * *", NOW) == datetime(2026, 12, 7, 3, 0, tzinfo=UTC)
    on_the_hour = datetime(2026, 12, 6, 3, 0, tzinfo=UTC)
    assert next_tick("0 3 * * *", on_the_hour) == datetime(2026, 12, 7, 3, 0, tzinfo=UTC)
    with pytest.raises(ValueError, match="unsupported cron"):
        next_tick("0 3 * * 1", NOW)


def test_the_status_text() -> None:
    rows = history_rows(
        [
            run(
                "ok1",
                loads={"admins": TableLoad(4, 10, 0), "teams": TableLoad(2, 10, 0)},
                tables=("admins", "teams"),
            ),
            run(
                "bad2",
                "failure",
                "manual",
                tables=("admins",),
                failure_reason="IntercomAuthError: rejected (401).\nmore lines",
                started=T0 + timedelta(hours=1),
            ),
        ]
    )
    schedules = [
        ScheduleStatus("intercom_conversations", "1h", "0 * * * *"),
        ScheduleStatus("intercom_contacts", "daily", "0 3 * * *", stopped=True),
        ScheduleStatus("intercom_settings", "daily", "0 3 * * *", pause="token rejected. Fix."),
    ]
    modules = {"admins": ("admins", "teams", "team_admins"), "tags": ("tags",)}
    assert status_text(rows, modules, schedules, NOW, 45).splitlines() == [
        "Last sync of each module (the last 45 days):",
        "  admins  2026-12-01 11:00 UTC  failure  manual  "
        "(IntercomAuthError: rejected (401).)  run bad2",
        "  tags    never synced",
        "Next scheduled syncs:",
        "  intercom_conversations  next 2026-12-06 11:00 UTC (every 1h)",
        "  intercom_contacts       stopped (start it in the Dagster UI: Automation > Schedules)",
        "  intercom_settings       paused: token rejected. Fix.",
    ]
    assert "no sync has run yet" in status_text([], modules, schedules, NOW, 45)


def test_the_retention_resource_reads_its_variables() -> None:
    from intercom_pipeline.operations.instance import OperationsResource

    assert (OperationsResource().history_days(), OperationsResource().audit_days()) == (45, 180)
    custom = OperationsResource(sync_history_days="7", audit_log_days="30")
    assert (custom.history_days(), custom.audit_days()) == (7, 30)
    with pytest.raises(ConfigurationError, match="OPS_SYNC_HISTORY_DAYS='soon'"):
        OperationsResource(sync_history_days="soon").history_days()
