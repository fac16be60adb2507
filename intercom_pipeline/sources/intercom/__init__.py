"""The Intercom dlt source: one resource per raw table, for every configured workspace.

Runs on its own, without Dagster (`intercom-pipeline ingest`, or `intercom_pipeline.warehouse.load`).
Every row carries its `workspace_id` (the Intercom app id)
and every table is merged on keys that include it, so re-reading a record never duplicates it.
"""

from __future__ import annotations

import logging
import tempfile
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import Any, TypeVar

import dlt
from dlt.extract.resource import DltResource

from intercom_pipeline.settings import (
    DEFAULT_LOOKBACK_SECONDS,
    IntercomSettings,
    Secret,
)
from intercom_pipeline.sources.intercom import helpers
from intercom_pipeline.sources.intercom.client import IntercomClient, IntercomPermissionError
from intercom_pipeline.sources.intercom.settings import (
    COLUMNS,
    CONTACTS_LOOKBACK_SECONDS,
    DEFAULT_PART_FETCH_WORKERS,
    MAX_DELETION_SHARE,
    PAGE_SIZE,
    SCROLL_CONFLICT_WAIT_SECONDS,
)

log = logging.getLogger(__name__)

RAW_TABLES = (
    "admins",
    "teams",
    "team_admins",
    "tags",
    "segments",
    "data_attributes",
    "help_centers",
    "collections",
    "articles",
    "companies",
    "contacts",
    "contact_tags",
    "contact_companies",
    "conversations",
    "conversation_parts",
    "conversation_contacts",
    "tickets",
    "ticket_parts",
    "deletions",
)


@dataclass
class Workspace:
    """One Intercom workspace: its client, its app id (asked of GET /me once).

    Also what the current run found about it (see `start_run`).
    """

    client: IntercomClient
    name: str = "default"
    # Tables skipped because the workspace's plan lacks their module (403 api_plan_restricted).
    modules_unavailable: set[str] = field(default_factory=set)
    # Tables whose deletions were refused as implausible: table -> {"missing", "stored"}.
    deletions_refused: dict[str, dict[str, int]] = field(default_factory=dict)
    # Marker rows yielded per link table (`helpers.with_parent_markers`): never stored.
    parent_markers: Counter[str] = field(default_factory=Counter)

    @cached_property
    def workspace_id(self) -> str:
        return str(self.client.request("GET", "/me")["app"]["id_code"])

    def start_run(self) -> None:
        """Forget what an earlier run found: each run reports its own."""
        self.modules_unavailable.clear()
        self.deletions_refused.clear()
        self.parent_markers.clear()


def connect(workspaces: list[IntercomSettings], **client_options: Any) -> list[Workspace]:
    """Clients for the configured workspaces (the token may also come from dlt secrets)."""
    connected = []
    for configured in workspaces:
        settings = configured
        if not settings.access_token and settings.name == "default":
            token = dlt.secrets.get("sources.intercom.access_token")
            if token:
                settings = replace(settings, access_token=Secret(token))
        connected.append(Workspace(IntercomClient(settings, **client_options), settings.name))
    return connected


def _merge(table: str, *keys: str, **extra: Any) -> dict[str, Any]:
    """Resource arguments for a table merged on (workspace_id, *keys), with its typed columns."""
    return {
        "name": table,
        "primary_key": ["workspace_id", *keys],
        "write_disposition": "merge",
        # dlt annotates hint dicts in place: every column of every resource gets its own dict.
        "columns": {
            name: dict(hint)
            for name, hint in {
                "workspace_id": {"data_type": "text"},
                **COLUMNS.get(table, {}),
            }.items()
        },
        **extra,
    }


def _replace_children(table: str, parent_key: str, *keys: str) -> dict[str, Any]:
    """A link table whose rows for a parent are replaced whenever that parent is read again.

    Its resource yields `helpers.with_parent_markers` rows, so a parent left with no children
    still has its old rows deleted.
    """
    arguments = _merge(
        table,
        parent_key,
        *keys,
        write_disposition={"disposition": "merge", "strategy": "delete-insert"},
        merge_key=["workspace_id", parent_key],
    )
    arguments["columns"][helpers.PARENT_MARKER] = {"data_type": "bool", "hard_delete": True}
    return arguments


def _since(state_key: str, workspace_id: str, lookback: int) -> int:
    """Where an incremental read starts: the last updated_at seen, minus the lookback."""
    last = dlt.current.resource_state().get(state_key, {}).get(workspace_id)
    return max(0, int(last) - lookback) if last is not None else 0


def _remember(state_key: str, workspace_id: str, updated_at: int | None) -> None:
    if updated_at is not None:
        marks = dlt.current.resource_state().setdefault(state_key, {})
        marks[workspace_id] = max(updated_at, marks.get(workspace_id, 0))


def _updated_after(since: int) -> dict[str, Any]:
    return {"field": "updated_at", "operator": ">", "value": since}


_ASCENDING = {"field": "updated_at", "order": "ascending"}

T = TypeVar("T")


def _per_workspace(
    connected: list[Workspace], read: Callable[[Workspace], Iterator[T]]
) -> Callable[[], Iterator[T]]:
    """A resource reading `read` for every workspace, skipping one whose plan lacks the module.

    A plan without the module (403 api_plan_restricted) would otherwise fail every run forever;
    the table is skipped with a warning and named in `Workspace.modules_unavailable`. Any other
    error (a 401, a missing permission) still fails the run.
    """
    table = read.__name__

    def resource() -> Iterator[T]:
        for ws in connected:
            try:
                yield from read(ws)
            except IntercomPermissionError as exc:
                if exc.code != "api_plan_restricted":
                    raise
                log.warning(
                    "Skipping %s for workspace %s: its Intercom plan does not include this "
                    "module (%s)",
                    table,
                    ws.name,
                    exc,
                )
                ws.modules_unavailable.add(table)

    # Not functools.wraps: dlt would read the wrapped signature and expect a `ws` argument.
    resource.__name__, resource.__qualname__, resource.__doc__ = table, table, read.__doc__
    return resource


@dlt.source(name="intercom", max_table_nesting=0)
def intercom_source(
    workspaces: list[Any] | None = None,
    lookback_seconds: int = DEFAULT_LOOKBACK_SECONDS,
    part_fetch_workers: int = DEFAULT_PART_FETCH_WORKERS,
    related_only: bool = False,
    reconcile_deletions: bool = True,
    scroll_conflict_wait: float = SCROLL_CONFLICT_WAIT_SECONDS,
    max_deletion_share: float = MAX_DELETION_SHARE,
) -> Iterable[DltResource]:
    """Every Intercom module as a table.

    Args:
        workspaces: connected workspaces (`connect(...)`); none: the source only names its
            tables (as the Dagster definitions need).
        lookback_seconds: overlap of incremental conversation and ticket reads (contacts keep
            at least a day: a smaller value is raised to a day for them).
        part_fetch_workers: concurrent GET /conversations/{id} calls for parts.
        related_only: contacts and companies read only those of recently changed
            conversations (the hourly run) instead of every changed contact and company.
        reconcile_deletions: compare every contact and company id with the warehouse.
        scroll_conflict_wait: seconds to wait when another client holds the companies scroll.
        max_deletion_share: the largest share of a table's stored ids that one reconciliation
            may mark deleted; beyond it (and beyond a handful) that table's deletions are
            refused with a warning, marking none, and named in `Workspace.deletions_refused`.
    """
    connected: list[Workspace] = list(workspaces or [])

    def per_workspace(read: Callable[[Workspace], Iterator[T]]) -> Callable[[], Iterator[T]]:
        return _per_workspace(connected, read)

    def workspace_of(workspace_id: str) -> Workspace:
        return next(ws for ws in connected if ws.workspace_id == workspace_id)

    def with_markers(
        table: str, rows: list[dict[str, Any]], parents: Iterable[dict[str, str]], child_key: str
    ) -> list[dict[str, Any]]:
        """`helpers.with_parent_markers`, the markers counted on each parent's workspace.

        dlt counts the markers among the rows it normalizes; rows_loaded leaves them out.
        """
        parents = list(parents)
        for parent in parents:
            workspace_of(parent["workspace_id"]).parent_markers[table] += 1
        return helpers.with_parent_markers(rows, parents, child_key)

    @dlt.resource(**_merge("admins", "id"))
    @per_workspace
    def admins(ws: Workspace) -> Iterator[list[dict[str, Any]]]:
        """Teammates of the workspace (GET /admins)."""
        body = ws.client.request("GET", "/admins")
        yield [helpers.shape("admins", a, ws.workspace_id) for a in body["admins"]]

    @dlt.resource(**_merge("teams", "id"))
    @per_workspace
    def teams(ws: Workspace) -> Iterator[list[dict[str, Any]]]:
        """Teams and their settings (GET /teams)."""
        body = ws.client.request("GET", "/teams")
        yield [helpers.shape("teams", t, ws.workspace_id) for t in body["teams"]]

    @dlt.transformer(data_from=teams, **_replace_children("team_admins", "team_id", "admin_id"))
    def team_admins(team_rows: list[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
        """Which admin is in which team (one row per membership)."""
        yield with_markers(
            "team_admins",
            [
                row
                for team in team_rows
                for row in helpers.team_admin_rows(team, team["workspace_id"])
            ],
            ({"workspace_id": t["workspace_id"], "team_id": str(t["id"])} for t in team_rows),
            "admin_id",
        )

    @dlt.resource(**_merge("tags", "id"))
    @per_workspace
    def tags(ws: Workspace) -> Iterator[list[dict[str, Any]]]:
        """Tags defined in the workspace (GET /tags)."""
        body = ws.client.request("GET", "/tags")
        yield [helpers.shape("tags", t, ws.workspace_id) for t in body["data"]]

    @dlt.resource(**_merge("segments", "id"))
    @per_workspace
    def segments(ws: Workspace) -> Iterator[list[dict[str, Any]]]:
        """Saved segments with their member counts (GET /segments?include_count=true)."""
        body = ws.client.request("GET", "/segments", params={"include_count": "true"})
        yield [helpers.shape("segments", s, ws.workspace_id) for s in body["segments"]]

    @dlt.resource(**_merge("data_attributes", "model", "name"))
    @per_workspace
    def data_attributes(ws: Workspace) -> Iterator[list[dict[str, Any]]]:
        """Contact and company attributes with their data types (GET /data_attributes)."""
        for model in ("contact", "company"):
            body = ws.client.request(
                "GET", "/data_attributes", params={"model": model, "include_archived": "true"}
            )
            yield [helpers.shape("data_attributes", a, ws.workspace_id) for a in body["data"]]

    @dlt.resource(**_merge("help_centers", "id"))
    @per_workspace
    def help_centers(ws: Workspace) -> Iterator[list[dict[str, Any]]]:
        """Help centers (GET /help_center/help_centers)."""
        body = ws.client.request("GET", "/help_center/help_centers")
        yield [helpers.shape("help_centers", h, ws.workspace_id) for h in body["data"]]

    @dlt.resource(**_merge("collections", "id"))
    @per_workspace
    def collections(ws: Workspace) -> Iterator[list[dict[str, Any]]]:
        """Help center collections and sections (GET /help_center/collections)."""
        yield [
            helpers.shape("collections", c, ws.workspace_id)
            for c in ws.client.numbered_pages("/help_center/collections", per_page=PAGE_SIZE)
        ]

    @dlt.resource(**_merge("articles", "id"))
    @per_workspace
    def articles(ws: Workspace) -> Iterator[list[dict[str, Any]]]:
        """Help center articles (GET /articles)."""
        yield [
            helpers.shape("articles", a, ws.workspace_id)
            for a in ws.client.numbered_pages("/articles", per_page=PAGE_SIZE)
        ]

    @dlt.resource(**_merge("conversations", "id"))
    @per_workspace
    def conversations(ws: Workspace) -> Iterator[list[dict[str, Any]]]:
        """Conversations changed since the last run (POST /conversations/search), without parts."""
        since = _since("updated_at", ws.workspace_id, lookback_seconds)
        page: list[dict[str, Any]] = []
        for conversation in ws.client.search(
            "/conversations/search", _updated_after(since), "conversations", sort=_ASCENDING
        ):
            page.append(helpers.conversation_row(conversation, ws.workspace_id))
            _remember("updated_at", ws.workspace_id, conversation["updated_at"])
            if len(page) == PAGE_SIZE:
                yield page
                page = []
        if page:
            yield page

    @dlt.transformer(
        data_from=conversations,
        **_replace_children("conversation_contacts", "conversation_id", "contact_id"),
    )
    def conversation_contacts(rows: list[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
        """Which contact is in which conversation."""
        yield with_markers(
            "conversation_contacts",
            [
                link
                for row in rows
                for link in helpers.conversation_contact_rows(row, row["workspace_id"])
            ],
            ({"workspace_id": r["workspace_id"], "conversation_id": str(r["id"])} for r in rows),
            "contact_id",
        )

    @dlt.transformer(data_from=conversations, **_merge("conversation_parts", "id"))
    def conversation_parts(rows: list[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
        """Parts of each new or changed conversation (GET /conversations/{id}, fetched concurrently).

        Intercom returns the 500 most recent parts; conversations with more are flagged on the
        conversations table (`parts_truncated_by_api`, `count_parts_total`).
        """
        if not rows:
            return
        workspace = workspace_of(rows[0]["workspace_id"])

        def fetch(row: dict[str, Any]) -> list[dict[str, Any]]:
            detail = workspace.client.request("GET", f"/conversations/{row['id']}")
            return helpers.part_rows(detail, row["workspace_id"])

        with ThreadPoolExecutor(max_workers=part_fetch_workers) as pool:
            yield [part for parts in pool.map(fetch, rows) for part in parts]

    @dlt.resource(**_merge("tickets", "id"))
    @per_workspace
    def tickets(ws: Workspace) -> Iterator[dict[str, Any]]:
        """Tickets changed since the last run (POST /tickets/search), with their parts."""
        since = _since("updated_at", ws.workspace_id, lookback_seconds)
        for ticket in ws.client.search(
            "/tickets/search", _updated_after(since), "tickets", sort=_ASCENDING
        ):
            _remember("updated_at", ws.workspace_id, ticket["updated_at"])
            parts_of_ticket[(ws.workspace_id, ticket["id"])] = helpers.ticket_part_rows(
                ticket, ws.workspace_id
            )
            yield helpers.ticket_row(ticket, ws.workspace_id)

    # The ticket search answer carries the parts; they wait here for the ticket_parts transformer.
    parts_of_ticket: dict[tuple[str, str], list[dict[str, Any]]] = {}

    @dlt.transformer(data_from=tickets, **_merge("ticket_parts", "id"))
    def ticket_parts(ticket: dict[str, Any]) -> Iterator[list[dict[str, Any]]]:
        """Parts of each new or changed ticket (as the ticket search returns them, at most 500)."""
        yield parts_of_ticket.pop((ticket["workspace_id"], ticket["id"]), [])

    def changed_contacts(ws: Workspace) -> Iterator[dict[str, Any]]:
        if related_only:
            ids = sorted(
                {
                    link["contact_id"]
                    for conversation in recent_conversations(ws)
                    for link in helpers.conversation_contact_rows(conversation, ws.workspace_id)
                }
            )
            for chunk in range(0, len(ids), PAGE_SIZE):
                query = {"field": "id", "operator": "IN", "value": ids[chunk : chunk + PAGE_SIZE]}
                yield from ws.client.search("/contacts/search", query, "data")
            return
        since = _since(
            "updated_at", ws.workspace_id, max(lookback_seconds, CONTACTS_LOOKBACK_SECONDS)
        )
        for contact in ws.client.search(
            "/contacts/search", _updated_after(since), "data", sort=_ASCENDING
        ):
            _remember("updated_at", ws.workspace_id, contact["updated_at"])
            yield contact

    def recent_conversations(ws: Workspace) -> Iterator[dict[str, Any]]:
        """Conversations changed since this resource last asked (the hourly contacts/companies).

        The first time, "since" is this resource's last full read (its newest updated_at).
        """
        marks = dlt.current.resource_state()
        key = "related_since" if ws.workspace_id in marks.get("related_since", {}) else "updated_at"
        since = _since(key, ws.workspace_id, lookback_seconds)
        for conversation in ws.client.search(
            "/conversations/search", _updated_after(since), "conversations", sort=_ASCENDING
        ):
            _remember("related_since", ws.workspace_id, conversation["updated_at"])
            yield conversation

    @dlt.resource(**_merge("contacts", "id"))
    @per_workspace
    def contacts(ws: Workspace) -> Iterator[dict[str, Any]]:
        """Contacts (users and leads) changed since the last run (POST /contacts/search).

        Contact search matches dates by whole day, so each run re-reads a day of changes;
        merging on id keeps one row per contact.
        """
        for contact in changed_contacts(ws):
            yield helpers.shape("contacts", contact, ws.workspace_id)

    @dlt.transformer(
        data_from=contacts, **_replace_children("contact_tags", "contact_id", "tag_id")
    )
    def contact_tags(contact: dict[str, Any]) -> Iterator[list[dict[str, Any]]]:
        """Every tag of each changed contact; lists Intercom truncated at ten are fetched whole."""
        ids = helpers.embedded_ids(contact, "tags")
        if ids is None:
            client = workspace_of(contact["workspace_id"]).client
            ids = [
                str(t["id"])
                for t in client.request("GET", f"/contacts/{contact['id']}/tags")["data"]
            ]
        parent = {"workspace_id": contact["workspace_id"], "contact_id": contact["id"]}
        yield with_markers(
            "contact_tags", [{**parent, "tag_id": i} for i in ids], [parent], "tag_id"
        )

    @dlt.transformer(
        data_from=contacts, **_replace_children("contact_companies", "contact_id", "company_id")
    )
    def contact_companies(contact: dict[str, Any]) -> Iterator[list[dict[str, Any]]]:
        """Every company of each changed contact; truncated lists are fetched whole."""
        ids = helpers.embedded_ids(contact, "companies")
        if ids is None:
            client = workspace_of(contact["workspace_id"]).client
            ids = [
                str(c["id"]) for c in client.numbered_pages(f"/contacts/{contact['id']}/companies")
            ]
        parent = {"workspace_id": contact["workspace_id"], "contact_id": contact["id"]}
        yield with_markers(
            "contact_companies", [{**parent, "company_id": i} for i in ids], [parent], "company_id"
        )

    @dlt.resource(**_merge("companies", "id"))
    def companies() -> Iterator[list[dict[str, Any]]]:
        """Companies, read whole through the scroll (one scroll per workspace at a time)."""
        for ws in connected:
            if related_only:
                found = {
                    c["company"]["id"]: c["company"]
                    for c in recent_conversations(ws)
                    if c.get("company")
                }
                yield [helpers.shape("companies", c, ws.workspace_id) for c in found.values()]
                continue
            # The scroll is read to its end (into a file) before yielding: a scroll left idle
            # while other resources run would expire, and the lock must not be held across a yield.
            with helpers.spooled_companies(ws.client, conflict_wait=scroll_conflict_wait) as spool:
                for page in helpers.spooled_pages(spool, PAGE_SIZE):
                    for company in page:
                        _remember("updated_at", ws.workspace_id, company["updated_at"])
                    yield [helpers.shape("companies", c, ws.workspace_id) for c in page]

    @dlt.resource(**_merge("deletions", "object_type", "id"))
    def deletions() -> Iterator[list[dict[str, Any]]]:
        """Contacts and companies that vanished from Intercom, marked with `deleted_at`.

        Every live id is compared with the warehouse; raw rows themselves are never deleted.
        The live ids go to files and DuckDB compares them, so memory stays flat however many.
        A table whose share of vanished ids is implausible is refused alone, with a warning:
        failing the run would keep contacts and companies from loading at all.
        """
        if not reconcile_deletions or related_only:
            return
        for ws in connected:
            now = datetime.now(UTC)
            with tempfile.TemporaryDirectory(prefix="intercom-live-ids-") as directory:
                live = _write_live_ids(ws.client, Path(directory), scroll_conflict_wait)
                for object_type, table in (("contact", "contacts"), ("company", "companies")):
                    vanished = _vanished_ids(
                        table, object_type, ws.workspace_id, live[object_type], max_deletion_share
                    )
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
                        ws.deletions_refused[table] = {
                            "missing": refused.vanished,
                            "stored": refused.stored,
                        }

    return (
        admins,
        teams,
        team_admins,
        tags,
        segments,
        data_attributes,
        help_centers,
        collections,
        articles,
        conversations,
        conversation_contacts,
        conversation_parts,
        tickets,
        ticket_parts,
        contacts,
        contact_tags,
        contact_companies,
        companies,
        deletions,
    )


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
