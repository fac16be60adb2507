"""Conversations, their parts, contacts, handling events and AI content sources, incrementally.

The search answers conversations without their parts: each changed conversation's parts are
fetched (GET /conversations/{id}), and the handling events of those a teammate handles
(GET /conversations/{id}/handling_events), by transformers fed with the pages the search yields.
A conversation deleted between the search and the fetch is skipped: the deletions listing
records it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import dlt
from dlt.extract.resource import DltResource

from intercom_pipeline.sources.intercom import helpers
from intercom_pipeline.sources.intercom.errors import IntercomError, IntercomPermissionError
from intercom_pipeline.sources.intercom.hints import merged, replace_children
from intercom_pipeline.sources.intercom.reading import (
    ASCENDING,
    per_workspace,
    remember,
    resume_from,
    skip_unavailable,
    updated_after,
    with_markers,
)
from intercom_pipeline.sources.intercom.settings import PAGE_SIZE
from intercom_pipeline.sources.intercom.workspace import Workspace, workspace_of


def resources(connected: list[Workspace], lookback_seconds: int) -> list[DltResource]:
    """The conversations family's resources, transformers unbound (`source.linked` feeds them)."""

    def conversations(ws: Workspace) -> Iterator[list[dict[str, Any]]]:
        """Conversations changed since the last run (POST /conversations/search), without parts."""
        yield from changed_pages(ws, lookback_seconds)

    @dlt.transformer(**replace_children("conversation_contacts", "conversation_id", "contact_id"))
    def conversation_contacts(rows: list[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
        """Which contact is in which conversation."""
        yield contact_links(connected, rows)

    @dlt.transformer(**merged("conversation_parts", "id"))
    def conversation_parts(rows: list[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
        """Parts of each new or changed conversation (GET /conversations/{id}, fetched concurrently).

        Intercom returns the 500 most recent parts; conversations with more are flagged on the
        conversations table (`parts_truncated_by_api`, `count_parts_total`).
        """
        yield from fetched_parts(connected, rows)

    @dlt.transformer(**replace_children(HANDLING_EVENTS, "conversation_id", "id"))
    def conversation_handling_events(
        rows: list[dict[str, Any]],
    ) -> Iterator[list[dict[str, Any]]]:
        """Pauses and resumptions of each new or changed conversation a teammate is assigned.

        Skipped with a warning where the workspace's plan lacks them (403 api_plan_restricted).
        """
        yield from fetched_handling_events(connected, rows)

    @dlt.transformer(**replace_children(CONTENT_SOURCES, "conversation_id", "id"))
    def conversation_content_sources(
        rows: list[dict[str, Any]],
    ) -> Iterator[list[dict[str, Any]]]:
        """The content sources (articles, snippets, ...) the AI agent answered each one from."""
        yield content_source_links(connected, rows)

    return [
        dlt.resource(per_workspace(connected, conversations), **merged("conversations", "id")),
        conversation_contacts,
        conversation_parts,
        conversation_handling_events,
        conversation_content_sources,
    ]


# Fetches waiting or running before the search reads its next page: about one page's worth.
DETAIL_LOOKAHEAD = 2 * PAGE_SIZE


def changed_pages(ws: Workspace, lookback_seconds: int) -> Iterator[list[dict[str, Any]]]:
    """Conversation rows changed since the resource's mark, a page at a time; moves the mark."""
    start = resume_from("updated_at", ws.workspace_id, lookback_seconds)
    found = ws.client.search(
        "/conversations/search", updated_after(start), "conversations", sort=ASCENDING
    )

    def row(conversation: dict[str, Any]) -> dict[str, Any]:
        remember("updated_at", ws.workspace_id, conversation["updated_at"])
        return helpers.conversation_row(conversation, ws.workspace_id)

    for page in helpers.in_pages(map(row, found), PAGE_SIZE):
        # Each page brings a fetch or two per conversation: staying one page ahead of them keeps
        # the workers busy without filling dlt's pool with pages that wait for them.
        ws.wait_for_fetches(DETAIL_LOOKAHEAD)
        yield page


def contact_links(connected: list[Workspace], rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The conversation_contacts rows of a page of conversations, with their parents' markers."""
    return with_markers(
        connected,
        "conversation_contacts",
        [
            link
            for row in rows
            for link in helpers.conversation_contact_rows(row, row["workspace_id"])
        ],
        ({"workspace_id": r["workspace_id"], "conversation_id": str(r["id"])} for r in rows),
        "contact_id",
    )


CONTENT_SOURCES = "conversation_content_sources"


def content_source_links(
    connected: list[Workspace], rows: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """The content source rows of a page of conversations, with their parents' markers.

    Read from the search's answer (its `ai_agent` object): no request of their own.
    """
    return with_markers(
        connected,
        CONTENT_SOURCES,
        [link for row in rows for link in helpers.content_source_rows(row, row["workspace_id"])],
        ({"workspace_id": r["workspace_id"], "conversation_id": str(r["id"])} for r in rows),
        "id",
    )


def fetched_parts(
    connected: list[Workspace], rows: list[dict[str, Any]]
) -> Iterator[list[dict[str, Any]]]:
    """The parts of a page of conversations (of one workspace), fetched by the run's workers."""
    if not rows:
        return
    workspace = workspace_of(connected, rows[0]["workspace_id"])

    def fetch(row: dict[str, Any]) -> list[dict[str, Any]]:
        detail = unless_deleted(workspace, f"/conversations/{row['id']}")
        return [] if detail is None else helpers.part_rows(detail, row["workspace_id"])

    yield [part for parts in workspace.fetch_all(fetch, rows) for part in parts]


HANDLING_EVENTS = "conversation_handling_events"


def fetched_handling_events(
    connected: list[Workspace], rows: list[dict[str, Any]]
) -> Iterator[list[dict[str, Any]]]:
    """The handling events of a page's assigned conversations, fetched by the run's workers.

    The run's first call goes alone (`Workspace.probe`): a plan without handling events refuses
    it, and the rest of the run then asks no more.
    """
    handled = [row for row in rows if row.get("admin_assignee_id")]
    if not handled:
        return
    workspace = workspace_of(connected, handled[0]["workspace_id"])

    def fetch(row: dict[str, Any]) -> list[dict[str, Any]]:
        body = unless_deleted(workspace, f"/conversations/{row['id']}/handling_events")
        events = [] if body is None else body.get("handling_events") or []
        return helpers.handling_event_rows(events, str(row["id"]), workspace.workspace_id)

    first: list[dict[str, Any]] = []
    rest = handled
    with workspace.probe(HANDLING_EVENTS):
        if HANDLING_EVENTS in workspace.modules_unavailable:
            return
        if HANDLING_EVENTS not in workspace.modules_available:
            try:
                first, rest = fetch(handled[0]), handled[1:]
            except IntercomPermissionError as exc:
                skip_unavailable(workspace, HANDLING_EVENTS, exc)
                return
            workspace.modules_available.add(HANDLING_EVENTS)
    events = [*first, *(e for found in workspace.fetch_all(fetch, rest) for e in found)]
    parents = (
        {"workspace_id": r["workspace_id"], "conversation_id": str(r["id"])} for r in handled
    )
    yield with_markers(connected, HANDLING_EVENTS, events, parents, "id")


def unless_deleted(workspace: Workspace, path: str) -> Any:
    """GET `path` of a conversation; None when it was deleted since the search listed it."""
    try:
        return workspace.client.request("GET", path, bulk=True)
    except IntercomError as exc:
        if exc.status == 404:
            return None
        raise


def recent_conversations(ws: Workspace, lookback_seconds: int) -> Iterator[dict[str, Any]]:
    """Conversations changed since the calling resource last asked (the hourly contacts/companies).

    The mark is the calling resource's own (`related_since`); the first time, "since" is that
    resource's last full read (its newest updated_at).
    """
    marks = dlt.current.resource_state()
    key = "related_since" if ws.workspace_id in marks.get("related_since", {}) else "updated_at"
    start = resume_from(key, ws.workspace_id, lookback_seconds)
    for conversation in ws.client.search(
        "/conversations/search", updated_after(start), "conversations", sort=ASCENDING
    ):
        remember("related_since", ws.workspace_id, conversation["updated_at"])
        yield conversation
