"""Sync one audience: who is in it now, compared with who was, written with a report.

Membership is computed from the warehouse (`analytics.contacts`; an Intercom segment's members
are asked of Intercom's contact search), so a sync reflects the last ingestion.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

from intercom_pipeline.audiences import store
from intercom_pipeline.audiences.config import Audience
from intercom_pipeline.audiences.filters import compile_filter, property_sql
from intercom_pipeline.settings import ConfigurationError
from intercom_pipeline.sources.intercom import Workspace
from intercom_pipeline.sources.intercom.client import IntercomError
from intercom_pipeline.warehouse import write_rows

TAG_BATCH = 50
MEMBER_COLUMNS = (
    "audience_id",
    "workspace_id",
    "contact_id",
    "status",
    "properties",
    "properties_hash",
    "tag",
    "first_added_at",
    "updated_at",
    "removed_at",
)
ACTIVE, REMOVED = "active", "removed"
_TARGET = {"keep": ACTIVE, "remove": REMOVED}


@dataclass
class SyncReport:
    sync_id: str
    audience_id: str
    contacts: int = 0
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    failed: int = 0
    removed: int = 0
    failures: list[tuple[str | None, str]] = field(default_factory=list)  # contact, reason


@dataclass(frozen=True)
class Candidate:
    workspace_id: str
    contact_id: str
    is_deleted: bool
    is_unsubscribed: bool
    properties: dict[str, Any]

    @property
    def key(self) -> tuple[str, str]:
        return (self.workspace_id, self.contact_id)

    @property
    def properties_hash(self) -> str:
        text = json.dumps(self.properties, sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:32]


def sync_audience(
    warehouse: Path,
    audience: Audience,
    workspaces: list[Workspace],
    now: datetime | None = None,
) -> SyncReport:
    """Bring the audience's members up to date and record the sync.

    Raises:
        ConfigurationError: a filter or property mapping is not valid, or the marts are missing.
    """
    now = now or datetime.now(UTC).replace(tzinfo=None)
    report = SyncReport(uuid.uuid4().hex, audience.id)
    with duckdb.connect(str(warehouse)) as conn:
        store.ensure_tables(conn)
        store.save_definition(conn, audience, now)
        conn.execute(
            f"insert into {store.SYNCS} (sync_id, audience_id, started_at, status)"
            " values (?, ?, ?, 'running')",
            [report.sync_id, audience.id, now],
        )
        try:
            candidates = _candidates(conn, audience, workspaces)
            _apply(conn, audience, candidates, workspaces, report, now)
        except Exception as exc:
            conn.execute(
                f"update {store.SYNCS} set status = 'failed', error = ?, finished_at = ?"
                " where sync_id = ?",
                [str(exc), datetime.now(UTC).replace(tzinfo=None), report.sync_id],
            )
            raise
        _finish(conn, report)
    return report


def _candidates(
    conn: duckdb.DuckDBPyConnection, audience: Audience, workspaces: list[Workspace]
) -> list[Candidate]:
    columns = _contact_columns(conn)
    mapped, params = [], []
    for name, prop in audience.properties.items():
        sql, prop_params = property_sql(prop, columns)
        mapped.append(f"{_literal_key(name)}, {sql}")
        params += prop_params
    where, where_params = _membership(conn, audience, workspaces, columns)
    rows = conn.execute(
        "select workspace_id, contact_id, coalesce(is_deleted, false),"
        " coalesce(is_unsubscribed_from_emails, false),"
        f" json_object({', '.join(mapped)})::varchar"
        f" from analytics.contacts where {where}",
        params + where_params,
    ).fetchall()
    return [Candidate(w, c, d, u, json.loads(p)) for w, c, d, u, p in rows]


def _literal_key(name: str) -> str:
    """A property name as a SQL string literal (names come from the audiences file)."""
    return "'" + name.replace("'", "''") + "'"


def _contact_columns(conn: duckdb.DuckDBPyConnection) -> frozenset[str]:
    names = conn.execute(
        "select column_name from information_schema.columns"
        " where table_schema = 'analytics' and table_name = 'contacts'"
    ).fetchall()
    if not names:
        raise ConfigurationError(
            "analytics.contacts does not exist yet: build the marts before syncing audiences"
        )
    return frozenset(n for (n,) in names)


def _membership(
    conn: duckdb.DuckDBPyConnection,
    audience: Audience,
    workspaces: list[Workspace],
    columns: frozenset[str],
) -> tuple[str, list[Any]]:
    """The WHERE clause (and its parameters) that selects the audience's contacts."""
    if audience.kind in ("users", "leads"):
        return "role = ?", [audience.kind[:-1]]
    if audience.kind == "custom":
        sql, params = compile_filter(audience.filter, columns)
        return f"role = ? and ({sql})", [audience.source[:-1], *params]
    ids = _segment_member_ids(conn, audience, workspaces)
    conn.execute(
        "create or replace temp table segment_members (workspace_id varchar, contact_id varchar)"
    )
    write_rows(
        conn,
        "insert into segment_members select * from incoming",
        ("workspace_id", "contact_id"),
        ids,
    )
    return (
        "(workspace_id, contact_id) in (select (workspace_id, contact_id) from segment_members)",
        [],
    )


def _segment_member_ids(
    conn: duckdb.DuckDBPyConnection, audience: Audience, workspaces: list[Workspace]
) -> list[tuple[str, str]]:
    """Ask each workspace's contact search for the members of the segment (by name or id)."""
    segments = conn.execute(
        "select workspace_id, id from intercom_raw.segments where id = ? or name = ?",
        [audience.segment, audience.segment],
    ).fetchall()
    if not segments:
        raise ConfigurationError(
            f"audience {audience.id}: no Intercom segment is named or has the id "
            f"{audience.segment!r} (see intercom_raw.segments)"
        )
    clients = {ws.workspace_id: ws.client for ws in workspaces}
    ids = []
    for workspace_id, segment_id in segments:
        client = clients.get(workspace_id)
        if client is None:
            continue
        query = {"field": "segment_id", "operator": "=", "value": segment_id}
        ids += [
            (workspace_id, str(c["id"])) for c in client.search("/contacts/search", query, "data")
        ]
    return ids


def _apply(
    conn: duckdb.DuckDBPyConnection,
    audience: Audience,
    candidates: list[Candidate],
    workspaces: list[Workspace],
    report: SyncReport,
    now: datetime,
) -> None:
    known = store.members(conn, audience.id)
    writes: list[tuple[Any, ...]] = []
    added: list[Candidate] = []
    events: list[tuple[Candidate | tuple[str, str], str]] = []  # (who, "removed"/"unsubscribed")
    present = set()
    for candidate in candidates:
        present.add(candidate.key)
        status = _target_status(audience, candidate)
        previous = known.get(candidate.key)
        was_member = previous is not None and previous[0] != REMOVED
        if status == REMOVED:
            if was_member:
                report.removed += 1
                if not candidate.is_deleted:  # a deleted contact can take no event
                    reason = "unsubscribed" if candidate.is_unsubscribed else "removed"
                    events.append((candidate, reason))
                writes.append(_row(audience, candidate, REMOVED, now))
            continue
        if not was_member:
            report.new += 1
            added.append(candidate)
            writes.append(_row(audience, candidate, status, now))
        elif previous[0] == status and (
            audience.duplicates == "skip" or previous[1] == candidate.properties_hash
        ):
            # skip keeps a member's properties as first synced; a status change still applies
            report.unchanged += 1
        else:
            report.updated += 1
            if status == "unsubscribed" and previous[0] != "unsubscribed":
                events.append((candidate, "unsubscribed"))
            writes.append(_row(audience, candidate, status, now))
    for key, (status, _) in known.items():
        if status != REMOVED and key not in present:
            report.removed += 1
            events.append((key, "removed"))
            writes.append((audience.id, *key, REMOVED, None, None, audience.tag, now, now, now))
    report.contacts = sum(1 for c in candidates if _target_status(audience, c) != REMOVED)
    _write(conn, writes)
    if audience.tag and audience.tag_in_intercom:
        _tag_in_intercom(audience, added, workspaces, report)
    _send_events(audience, events, workspaces, report, now)


def _target_status(audience: Audience, candidate: Candidate) -> str:
    """Active, or what the audience does with a deleted or unsubscribed contact."""
    for flagged, action, mark in (
        (candidate.is_deleted, audience.on_deleted, "deleted"),
        (candidate.is_unsubscribed, audience.on_unsubscribed, "unsubscribed"),
    ):
        if flagged and action != "keep":
            return _TARGET.get(action, mark)
    return ACTIVE


def _row(audience: Audience, c: Candidate, status: str, now: datetime) -> tuple[Any, ...]:
    return (
        audience.id,
        c.workspace_id,
        c.contact_id,
        status,
        json.dumps(c.properties, default=str),
        c.properties_hash,
        audience.tag,
        now,
        now,
        now if status == REMOVED else None,
    )


def _write(conn: duckdb.DuckDBPyConnection, rows: list[tuple[Any, ...]]) -> None:
    write_rows(
        conn,
        f"""insert into {store.MEMBERS} as m
            select
                cast(audience_id as varchar), cast(workspace_id as varchar),
                cast(contact_id as varchar), cast(status as varchar), cast(properties as json),
                cast(properties_hash as varchar), cast(tag as varchar),
                cast(first_added_at as timestamp), cast(updated_at as timestamp),
                cast(removed_at as timestamp)
            from incoming
            on conflict (audience_id, workspace_id, contact_id) do update set
                status = excluded.status,
                properties = coalesce(excluded.properties, m.properties),
                properties_hash = coalesce(excluded.properties_hash, m.properties_hash),
                tag = excluded.tag,
                first_added_at = case when m.status = 'removed' and excluded.status <> 'removed'
                    then excluded.first_added_at else m.first_added_at end,
                updated_at = excluded.updated_at,
                removed_at = excluded.removed_at""",
        MEMBER_COLUMNS,
        rows,
    )


def _tag_in_intercom(
    audience: Audience, added: list[Candidate], workspaces: list[Workspace], report: SyncReport
) -> None:
    """Apply the audience's tag to its new contacts in Intercom (POST /tags), 50 at a time."""
    clients = {ws.workspace_id: ws.client for ws in workspaces}
    for workspace_id in {c.workspace_id for c in added}:
        batch_of = [c for c in added if c.workspace_id == workspace_id]
        for start in range(0, len(batch_of), TAG_BATCH):
            batch = batch_of[start : start + TAG_BATCH]
            body = {"name": audience.tag, "users": [{"id": c.contact_id} for c in batch]}
            try:
                clients[workspace_id].request("POST", "/tags", json=body)
            except (IntercomError, KeyError):
                _tag_one_by_one(audience, batch, clients, report)


def _tag_one_by_one(
    audience: Audience, batch: Iterable[Candidate], clients: dict[str, Any], report: SyncReport
) -> None:
    """A batch failed: tag each contact alone, so the failure names the contact it belongs to."""
    for c in batch:
        try:
            clients[c.workspace_id].request(
                "POST", "/tags", json={"name": audience.tag, "users": [{"id": c.contact_id}]}
            )
        except (IntercomError, KeyError) as exc:
            report.failed += 1
            report.failures.append((c.contact_id, f"tagging {audience.tag!r} in Intercom: {exc}"))


def _send_events(
    audience: Audience,
    events: list[tuple[Candidate | tuple[str, str], str]],
    workspaces: list[Workspace],
    report: SyncReport,
    now: datetime,
) -> None:
    """The configured event on each contact that unsubscribed or left the audience."""
    clients = {ws.workspace_id: ws.client for ws in workspaces}
    created_at = int((now - datetime(1970, 1, 1)).total_seconds())
    for who, what in events:
        name = audience.events.get(what)
        if not name:
            continue
        workspace_id, contact_id = who.key if isinstance(who, Candidate) else who
        body = {
            "event_name": name,
            "created_at": created_at,
            "id": contact_id,
            "metadata": {"audience": audience.id, "audience_name": audience.name},
        }
        try:
            clients[workspace_id].request("POST", "/events", json=body)
        except (IntercomError, KeyError) as exc:
            report.failed += 1
            report.failures.append((contact_id, f"event {name!r}: {exc}"))


def _finish(conn: duckdb.DuckDBPyConnection, report: SyncReport) -> None:
    conn.execute(
        f"update {store.SYNCS} set status = ?, finished_at = ?, contacts = ?, new = ?,"
        " updated = ?, unchanged = ?, failed = ?, removed = ? where sync_id = ?",
        [
            "ok" if not report.failed else "ok with failures",
            datetime.now(UTC).replace(tzinfo=None),
            report.contacts,
            report.new,
            report.updated,
            report.unchanged,
            report.failed,
            report.removed,
            report.sync_id,
        ],
    )
    write_rows(
        conn,
        f"insert into {store.FAILURES} select * from incoming",
        ("sync_id", "audience_id", "contact_id", "reason"),
        [(report.sync_id, report.audience_id, c, r) for c, r in report.failures],
    )
