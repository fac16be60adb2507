"""Contacts, their tags and their companies, read incrementally (or, hourly, only related ones).

Contacts embed at most ten tags and ten companies; a longer list is fetched whole by the
transformer that reads it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import dlt
from dlt.extract.resource import DltResource

from intercom_pipeline.sources.intercom import helpers
from intercom_pipeline.sources.intercom.conversations import recent_conversations
from intercom_pipeline.sources.intercom.hints import merged, replace_children
from intercom_pipeline.sources.intercom.reading import (
    ASCENDING,
    per_workspace,
    remember,
    resume_from,
    updated_after,
    with_markers,
)
from intercom_pipeline.sources.intercom.settings import CONTACTS_LOOKBACK_SECONDS, PAGE_SIZE
from intercom_pipeline.sources.intercom.workspace import Workspace, workspace_of


def resources(
    connected: list[Workspace], lookback_seconds: int, related_only: bool
) -> list[DltResource]:
    """The contacts family's resources, transformers unbound (`source.linked` feeds them)."""

    def contacts(ws: Workspace) -> Iterator[list[dict[str, Any]]]:
        """Contacts (users and leads) changed since the last run (POST /contacts/search).

        Contact search matches dates by whole day, so each run re-reads a day of changes;
        merging on id keeps one row per contact.
        """
        changed = changed_contacts(ws, lookback_seconds, related_only)
        rows = (helpers.shape("contacts", contact, ws.workspace_id) for contact in changed)
        yield from helpers.in_pages(rows, PAGE_SIZE)

    @dlt.transformer(**replace_children("contact_tags", "contact_id", "tag_id"))
    def contact_tags(page: list[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
        """Every tag of each changed contact; lists Intercom truncated at ten are fetched whole."""
        yield links(connected, page, "contact_tags", "tag_id", tag_ids)

    @dlt.transformer(**replace_children("contact_companies", "contact_id", "company_id"))
    def contact_companies(page: list[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
        """Every company of each changed contact; truncated lists are fetched whole."""
        yield links(connected, page, "contact_companies", "company_id", company_ids)

    return [
        dlt.resource(per_workspace(connected, contacts), **merged("contacts", "id")),
        contact_tags,
        contact_companies,
    ]


def changed_contacts(
    ws: Workspace, lookback_seconds: int, related_only: bool
) -> Iterator[dict[str, Any]]:
    """Contacts changed since the resource's mark (moving it), or those of recent conversations.

    The mark looks back at least a day: contact search matches dates by whole day.
    """
    if related_only:
        yield from related_contacts(ws, lookback_seconds)
        return
    start = resume_from(
        "updated_at", ws.workspace_id, max(lookback_seconds, CONTACTS_LOOKBACK_SECONDS)
    )
    for contact in ws.client.search(
        "/contacts/search", updated_after(start), "data", sort=ASCENDING
    ):
        remember("updated_at", ws.workspace_id, contact["updated_at"])
        yield contact


def related_contacts(ws: Workspace, lookback_seconds: int) -> Iterator[dict[str, Any]]:
    """The contacts of the conversations changed since this resource last asked."""
    ids = sorted(
        {
            link["contact_id"]
            for conversation in recent_conversations(ws, lookback_seconds)
            for link in helpers.conversation_contact_rows(conversation, ws.workspace_id)
        }
    )
    for chunk in range(0, len(ids), PAGE_SIZE):
        query = {"field": "id", "operator": "IN", "value": ids[chunk : chunk + PAGE_SIZE]}
        yield from ws.client.search("/contacts/search", query, "data")


def tag_ids(connected: list[Workspace], contact: dict[str, Any]) -> list[str]:
    """The contact's tag ids: embedded, or fetched whole when Intercom truncated the list."""
    ids = helpers.embedded_ids(contact, "tags")
    if ids is None:
        client = workspace_of(connected, contact["workspace_id"]).client
        ids = [
            str(t["id"]) for t in client.request("GET", f"/contacts/{contact['id']}/tags")["data"]
        ]
    return ids


def company_ids(connected: list[Workspace], contact: dict[str, Any]) -> list[str]:
    """The contact's company ids: embedded, or paged through when Intercom truncated the list."""
    ids = helpers.embedded_ids(contact, "companies")
    if ids is None:
        client = workspace_of(connected, contact["workspace_id"]).client
        ids = [str(c["id"]) for c in client.numbered_pages(f"/contacts/{contact['id']}/companies")]
    return ids


def links(
    connected: list[Workspace],
    page: list[dict[str, Any]],
    table: str,
    child_key: str,
    ids_of: Callable[[list[Workspace], dict[str, Any]], list[str]],
) -> list[dict[str, Any]]:
    """A page of contacts' rows in a link table (`ids_of` each contact), with their markers."""
    parents = [{"workspace_id": c["workspace_id"], "contact_id": c["id"]} for c in page]
    rows = [
        {**parent, child_key: i}
        for parent, contact in zip(parents, page, strict=True)
        for i in ids_of(connected, contact)
    ]
    return with_markers(connected, table, rows, parents, child_key)
