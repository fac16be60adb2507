"""Sync one audience: who is in it now, compared with who was, written with a report.

Membership is computed from the warehouse (`analytics.contacts`; an Intercom segment's members
are asked of Intercom's contact search), so a sync reflects the last ingestion.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import duckdb

from intercom_pipeline.activation.audiences import store
from intercom_pipeline.activation.audiences.config import Audience
from intercom_pipeline.activation.audiences.filters import compile_filter, property_sql
from intercom_pipeline.settings import ConfigurationError
from intercom_pipeline.sources.intercom import Workspace
from intercom_pipeline.sources.intercom.client import IntercomError
from intercom_pipeline.warehouse import Warehouse, write_rows
from intercom_pipeline.warehouse.rows import merge_rows

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
    "is_unsubscribed",
)
ACTIVE, REMOVED = "active", "removed"
Key = tuple[str, str]  # (workspace id, contact id)
_TARGET = {"keep": ACTIVE, "remove": REMOVED}


@dataclass
class SyncReport:
    sync_id: str
    audience_id: str
    contacts: int = 0
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0  # already members, properties kept as they were (duplicates: skip)
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
    has_tag: bool = False  # carries the audience's tag in Intercom (as of the last ingestion)

    @property
    def key(self) -> Key:
        return (self.workspace_id, self.contact_id)

    @property
    def properties_hash(self) -> str:
        text = json.dumps(self.properties, sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:32]


def sync_audience(
    warehouse: Warehouse,
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
    clients = {ws.workspace_id: ws.client for ws in workspaces}
    with warehouse.connect("syncing an audience") as conn:
        store.ensure_tables(conn)
        segments: list[tuple[str, str, str]] = []
        if audience.kind == "intercom_segment":
            segments = _segments(conn, audience.segment or "")
        names = {name for _, _, name in segments}
        if len(names) == 1:  # an Intercom segment is named as in Intercom
            audience = replace(audience, name=names.pop())
        previous = store.previous_definition(conn, audience.id)
        old_tag = previous.get("tag") if previous.get("tag_in_intercom") else None
        store.save_definition(conn, audience, now)
        conn.execute(
            f"insert into {store.SYNCS} (sync_id, audience_id, started_at, status)"
            " values (?, ?, ?, 'running')",
            [report.sync_id, audience.id, now],
        )
        try:
            in_segment = None
            if audience.kind == "intercom_segment":
                in_segment = _segment_member_ids(audience, segments, clients)
            candidates = _candidates(conn, audience, in_segment)
            # In Intercom's segment but not ingested yet: no properties to carry, so failed.
            missing = sorted(set(in_segment or ()) - {c.key for c in candidates})
            _apply(conn, audience, candidates, missing, old_tag, clients, report, now)
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
    conn: duckdb.DuckDBPyConnection, audience: Audience, in_segment: list[Key] | None
) -> list[Candidate]:
    """The contacts the audience selects; the file has already rejected hostile names."""
    columns = _contact_columns(conn)
    mapped, params = [], []
    for name, prop in audience.properties.items():
        sql, prop_params = property_sql(prop, columns)
        mapped.append(f"?, {sql}")  # the name is a bound parameter too
        params += [name, *prop_params]
    has_tag, tag_params = "false", []
    if audience.tag and "tag_names" in columns:
        has_tag, tag_params = "list_contains(string_split(tag_names, ', '), ?)", [audience.tag]
    where, where_params = _membership(conn, audience, in_segment, columns)
    rows = conn.execute(
        "select workspace_id, contact_id, coalesce(is_deleted, false),"
        " coalesce(is_unsubscribed_from_emails, false),"
        f" json_object({', '.join(mapped)})::varchar, coalesce({has_tag}, false)"
        f" from analytics.contacts where {where}",
        params + tag_params + where_params,
    ).fetchall()
    return [Candidate(w, c, d, u, json.loads(p), t) for w, c, d, u, p, t in rows]


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
    in_segment: list[Key] | None,
    columns: frozenset[str],
) -> tuple[str, list[Any]]:
    """The WHERE clause (and its parameters) that selects the audience's contacts."""
    if audience.kind in ("users", "leads"):
        return "role = ?", [audience.kind[:-1]]
    if audience.kind == "custom":
        sql, params = compile_filter(audience.filter, columns)
        return f"role = ? and ({sql})", [audience.source[:-1], *params]
    conn.execute(
        "create or replace temp table segment_members (workspace_id varchar, contact_id varchar)"
    )
    write_rows(
        conn,
        "insert into segment_members select * from incoming",
        ("workspace_id", "contact_id"),
        in_segment or [],
    )
    return (
        "(workspace_id, contact_id) in (select (workspace_id, contact_id) from segment_members)",
        [],
    )


def _segment_member_ids(
    audience: Audience, segments: list[tuple[str, str, str]], clients: dict[str, Any]
) -> list[Key]:
    """Ask each workspace's contact search for the members of the segment (by name or id)."""
    if not segments:
        raise ConfigurationError(
            f"audience {audience.id}: no Intercom segment is named or has the id "
            f"{audience.segment!r} (see intercom_raw.segments)"
        )
    ids = []
    for workspace_id, segment_id, _ in segments:
        client = clients.get(workspace_id)
        if client is None:
            continue
        query = {"field": "segment_id", "operator": "=", "value": segment_id}
        ids += [
            (workspace_id, str(c["id"])) for c in client.search("/contacts/search", query, "data")
        ]
    return ids


def intercom_segment_audiences(warehouse: Warehouse, configured: list[Audience]) -> list[Audience]:
    """Every segment saved in Intercom that no audience of the file configures, with defaults.

    Each is named as in Intercom, with the id `segment_<Intercom id>`.

    Raises:
        ConfigurationError: the segments have not been ingested yet.
    """
    claimed = {a.segment for a in configured if a.kind == "intercom_segment"}
    with warehouse.connect("syncing an audience") as conn:
        if not _has_segments(conn):
            raise ConfigurationError(
                "intercom_raw.segments does not exist yet: ingest the segments first"
            )
        rows = conn.execute(
            "select id, min(name) from intercom_raw.segments group by id order by id"
        ).fetchall()
    return [
        Audience(segment_audience_id(i), name, "intercom_segment", segment=i)
        for i, name in rows
        if i not in claimed and name not in claimed
    ]


def segment_audience_id(segment_id: str) -> str:
    """The audience id of an Intercom segment: stable, and a valid asset and warehouse key."""
    return "segment_" + re.sub(r"[^a-z0-9]", "_", segment_id.lower())[:54]


def _segments(conn: duckdb.DuckDBPyConnection, segment: str) -> list[tuple[str, str, str]]:
    """(workspace, id, name) of the ingested segments with this name or id."""
    if not _has_segments(conn):
        return []
    return conn.execute(
        "select workspace_id, id, name from intercom_raw.segments where id = ? or name = ?",
        [segment, segment],
    ).fetchall()


def _has_segments(conn: duckdb.DuckDBPyConnection) -> bool:
    return bool(
        conn.execute(
            "select count(*) from information_schema.tables"
            " where table_schema = 'intercom_raw' and table_name = 'segments'"
        ).fetchall()[0][0]
    )


def _apply(
    conn: duckdb.DuckDBPyConnection,
    audience: Audience,
    candidates: list[Candidate],
    missing: list[Key],
    old_tag: str | None,
    clients: dict[str, Any],
    report: SyncReport,
    now: datetime,
) -> None:
    """Write who is in the audience now, act in Intercom, and count each contact once.

    `old_tag` is the tag the previous sync kept in Intercom; `missing` are members Intercom
    names that the warehouse does not have yet.
    """
    known = store.members(conn, audience.id)
    writes: list[tuple[Any, ...]] = []
    outcome: dict[Key, str] = {}  # new, updated, unchanged, skipped or removed
    events: list[tuple[Key, str]] = []  # (who, "removed" / "unsubscribed")
    to_tag: list[Key] = []
    leavers: list[Key] = []
    for c in candidates:
        status = _target_status(audience, c)
        previous = known.get(c.key)
        was_member = previous is not None and previous.status != REMOVED
        if status == REMOVED and not was_member:
            continue
        # The "unsubscribed" event goes once: when the flag turns on, or a member joins with it.
        unsubscribes = c.is_unsubscribed and not (previous is not None and previous.is_unsubscribed)
        if status == REMOVED:
            outcome[c.key] = REMOVED
            writes.append(_row(audience, c, REMOVED, now))
            if not c.is_deleted:  # a deleted contact can take no event and keeps no tag
                events.append((c.key, "unsubscribed" if unsubscribes else "removed"))
                leavers.append(c.key)
            continue
        if unsubscribes and not c.is_deleted:
            events.append((c.key, "unsubscribed"))
        if not c.is_deleted and not c.has_tag:
            to_tag.append(c.key)
        if not was_member:
            outcome[c.key] = "new"
            writes.append(_row(audience, c, status, now))
        elif previous.status == status and (
            previous.properties_hash == c.properties_hash or audience.duplicates == "skip"
        ):
            # skip keeps a member's properties as first synced
            same = previous.properties_hash == c.properties_hash
            outcome[c.key] = "unchanged" if same else "skipped"
            if previous.is_unsubscribed != c.is_unsubscribed:  # only the flag is stored
                writes.append(_row(audience, c, status, now, keep_properties=True))
        else:
            outcome[c.key] = "updated"
            keep = audience.duplicates == "skip"  # a status change still applies
            writes.append(_row(audience, c, status, now, keep_properties=keep))
    present = {c.key for c in candidates} | set(missing)
    for key, member in known.items():
        if member.status != REMOVED and key not in present:
            outcome[key] = REMOVED
            events.append((key, "removed"))
            leavers.append(key)
            row = (audience.id, *key, REMOVED, None, None, audience.tag, now, now, now)
            writes.append((*row, member.is_unsubscribed))
    report.contacts = sum(1 for c in candidates if _target_status(audience, c) != REMOVED)
    _write(conn, writes)
    store.set_tag(conn, audience.id, audience.tag)
    failures = [(key, "not in the warehouse yet: run the contacts sync") for key in missing]
    if old_tag and audience.tag_in_intercom and audience.tag != old_tag:
        # The tag changed: every member the previous sync tagged loses the old one.
        deleted = {c.key for c in candidates if c.is_deleted}
        tagged = sorted(k for k, m in known.items() if m.status != REMOVED and k not in deleted)
        _untag(old_tag, tagged, clients, failures)
        leavers = []  # they never had the new tag
    if audience.tag and audience.tag_in_intercom:
        _tag(audience.tag, to_tag, clients, failures)
        _untag(audience.tag, leavers, clients, failures)
    _send_events(audience, events, clients, failures, now)
    _count(report, outcome, failures)


def _count(report: SyncReport, outcome: dict[Key, str], failures: list[tuple[Key, str]]) -> None:
    """Each contact in one bucket: a contact that failed in Intercom counts as failed only."""
    failed = {key for key, _ in failures}
    for key, what in outcome.items():
        if key not in failed:
            setattr(report, what, getattr(report, what) + 1)
    report.failed = len(failed)
    report.failures = [(contact_id, reason) for (_, contact_id), reason in failures]


def _target_status(audience: Audience, candidate: Candidate) -> str:
    """Active, or what the audience does with a deleted or unsubscribed contact."""
    for flagged, action, mark in (
        (candidate.is_deleted, audience.on_deleted, "deleted"),
        (candidate.is_unsubscribed, audience.on_unsubscribed, "unsubscribed"),
    ):
        if flagged and action != "keep":
            return _TARGET.get(action, mark)
    return ACTIVE


def _row(
    audience: Audience, c: Candidate, status: str, now: datetime, keep_properties: bool = False
) -> tuple[Any, ...]:
    """A member row; with `keep_properties`, the stored properties stay (null is kept)."""
    return (
        audience.id,
        c.workspace_id,
        c.contact_id,
        status,
        None if keep_properties else json.dumps(c.properties, default=str),
        None if keep_properties else c.properties_hash,
        audience.tag,
        now,
        now,
        now if status == REMOVED else None,
        c.is_unsubscribed,
    )


def _write(conn: duckdb.DuckDBPyConnection, rows: list[tuple[Any, ...]]) -> None:
    """Store member rows: `None` properties keep the stored ones; a rejoin restarts the date."""
    merge_rows(
        conn,
        store.MEMBERS,
        ("audience_id", "workspace_id", "contact_id"),
        MEMBER_COLUMNS,
        rows,
        update={
            "status": "s.status",
            "properties": "coalesce(s.properties, t.properties)",
            "properties_hash": "coalesce(s.properties_hash, t.properties_hash)",
            "tag": "s.tag",
            "first_added_at": "case when t.status = 'removed' and s.status <> 'removed'"
            " then s.first_added_at else t.first_added_at end",
            "updated_at": "s.updated_at",
            "removed_at": "s.removed_at",
            "is_unsubscribed": "s.is_unsubscribed",
        },
    )


def _tag(
    tag: str, keys: list[Key], clients: dict[str, Any], failures: list[tuple[Key, str]]
) -> None:
    """Tag the members who lack the tag in Intercom (POST /tags, 50 at a time)."""
    for workspace_id in sorted({w for w, _ in keys}):
        in_workspace = [k for k in keys if k[0] == workspace_id]
        for start in range(0, len(in_workspace), TAG_BATCH):
            batch = in_workspace[start : start + TAG_BATCH]
            try:
                _post_tag(clients, tag, batch)
            except (IntercomError, KeyError):
                for key in batch:  # tag each alone, so the failure names its contact
                    try:
                        _post_tag(clients, tag, [key])
                    except (IntercomError, KeyError) as exc:
                        failures.append((key, f"tagging {tag!r} in Intercom: {_reason(exc)}"))


def _post_tag(clients: dict[str, Any], tag: str, keys: list[Key]) -> None:
    body = {"name": tag, "users": [{"id": contact_id} for _, contact_id in keys]}
    clients[keys[0][0]].request("POST", "/tags", json=body)


def _untag(
    tag: str, keys: list[Key], clients: dict[str, Any], failures: list[tuple[Key, str]]
) -> None:
    """Remove the tag from these contacts in Intercom (DELETE /contacts/{id}/tags/{tag_id})."""
    for workspace_id in sorted({w for w, _ in keys}):
        in_workspace = [k for k in keys if k[0] == workspace_id]
        try:
            client = clients[workspace_id]
            tags = client.request("GET", "/tags")["data"]
        except (IntercomError, KeyError) as exc:
            failures += [
                (k, f"untagging {tag!r} in Intercom: {_reason(exc)}") for k in in_workspace
            ]
            continue
        tag_id = next((t["id"] for t in tags if t["name"] == tag), None)
        if tag_id is None:  # no one carries the tag
            continue
        for key in in_workspace:
            try:
                client.request("DELETE", f"/contacts/{key[1]}/tags/{tag_id}")
            except IntercomError as exc:
                failures.append((key, f"untagging {tag!r} in Intercom: {_reason(exc)}"))


def _reason(exc: Exception) -> str:
    """A failure's reason; a missing client is a workspace this run is not connected to."""
    if isinstance(exc, KeyError):
        return f"workspace {exc.args[0]} is not connected"
    return str(exc)


def _send_events(
    audience: Audience,
    events: list[tuple[Key, str]],
    clients: dict[str, Any],
    failures: list[tuple[Key, str]],
    now: datetime,
) -> None:
    """The configured event on each contact that unsubscribed or left the audience."""
    created_at = int((now - datetime(1970, 1, 1)).total_seconds())
    for key, what in events:
        name = audience.events.get(what)
        if not name:
            continue
        workspace_id, contact_id = key
        body = {
            "event_name": name,
            "created_at": created_at,
            "id": contact_id,
            "metadata": {"audience": audience.id, "audience_name": audience.name},
        }
        try:
            clients[workspace_id].request("POST", "/events", json=body)
        except (IntercomError, KeyError) as exc:
            failures.append((key, f"event {name!r}: {_reason(exc)}"))


def _finish(conn: duckdb.DuckDBPyConnection, report: SyncReport) -> None:
    conn.execute(
        f"update {store.SYNCS} set status = ?, finished_at = ?, contacts = ?, new = ?,"
        " updated = ?, unchanged = ?, skipped = ?, failed = ?, removed = ? where sync_id = ?",
        [
            "ok" if not report.failed else "ok with failures",
            datetime.now(UTC).replace(tzinfo=None),
            report.contacts,
            report.new,
            report.updated,
            report.unchanged,
            report.skipped,
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
