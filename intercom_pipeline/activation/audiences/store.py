"""Audience tables in the warehouse (schema `audiences`): definitions, members, sync history.

BI tools filter survey data by audience through the dbt model `audience_survey_responses`, built
over `audience_members`.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import datetime
from typing import Any, NamedTuple

import duckdb

from intercom_pipeline.activation.audiences.config import Audience
from intercom_pipeline.warehouse.rows import merge_rows

SCHEMA = "audiences"
DEFINITIONS = f"{SCHEMA}.audience_definitions"
MEMBERS = f"{SCHEMA}.audience_members"
SYNCS = f"{SCHEMA}.audience_syncs"
FAILURES = f"{SCHEMA}.audience_sync_failures"

_DDL = (
    f"create schema if not exists {SCHEMA}",
    f"""create table if not exists {DEFINITIONS} (
        audience_id varchar not null,
        name varchar not null,
        kind varchar not null,
        auto_sync boolean not null,
        definition json not null,
        updated_at timestamp not null
    )""",
    f"""create table if not exists {MEMBERS} (
        audience_id varchar not null,
        workspace_id varchar not null,
        contact_id varchar not null,
        status varchar not null,
        properties json,
        properties_hash varchar,
        tag varchar,
        first_added_at timestamp not null,
        updated_at timestamp not null,
        removed_at timestamp,
        is_unsubscribed boolean
    )""",
    f"""create table if not exists {SYNCS} (
        sync_id varchar not null,
        audience_id varchar not null,
        started_at timestamp not null,
        finished_at timestamp,
        status varchar not null,
        contacts bigint,
        new bigint,
        updated bigint,
        unchanged bigint,
        skipped bigint,
        failed bigint,
        removed bigint,
        error varchar
    )""",
    f"alter table {SYNCS} add column if not exists skipped bigint",  # history from before it
    # Whether the contact was unsubscribed at the last sync: the "unsubscribed" event goes once.
    f"alter table {MEMBERS} add column if not exists is_unsubscribed boolean",
    # Replaced by the dbt model analytics.audience_survey_responses.
    f"drop view if exists {SCHEMA}.audience_survey_responses",
    f"""create table if not exists {FAILURES} (
        sync_id varchar not null,
        audience_id varchar not null,
        contact_id varchar,
        reason varchar not null
    )""",
    # One row per audience: what the UI's audience list shows.
    f"""create or replace view {SCHEMA}.audience_overview as
        select
            d.audience_id, d.name, d.kind, d.auto_sync,
            (select count(*) from {MEMBERS} m
                where m.audience_id = d.audience_id and m.status <> 'removed') as contacts,
            s.finished_at as last_sync_at, s.status as last_sync_status
        from {DEFINITIONS} d
        left join (
            select * from {SYNCS}
            qualify row_number() over (partition by audience_id order by started_at desc) = 1
        ) s using (audience_id)""",
)


def ensure_tables(conn: duckdb.DuckDBPyConnection) -> None:
    for statement in _DDL:
        conn.execute(statement)


def save_definition(conn: duckdb.DuckDBPyConnection, audience: Audience, now: datetime) -> None:
    """Replace the audience's definition: the next sync compares itself with it."""
    merge_rows(
        conn,
        DEFINITIONS,
        ("audience_id",),
        ("audience_id", "name", "kind", "auto_sync", "definition", "updated_at"),
        [
            (
                audience.id,
                audience.name,
                audience.kind,
                audience.auto_sync,
                json.dumps(asdict(audience)),
                now,
            )
        ],
    )


class Member(NamedTuple):
    status: str
    properties_hash: str | None
    is_unsubscribed: bool


def members(conn: duckdb.DuckDBPyConnection, audience_id: str) -> dict[tuple[str, str], Member]:
    """(workspace, contact) -> what is stored of everyone ever in the audience.

    A row from before `is_unsubscribed` existed counts as unsubscribed when it is marked so.
    """
    rows = conn.execute(
        f"select workspace_id, contact_id, status, properties_hash,"
        f" coalesce(is_unsubscribed, status = 'unsubscribed') from {MEMBERS}"
        " where audience_id = ?",
        [audience_id],
    ).fetchall()
    return {(w, c): Member(s, h, u) for w, c, s, h, u in rows}


def previous_definition(conn: duckdb.DuckDBPyConnection, audience_id: str) -> dict[str, Any]:
    """The audience as its last sync saw it (empty before the first sync)."""
    row = conn.execute(
        f"select definition from {DEFINITIONS} where audience_id = ?", [audience_id]
    ).fetchall()
    return json.loads(row[0][0]) if row else {}


def set_tag(conn: duckdb.DuckDBPyConnection, audience_id: str, tag: str | None) -> None:
    """Every member row carries the audience's current tag, unchanged members included."""
    conn.execute(
        f"update {MEMBERS} set tag = ? where audience_id = ? and tag is distinct from ?",
        [tag, audience_id, tag],
    )
