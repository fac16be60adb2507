"""The push's memory in the warehouse.

What was sent (per item, with its payload hash) and a report per run. Sending only what
changed, and resuming a killed run, both read it.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import duckdb

from intercom_pipeline.warehouse import Warehouse, first_row
from intercom_pipeline.warehouse.rows import merge_rows

SCHEMA = "reverse_etl"
LEDGER = f"{SCHEMA}.intercom_push_ledger"
RUNS = f"{SCHEMA}.intercom_push_runs"
FAILURES = f"{SCHEMA}.intercom_push_failures"
LEDGER_COLUMNS = (
    "item_key",
    "kind",
    "workspace_id",
    "contact_id",
    "payload_hash",
    "sent_at",
    "last_error",
    "last_error_at",
)

_DDL = (
    f"create schema if not exists {SCHEMA}",
    f"""create table if not exists {LEDGER} (
        item_key varchar not null,
        kind varchar not null,
        workspace_id varchar not null,
        contact_id varchar not null,
        payload_hash varchar,
        sent_at timestamp,
        last_error varchar,
        last_error_at timestamp
    )""",
    f"""create table if not exists {RUNS} (
        run_id varchar not null,
        started_at timestamp not null,
        finished_at timestamp,
        mode varchar not null,
        resend_all boolean not null,
        sent bigint,
        unchanged bigint,
        skipped bigint,
        failed bigint,
        write_calls bigint
    )""",
    # Added after release: answers whose email names several contacts (reported, not written),
    # and events folded into another of the same contact, name and second.
    f"alter table {RUNS} add column if not exists ambiguous_emails bigint",
    f"alter table {RUNS} add column if not exists events_merged bigint",
    f"""create table if not exists {FAILURES} (
        run_id varchar not null,
        item_key varchar not null,
        contact_id varchar,
        reason varchar not null
    )""",
)


def ensure_tables(conn: duckdb.DuckDBPyConnection) -> None:
    for statement in _DDL:
        conn.execute(statement)


def recorded_hashes(conn: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """Item key -> hash of the payload Intercom has (or that needs no retry: a deleted contact)."""
    rows = conn.execute(
        f"select item_key, payload_hash from {LEDGER} where payload_hash is not null"
    ).fetchall()
    return dict(rows)


def record(
    conn: duckdb.DuckDBPyConnection,
    outcomes: Iterable[tuple[str, str, str, str, str | None, str | None]],
    at: datetime,
) -> None:
    """Store outcomes: (key, kind, workspace, contact, hash to keep or None, error or None).

    A hash is kept for what arrived and for what must not be retried (a deleted contact);
    a failure worth retrying keeps the previous hash, so the next run sends it again.
    """
    merge_rows(
        conn,
        LEDGER,
        ("item_key",),
        LEDGER_COLUMNS,
        [
            (*outcome, at if error is None else None, error, None if error is None else at)
            for *outcome, error in outcomes
        ],
        # kind, workspace and contact stay as first recorded
        update={
            "payload_hash": "coalesce(s.payload_hash, t.payload_hash)",
            "sent_at": "coalesce(s.sent_at, t.sent_at)",
            "last_error": "s.last_error",
            "last_error_at": "coalesce(s.last_error_at, t.last_error_at)",
        },
    )


def last_full_export(conn: duckdb.DuckDBPyConnection) -> datetime | None:
    """When the last completed "export all feedback" run that sent something started.

    One in mode off, or whose every write failed, sent nothing: it does not start the week.
    """
    row = first_row(
        conn,
        f"select max(started_at) from {RUNS} where resend_all and finished_at is not null"
        " and mode <> 'off' and sent > 0",
    )
    return row[0] if row else None


def run_failures(warehouse: Warehouse, run_id: str, limit: int) -> list[tuple[str, str, str]]:
    """The first `limit` failures of one run: (contact, item key, reason)."""
    with warehouse.connect("reading the push failures") as conn:
        return conn.execute(
            f"select contact_id, item_key, reason from {FAILURES} where run_id = ?"
            " order by item_key limit ?",
            [run_id, limit],
        ).fetchall()
