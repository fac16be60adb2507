"""Admin activity logs: who changed what in the workspace, read incrementally by `created_at`.

A log never changes once written, so each run asks only for the logs created after the newest one
stored (less the lookback, which the merge on id absorbs).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import dlt
from dlt.extract.resource import DltResource

from intercom_pipeline.sources.intercom import helpers
from intercom_pipeline.sources.intercom.hints import merged
from intercom_pipeline.sources.intercom.reading import per_workspace, remember, resume_from
from intercom_pipeline.sources.intercom.settings import PAGE_SIZE
from intercom_pipeline.sources.intercom.workspace import Workspace


def resources(connected: list[Workspace], lookback_seconds: int) -> list[DltResource]:
    """The admin_activity_logs resource (a family of one)."""

    def admin_activity_logs(ws: Workspace) -> Iterator[list[dict[str, Any]]]:
        """Admin activity since the last run (GET /admins/activity_logs?created_at_after=)."""
        yield from new_logs(ws, lookback_seconds)

    return [
        dlt.resource(
            per_workspace(connected, admin_activity_logs), **merged("admin_activity_logs", "id")
        )
    ]


def new_logs(ws: Workspace, lookback_seconds: int) -> Iterator[list[dict[str, Any]]]:
    """Log rows created after the resource's mark, a page at a time; moves the mark.

    Intercom answers newest first, so the mark moves to the first log's time; it is kept only
    when the whole walk loads (dlt commits resource state with the load).
    """
    start = resume_from("created_at", ws.workspace_id, lookback_seconds)
    logs = ws.client.numbered_pages(
        "/admins/activity_logs",
        "activity_logs",
        per_page=PAGE_SIZE,
        params={"created_at_after": str(start)},
    )

    def row(log: dict[str, Any]) -> dict[str, Any]:
        remember("created_at", ws.workspace_id, log.get("created_at"))
        return activity_log_row(log, ws.workspace_id)

    yield from helpers.in_pages(map(row, logs), PAGE_SIZE)


def activity_log_row(log: dict[str, Any], workspace_id: str) -> dict[str, Any]:
    """A log as Intercom sent it, with who performed it lifted into columns of their own."""
    row = helpers.shape("admin_activity_logs", log, workspace_id)
    performer = log.get("performed_by") or {}
    row["performed_by_id"] = helpers.text_id(performer.get("id"))
    row["performed_by_email"] = performer.get("email")
    row["performed_by_ip"] = performer.get("ip")
    return row
