"""How the resources read: workspace by workspace, incrementally, link tables with markers.

The incremental marks live in each resource's own dlt state (`dlt.current.resource_state()`),
keyed by workspace id.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

import dlt

from intercom_pipeline.sources.intercom import helpers
from intercom_pipeline.sources.intercom.client import IntercomPermissionError
from intercom_pipeline.sources.intercom.workspace import Workspace, workspace_of

log = logging.getLogger(__name__)

T = TypeVar("T")

ASCENDING = {"field": "updated_at", "order": "ascending"}


def per_workspace(
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
                skip_unavailable(ws, table, exc)

    # Not functools.wraps: dlt would read the wrapped signature and expect a `ws` argument.
    resource.__name__, resource.__qualname__, resource.__doc__ = table, table, read.__doc__
    return resource


def skip_unavailable(ws: Workspace, table: str, exc: IntercomPermissionError) -> None:
    """Note `table` as left out of `ws`'s plan (403 api_plan_restricted), or raise `exc`."""
    if exc.code != "api_plan_restricted":
        raise exc
    log.warning(
        "Skipping %s for workspace %s: its Intercom plan does not include this module (%s)",
        table,
        ws.name,
        exc,
    )
    ws.modules_unavailable.add(table)


def resume_from(state_key: str, workspace_id: str, lookback: int) -> int:
    """Where an incremental read starts: the last updated_at seen, minus the lookback."""
    last = dlt.current.resource_state().get(state_key, {}).get(workspace_id)
    return max(0, int(last) - lookback) if last is not None else 0


def remember(state_key: str, workspace_id: str, updated_at: int | None) -> None:
    """Move the resource's mark for the workspace to `updated_at`, if later."""
    if updated_at is not None:
        marks = dlt.current.resource_state().setdefault(state_key, {})
        marks[workspace_id] = max(updated_at, marks.get(workspace_id, 0))


def updated_after(moment: int) -> dict[str, Any]:
    """The search query for records updated after `moment` (Unix seconds)."""
    return {"field": "updated_at", "operator": ">", "value": moment}


def with_markers(
    connected: list[Workspace],
    table: str,
    rows: list[dict[str, Any]],
    parents: Iterable[dict[str, str]],
    child_key: str,
) -> list[dict[str, Any]]:
    """`helpers.with_parent_markers`, the markers counted on each parent's workspace.

    dlt counts the markers among the rows it normalizes; rows_loaded leaves them out.
    """
    parents = list(parents)
    for parent in parents:
        workspace_of(connected, parent["workspace_id"]).count_markers(table, 1)
    return helpers.with_parent_markers(rows, parents, child_key)
