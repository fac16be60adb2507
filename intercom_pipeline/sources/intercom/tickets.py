"""Tickets and their parts, read incrementally: the ticket search answers both at once.

Each ticket row travels to the ticket_parts transformer with its parts attached as dlt item
metadata (`TicketParts`): dlt hands the metadata to a transformer that takes a `meta` argument
and stores only the row, so the tickets table never sees the parts.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import dlt
from dlt.extract.items import DataItemWithMeta
from dlt.extract.resource import DltResource

from intercom_pipeline.sources.intercom import helpers
from intercom_pipeline.sources.intercom.hints import merged
from intercom_pipeline.sources.intercom.reading import (
    ASCENDING,
    per_workspace,
    remember,
    resume_from,
    updated_after,
)
from intercom_pipeline.sources.intercom.settings import PAGE_SIZE
from intercom_pipeline.sources.intercom.workspace import Workspace


@dataclass(frozen=True)
class TicketParts:
    """The ticket_parts rows of the page of ticket rows they travel with."""

    rows: list[dict[str, Any]]


def resources(connected: list[Workspace], lookback_seconds: int) -> list[DltResource]:
    """The tickets family's resources, ticket_parts unbound (`source.linked` feeds it)."""

    def tickets(ws: Workspace) -> Iterator[DataItemWithMeta]:
        """Tickets changed since the last run (POST /tickets/search), with their parts."""
        yield from changed_tickets(ws, lookback_seconds)

    @dlt.transformer(**merged("ticket_parts", "id"))
    def ticket_parts(
        tickets: list[dict[str, Any]], meta: TicketParts
    ) -> Iterator[list[dict[str, Any]]]:
        """Parts of each new or changed ticket (as the ticket search returns them, at most 500)."""
        yield meta.rows

    return [
        dlt.resource(per_workspace(connected, tickets), **merged("tickets", "id")),
        ticket_parts,
    ]


def changed_tickets(ws: Workspace, lookback_seconds: int) -> Iterator[DataItemWithMeta]:
    """Pages of ticket rows changed since the resource's mark, with their parts; moves the mark."""
    start = resume_from("updated_at", ws.workspace_id, lookback_seconds)
    found = ws.client.search("/tickets/search", updated_after(start), "tickets", sort=ASCENDING)
    for page in helpers.in_pages(found, PAGE_SIZE):
        for ticket in page:
            remember("updated_at", ws.workspace_id, ticket["updated_at"])
        parts = TicketParts([p for t in page for p in helpers.ticket_part_rows(t, ws.workspace_id)])
        yield DataItemWithMeta(parts, [helpers.ticket_row(t, ws.workspace_id) for t in page])
