"""Companies: read whole (listed by pages, or scrolled), or, hourly, those of recent conversations."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import dlt
from dlt.extract.resource import DltResource

from intercom_pipeline.sources.intercom import helpers
from intercom_pipeline.sources.intercom.conversations import recent_conversations
from intercom_pipeline.sources.intercom.hints import merged
from intercom_pipeline.sources.intercom.reading import remember
from intercom_pipeline.sources.intercom.settings import PAGE_SIZE
from intercom_pipeline.sources.intercom.workspace import Workspace


def resources(
    connected: list[Workspace],
    lookback_seconds: int,
    related_only: bool,
    scroll_conflict_wait: float,
) -> list[DltResource]:
    """The companies resource (a family of one)."""

    def companies() -> Iterator[list[dict[str, Any]]]:
        """Companies, read whole (see `helpers.spooled_companies`), or only related ones."""
        for ws in connected:
            if related_only:
                yield related_companies(ws, lookback_seconds)
            else:
                yield from every_company(ws, scroll_conflict_wait)

    return [dlt.resource(companies, **merged("companies", "id"))]


def related_companies(ws: Workspace, lookback_seconds: int) -> list[dict[str, Any]]:
    """The companies of the conversations changed since this resource last asked."""
    found = {
        c["company"]["id"]: c["company"]
        for c in recent_conversations(ws, lookback_seconds)
        if c.get("company")
    }
    return [helpers.shape("companies", c, ws.workspace_id) for c in found.values()]


def every_company(ws: Workspace, conflict_wait: float) -> Iterator[list[dict[str, Any]]]:
    """Every company of the workspace, a page at a time; moves the resource's mark.

    They are all read (into a file) before the first is yielded: a listing must be proven
    complete first, a scroll left idle while other resources run would expire, and the scroll's
    lock must not be held across a yield.
    """
    with helpers.spooled_companies(ws.client, conflict_wait=conflict_wait) as spool:
        for page in helpers.spooled_pages(spool, PAGE_SIZE):
            for company in page:
                remember("updated_at", ws.workspace_id, company["updated_at"])
            yield [helpers.shape("companies", c, ws.workspace_id) for c in page]
