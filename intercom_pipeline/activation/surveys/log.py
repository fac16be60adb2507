"""The survey request log in the warehouse: every closure seen, and what became of it.

Like a request status page: each request with its mode (test or production), status, reason
code and reason or error, conversation, contact, channel and times.

A survey is marked `sending` (committed) before POST /messages and settled after it. A request
left `sending` by a run that stopped in between, or whose POST failed in a way that leaves its
outcome open (a 5xx, a timeout, a dropped connection), becomes `unknown`: it may have gone out,
so it is never sent again.
"""

from __future__ import annotations

from datetime import UTC, datetime

import duckdb

from intercom_pipeline.activation.audiences import store as audiences
from intercom_pipeline.activation.surveys.conversations import Closure
from intercom_pipeline.warehouse import first_row
from intercom_pipeline.warehouse.rows import merge_rows

SCHEMA = "surveys"
REQUESTS = f"{SCHEMA}.survey_requests"
CURSORS = f"{SCHEMA}.closure_cursors"
# What a request can become; `test` is a request built and validated in test mode.
STATUSES = ("pending", "sending", "sent", "test", "do_not_send", "invalid", "unknown")
# Requests that may have reached the customer: they count for "already surveyed" and the
# suppression period, so an open outcome never leads to a second survey.
SURVEYED = ("sending", "sent", "test", "unknown")
# Stable codes for the reasons (the `reason` column says the same with its details).
REASON_CODES = (
    "channel_delay",  # pending: waits for the channel's delay
    "no_contact",
    "unsubscribed",
    "not_in_audience",
    "channel_off",
    "bot_assignee",
    "suppression_tag",
    "already_surveyed",
    "recently_surveyed",
    "reopened",
    "conversation_not_found",
    "not_closed",  # a webhook said closed, but Intercom has it open and never closed
    "unknown_workspace",  # invalid: a closure from a workspace that is not configured
    "invalid_request",  # invalid: the settings cannot make a message
    "rejected_by_intercom",  # invalid: POST /messages answered 4xx
    "outcome_unknown",  # unknown: it may have gone out
)

_DDL = (
    f"create schema if not exists {SCHEMA}",
    f"""create table if not exists {REQUESTS} (
        request_id varchar not null,
        workspace_id varchar not null,
        conversation_id varchar not null,
        contact_id varchar,
        channel varchar,
        metric varchar not null,
        source varchar not null,
        mode varchar not null,
        status varchar not null,
        reason varchar,
        reason_code varchar,
        error varchar,
        closed_at timestamp not null,
        first_seen_at timestamp not null,
        decided_at timestamp,
        sent_at timestamp,
        message_id varchar
    )""",
    f"""create table if not exists {CURSORS} (
        workspace_id varchar not null,
        searched_until bigint not null
    )""",
)


def ensure_tables(conn: duckdb.DuckDBPyConnection) -> None:
    for statement in _DDL:
        conn.execute(statement)
    # Logs written before reason codes existed gain the column (empty for their old rows).
    conn.execute(f"alter table {REQUESTS} add column if not exists reason_code varchar")


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
    merge_rows(
        conn,
        REQUESTS,
        ("request_id",),
        (
            "request_id",
            "workspace_id",
            "conversation_id",
            "metric",
            "source",
            "mode",
            "status",
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
                "pending",
                datetime.fromtimestamp(c.closed_at, UTC).replace(tzinfo=None),
                now,
            )
            for c in closures
        ],
        update=False,  # a closure logged before keeps its row; of repeats, the first is logged
    )
    after = first_row(conn, f"select count(*) from {REQUESTS}")[0]  # type: ignore[index]
    return int(after - before)


def add_settled(
    conn: duckdb.DuckDBPyConnection,
    closure: Closure,
    *,
    mode: str,
    metric: str,
    now: datetime,
    status: str,
    reason_code: str,
    reason: str | None = None,
    error: str | None = None,
) -> None:
    """Record a closure decided as it arrives (a webhook that cannot become a request).

    A request already logged for the same closure is left as it is.
    """
    if not add_pending(conn, [closure], mode=mode, metric=metric, now=now):
        return
    conn.execute(
        f"update {REQUESTS} set status = ?, reason_code = ?, reason = ?, error = ?,"
        " decided_at = ? where request_id = ?",
        [status, reason_code, reason, error, now, request_id(closure)],
    )


def pending(conn: duckdb.DuckDBPyConnection, mode: str) -> list[Closure]:
    """Closures still waiting for a decision (new, in their channel delay, or retried)."""
    rows = conn.execute(
        f"select workspace_id, conversation_id, epoch(closed_at)::bigint, source"
        f" from {REQUESTS} where status = 'pending' and mode = ? order by closed_at",
        [mode],
    ).fetchall()
    return [Closure(w, c, int(t), s) for w, c, t, s in rows]


def give_up_sending(conn: duckdb.DuckDBPyConnection, mode: str, now: datetime) -> int:
    """Requests a stopped run left `sending` become `unknown`; returns how many."""
    count = first_row(
        conn, f"select count(*) from {REQUESTS} where status = 'sending' and mode = ?", [mode]
    )[0]  # type: ignore[index]
    conn.execute(
        f"update {REQUESTS} set status = 'unknown', reason_code = 'outcome_unknown',"
        " error = 'the run stopped while sending: the survey may have gone out, so it is not"
        " sent again', decided_at = ? where status = 'sending' and mode = ?",
        [now, mode],
    )
    return int(count)


def conversation_surveyed(
    conn: duckdb.DuckDBPyConnection, workspace_id: str, conversation_id: str, mode: str
) -> bool:
    """Whether a survey may have gone out for this conversation of this workspace.

    Conversation ids are only unique within a workspace.
    """
    row = first_row(
        conn,
        f"select count(*) from {REQUESTS} where workspace_id = ? and conversation_id = ?"
        f" and mode = ? and status in {SURVEYED}",
        [workspace_id, conversation_id, mode],
    )
    return bool(row and row[0])


def contact_last_surveyed(
    conn: duckdb.DuckDBPyConnection, workspace_id: str, contact_id: str, mode: str
) -> datetime | None:
    """When this workspace's contact was last surveyed (contact ids are per workspace)."""
    row = first_row(
        conn,
        f"select max(coalesce(sent_at, decided_at)) from {REQUESTS}"
        " where workspace_id = ? and contact_id = ? and mode = ?"
        f" and status in {SURVEYED}",
        [workspace_id, contact_id, mode],
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
    reason_code: str | None = None,
    reason: str | None = None,
    error: str | None = None,
    message_id: str | None = None,
) -> None:
    """Write a decision (or, for `pending`, the reason it still waits).

    Each call is its own transaction: `sending` is on disk before the POST it announces.
    """
    conn.execute(
        f"update {REQUESTS} set status = ?, contact_id = coalesce(?, contact_id),"
        " channel = coalesce(?, channel), reason_code = ?, reason = ?, error = ?, message_id = ?,"
        " decided_at = case when ? = 'pending' then decided_at else ? end,"
        " sent_at = case when ? in ('sent', 'test') then ? else sent_at end"
        " where request_id = ?",
        [
            status,
            contact_id,
            channel,
            reason_code,
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
    merge_rows(
        conn,
        CURSORS,
        ("workspace_id",),
        ("workspace_id", "searched_until"),
        [(workspace_id, until)],
    )


def audience_facts(
    conn: duckdb.DuckDBPyConnection, workspace_id: str, contact_id: str, audience_id: str
) -> tuple[bool, bool | None]:
    """(marked unsubscribed by an audience, active member of `audience_id` or None if unset).

    Only the rows of this workspace count: contact ids are per workspace.
    """
    schema, table = audiences.MEMBERS.split(".")
    exists = first_row(
        conn,
        "select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
        [schema, table],
    )[0]  # type: ignore[index]
    if not exists:
        return False, (False if audience_id else None)
    audiences.ensure_tables(conn)  # a members table from before `is_unsubscribed` gains it
    unsubscribed, member = first_row(
        conn,
        # Unsubscribed as of any audience's last sync, whatever that audience did with them.
        "select coalesce(bool_or(coalesce(is_unsubscribed, status = 'unsubscribed')), false),"
        " coalesce(bool_or(audience_id = ? and status = 'active'), false)"
        f" from {audiences.MEMBERS} where workspace_id = ? and contact_id = ?",
        [audience_id, workspace_id, contact_id],
    )  # type: ignore[misc]
    return bool(unsubscribed), (bool(member) if audience_id else None)
