"""The survey request log in the warehouse: every closure seen, and what became of it.

Like a request status page: each request with its mode (test or production), status (pending,
sent, test, do_not_send, invalid), reason or error, conversation, contact, channel and times.
"""

from __future__ import annotations

from datetime import UTC, datetime

import duckdb

from intercom_pipeline.surveys.conversations import Closure
from intercom_pipeline.warehouse import first_row, write_rows

SCHEMA = "surveys"
REQUESTS = f"{SCHEMA}.survey_requests"
CURSORS = f"{SCHEMA}.closure_cursors"
SURVEYED = ("sent", "test")

_DDL = (
    f"create schema if not exists {SCHEMA}",
    f"""create table if not exists {REQUESTS} (
        request_id varchar primary key,
        workspace_id varchar not null,
        conversation_id varchar not null,
        contact_id varchar,
        channel varchar,
        metric varchar not null,
        source varchar not null,
        mode varchar not null,
        status varchar not null,
        reason varchar,
        error varchar,
        closed_at timestamp not null,
        first_seen_at timestamp not null,
        decided_at timestamp,
        sent_at timestamp,
        message_id varchar
    )""",
    f"""create table if not exists {CURSORS} (
        workspace_id varchar primary key,
        searched_until bigint not null
    )""",
)


def ensure_tables(conn: duckdb.DuckDBPyConnection) -> None:
    for statement in _DDL:
        conn.execute(statement)


def request_id(closure: Closure) -> str:
    """One request per closure: a conversation closed again later is a new closure."""
    return f"{closure.workspace_id}:{closure.conversation_id}:{closure.closed_at}"


def add_pending(
    conn: duckdb.DuckDBPyConnection,
    closures: list[Closure],
    *,
    mode: str,
    metric: str,
    now: datetime,
) -> int:
    """Record closures not seen before as pending; returns how many were new."""
    if not closures:
        return 0
    before = first_row(conn, f"select count(*) from {REQUESTS}")[0]  # type: ignore[index]
    write_rows(
        conn,
        f"insert into {REQUESTS} (request_id, workspace_id, conversation_id, metric, source,"
        " mode, status, closed_at, first_seen_at)"
        " select request_id, workspace_id, conversation_id, metric, source, mode, 'pending',"
        " cast(closed_at as timestamp), cast(first_seen_at as timestamp) from incoming"
        " on conflict do nothing",
        (
            "request_id",
            "workspace_id",
            "conversation_id",
            "metric",
            "source",
            "mode",
            "closed_at",
            "first_seen_at",
        ),
        [
            (
                request_id(c),
                c.workspace_id,
                c.conversation_id,
                metric,
                c.source,
                mode,
                datetime.fromtimestamp(c.closed_at, UTC).replace(tzinfo=None),
                now,
            )
            for c in closures
        ],
    )
    after = first_row(conn, f"select count(*) from {REQUESTS}")[0]  # type: ignore[index]
    return int(after - before)


def pending(conn: duckdb.DuckDBPyConnection, mode: str) -> list[Closure]:
    """Closures still waiting for a decision (new, in their channel delay, or retried)."""
    rows = conn.execute(
        f"select workspace_id, conversation_id, epoch(closed_at)::bigint, source"
        f" from {REQUESTS} where status = 'pending' and mode = ? order by closed_at",
        [mode],
    ).fetchall()
    return [Closure(w, c, int(t), s) for w, c, t, s in rows]


def conversation_surveyed(conn: duckdb.DuckDBPyConnection, conversation_id: str, mode: str) -> bool:
    row = first_row(
        conn,
        f"select count(*) from {REQUESTS} where conversation_id = ? and mode = ?"
        f" and status in {SURVEYED}",
        [conversation_id, mode],
    )
    return bool(row and row[0])


def contact_last_surveyed(
    conn: duckdb.DuckDBPyConnection, contact_id: str, mode: str
) -> datetime | None:
    row = first_row(
        conn,
        f"select max(sent_at) from {REQUESTS} where contact_id = ? and mode = ?"
        f" and status in {SURVEYED}",
        [contact_id, mode],
    )
    return row[0] if row else None


def settle(
    conn: duckdb.DuckDBPyConnection,
    closure: Closure,
    *,
    status: str,
    now: datetime,
    contact_id: str | None = None,
    channel: str | None = None,
    reason: str | None = None,
    error: str | None = None,
    message_id: str | None = None,
) -> None:
    """Write a decision (or, for `pending`, the reason it still waits)."""
    conn.execute(
        f"update {REQUESTS} set status = ?, contact_id = coalesce(?, contact_id),"
        " channel = coalesce(?, channel), reason = ?, error = ?, message_id = ?,"
        " decided_at = case when ? = 'pending' then decided_at else ? end,"
        " sent_at = case when ? in ('sent', 'test') then ? else sent_at end"
        " where request_id = ?",
        [
            status,
            contact_id,
            channel,
            reason,
            error,
            message_id,
            status,
            now,
            status,
            now,
            request_id(closure),
        ],
    )


def searched_until(conn: duckdb.DuckDBPyConnection, workspace_id: str) -> int | None:
    row = first_row(
        conn, f"select searched_until from {CURSORS} where workspace_id = ?", [workspace_id]
    )
    return int(row[0]) if row else None


def set_searched_until(conn: duckdb.DuckDBPyConnection, workspace_id: str, until: int) -> None:
    conn.execute(f"insert or replace into {CURSORS} values (?, ?)", [workspace_id, until])


def audience_facts(
    conn: duckdb.DuckDBPyConnection, contact_id: str, audience_id: str
) -> tuple[bool, bool | None]:
    """(marked unsubscribed by an audience, active member of `audience_id` or None if unset)."""
    exists = first_row(
        conn,
        "select count(*) from information_schema.tables"
        " where table_schema = 'audiences' and table_name = 'audience_members'",
    )[0]  # type: ignore[index]
    if not exists:
        return False, (False if audience_id else None)
    unsubscribed, member = first_row(
        conn,
        "select coalesce(bool_or(status = 'unsubscribed'), false),"
        " coalesce(bool_or(audience_id = ? and status = 'active'), false)"
        " from audiences.audience_members where contact_id = ?",
        [audience_id, contact_id],
    )  # type: ignore[misc]
    return bool(unsubscribed), (bool(member) if audience_id else None)
