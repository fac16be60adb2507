"""Deletions: conversations, contacts and companies that vanished from Intercom.

Intercom lists deleted conversation ids (GET /conversations/deleted), read every run from the
newest down to the last one stored. It lists no deleted contacts or companies: those show as ids
stored in the warehouse and missing from the full listing (the reconciliation). Raw rows
themselves are never deleted; a `deletions` row marks them.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from itertools import takewhile
from pathlib import Path
from typing import Any

import dlt
from dlt.extract.resource import DltResource

from intercom_pipeline.sources.intercom import helpers
from intercom_pipeline.sources.intercom.client import IntercomClient
from intercom_pipeline.sources.intercom.hints import merged
from intercom_pipeline.sources.intercom.reading import remember, resume_from
from intercom_pipeline.sources.intercom.settings import DELETED_CONVERSATIONS_PAGE, PAGE_SIZE
from intercom_pipeline.sources.intercom.workspace import Workspace

log = logging.getLogger(__name__)


def resources(
    connected: list[Workspace],
    reconcile: bool,
    scroll_conflict_wait: float,
    max_deletion_share: float,
) -> list[DltResource]:
    """The deletions resource (a family of one): conversations always, the rest if `reconcile`."""

    def deletions() -> Iterator[list[dict[str, Any]]]:
        """Conversations, contacts and companies deleted in Intercom, marked with `deleted_at`.

        Conversations come from Intercom's own list. For contacts and companies every live id
        is compared with the warehouse; raw rows themselves are never deleted. The live ids go
        to files and DuckDB compares them, so memory stays flat however many. A table whose
        share of vanished ids is implausible is refused alone, with a warning: failing the run
        would keep contacts and companies from loading at all.
        """
        for ws in connected:
            yield from deleted_conversations(ws)
            if reconcile:
                yield from reconciled(ws, scroll_conflict_wait, max_deletion_share)

    return [dlt.resource(deletions, **merged("deletions", "object_type", "id"))]


DELETED_MARK = "conversations_deleted_at"  # the newest deletion stored, per workspace


def deleted_conversations(ws: Workspace) -> Iterator[list[dict[str, Any]]]:
    """Deletion rows of the conversations deleted since the resource's mark, newest first.

    The list is walked from the newest deletion and stops at the first one already stored, so
    an hourly run asks for one page. The mark moves only when the load commits.
    """
    since = resume_from(DELETED_MARK, ws.workspace_id, 0)
    listed = ws.client.numbered_pages(
        "/conversations/deleted",
        "conversations",
        per_page=DELETED_CONVERSATIONS_PAGE,
        params={"order": "desc"},
    )
    new = takewhile(lambda deleted: deleted["deleted_at"] > since, listed)

    def row(deleted: dict[str, Any]) -> dict[str, Any]:
        remember(DELETED_MARK, ws.workspace_id, deleted["deleted_at"])
        return deleted_conversation_row(deleted, ws.workspace_id)

    yield from helpers.in_pages(map(row, new), PAGE_SIZE)


def deleted_conversation_row(deleted: dict[str, Any], workspace_id: str) -> dict[str, Any]:
    return helpers.shape(
        "deletions",
        {
            "object_type": "conversation",
            "id": str(deleted["id"]),
            "deleted_at": deleted["deleted_at"],
            "reason": "deleted in Intercom (GET /conversations/deleted)",
            "metrics_retained": deleted.get("metrics_retained"),
        },
        workspace_id,
    )


def reconciled(
    ws: Workspace, conflict_wait: float, max_share: float
) -> Iterator[list[dict[str, Any]]]:
    """The deletion rows of one workspace's contacts, then companies, a page at a time."""
    now = datetime.now(UTC)
    with tempfile.TemporaryDirectory(prefix="intercom-live-ids-") as directory:
        live = _write_live_ids(ws.client, Path(directory), conflict_wait)
        for object_type, table in (("contact", "contacts"), ("company", "companies")):
            yield from _marked(ws, table, object_type, live[object_type], now, max_share)


def _marked(
    ws: Workspace,
    table: str,
    object_type: str,
    live_ids: Path,
    now: datetime,
    max_share: float,
) -> Iterator[list[dict[str, Any]]]:
    """Deletion rows for `table`'s vanished ids; none if their share is implausible.

    A refusal is logged and named in `Workspace.deletions_refused`, and fails nothing.
    """
    vanished = _vanished_ids(table, object_type, ws.workspace_id, live_ids, max_share)
    try:
        # The share is checked before the first page: a refusal marks none.
        for gone in vanished:
            yield [
                {
                    "workspace_id": ws.workspace_id,
                    "object_type": object_type,
                    "id": i,
                    "deleted_at": now,
                    "reason": "missing from Intercom's full listing",
                }
                for i in gone
            ]
    except helpers.ImplausibleDeletions as refused:
        log.warning("%s", refused)
        ws.deletions_refused[table] = {"missing": refused.vanished, "stored": refused.stored}


def _write_live_ids(
    client: IntercomClient, directory: Path, conflict_wait: float
) -> dict[str, Path]:
    """Every live contact and company id, written to a file per object type in `directory`."""
    live = {"contact": directory / "contacts.jsonl", "company": directory / "companies.jsonl"}
    helpers.write_ids(live["contact"], (c["id"] for c in client.cursor_list("/contacts", "data")))
    with helpers.spooled_companies(client, conflict_wait=conflict_wait) as spool:
        pages = helpers.spooled_pages(spool, PAGE_SIZE)
        helpers.write_ids(live["company"], (c["id"] for page in pages for c in page))
    return live


def _vanished_ids(
    table: str, object_type: str, workspace_id: str, live_ids: Path, max_share: float
) -> Iterator[list[str]]:
    """Ids stored in `table` but absent from the live ids file and not yet marked deleted.

    DuckDB anti-joins the stored rows with the file, spilling to disk if it must; the answer is
    read a page at a time, so not even a mass deletion is held in memory whole. Nothing is
    yielded when more than `max_share` of the stored ids would be marked (a listing cut short).
    """
    pipeline = dlt.current.pipeline()
    if not _is_stored(pipeline, table):
        return
    with pipeline.sql_client() as client:
        if not client.has_dataset():
            return
        unmarked = f"from {client.make_qualified_table_name(table)} as s where s.workspace_id = %s"
        args = [workspace_id]
        if _is_stored(pipeline, "deletions"):
            unmarked += (
                " and not exists (select 1 from "
                f"{client.make_qualified_table_name('deletions')} as d where "
                "d.workspace_id = s.workspace_id and d.object_type = %s and d.id = s.id)"
            )
            args.append(object_type)
        missing = (
            f"{unmarked} and not exists (select 1 from read_json(%s, "
            "format = 'newline_delimited', columns = {'id': 'VARCHAR'}) as live "
            "where live.id = s.id)"
        )
        missing_args = [*args, str(live_ids)]
        try:
            stored, vanished = (
                client.execute_sql(f"select count(distinct s.id) {where}", *params)[0][0]
                for where, params in ((unmarked, args), (missing, missing_args))
            )
            helpers.check_deletion_share(table, workspace_id, vanished, stored, max_share)
            with client.execute_query(
                f"select distinct s.id {missing} order by s.id", *missing_args
            ) as cursor:
                while rows := cursor.fetchmany(PAGE_SIZE):
                    yield [row[0] for row in rows]
        except dlt.destinations.exceptions.DatabaseUndefinedRelation:
            return


def _is_stored(pipeline: dlt.Pipeline, table: str) -> bool:
    """Whether dlt ever loaded `table` (with columns); on the very first run nothing is."""
    if pipeline.default_schema_name is None:
        return False
    schema = pipeline.default_schema
    return table in schema.tables and bool(schema.get_table_columns(table))
