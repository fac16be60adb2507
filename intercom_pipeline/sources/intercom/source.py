"""`intercom_source`: every family's resources in one dlt source, and the dlt settings it needs."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import dlt
from dlt.extract.resource import DltResource
from dlt.extract.source import DltSource

from intercom_pipeline.settings import DEFAULT_LOOKBACK_SECONDS
from intercom_pipeline.sources.intercom import (
    admin_activity,
    companies,
    contacts,
    conversations,
    deletions,
    help_center,
    settings_tables,
    tickets,
)
from intercom_pipeline.sources.intercom.hints import SECTION
from intercom_pipeline.sources.intercom.settings import (
    DEFAULT_PART_FETCH_WORKERS,
    MAX_DELETION_SHARE,
    SCROLL_CONFLICT_WAIT_SECONDS,
)
from intercom_pipeline.sources.intercom.tables import RAW_TABLES, parent_of
from intercom_pipeline.sources.intercom.workspace import Workspace

# Resources read side by side: dlt runs each step of every resource (a page of a walk, the
# details of a page) in its thread pool, round robin, so the walks that only list (contacts,
# companies, tickets) move on while conversation details use the rate budget. The steps that
# may run at once: every family's walk, and the details of a few pages of conversations (their
# calls go through the workspace's own workers, `part_fetch_workers` in all).
EXTRACT_WORKERS = 16

# The dlt settings this source needs. dlt reads them from its configuration, not from the
# source, so whoever runs the source applies them (`intercom_pipeline.warehouse.load` does).
SOURCE_DLT_SETTINGS: dict[str, Any] = {
    "extract.next_item_mode": "round_robin",
    "extract.workers": EXTRACT_WORKERS,
    "extract.max_parallel_items": EXTRACT_WORKERS,
}


@dlt.source(name="intercom", section=SECTION, max_table_nesting=0)
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
        lookback_seconds: overlap of incremental conversation, ticket and activity log reads
            (contacts keep at least a day: a smaller value is raised to a day for them).
        part_fetch_workers: concurrent calls for one record each (a conversation's parts, its
            handling events) in the whole run.
        related_only: contacts and companies read only those of recently changed
            conversations (the hourly run) instead of every changed contact and company.
        reconcile_deletions: compare every contact and company id with the warehouse.
        scroll_conflict_wait: seconds to wait when another client holds the companies scroll.
        max_deletion_share: the largest share of a table's stored ids that one reconciliation
            may mark deleted; beyond it (and beyond a handful) that table's deletions are
            refused with a warning, marking none, and named in `Workspace.deletions_refused`.
    """
    connected: list[Workspace] = list(workspaces or [])
    for ws in connected:
        ws.fetch_workers = part_fetch_workers
    # Read side by side (see SOURCE_DLT_SETTINGS). The hourly run (related_only) never
    # reconciles deletions.
    return linked(
        *settings_tables.resources(connected),
        *admin_activity.resources(connected, lookback_seconds),
        *help_center.resources(connected),
        *conversations.resources(connected, lookback_seconds),
        *tickets.resources(connected, lookback_seconds),
        *contacts.resources(connected, lookback_seconds, related_only),
        *companies.resources(connected, lookback_seconds, related_only, scroll_conflict_wait),
        *deletions.resources(
            connected,
            reconcile_deletions and not related_only,
            scroll_conflict_wait,
            max_deletion_share,
        ),
    )


def linked(*resources: DltResource) -> tuple[DltResource, ...]:
    """The resources, each transformer fed by its family's parent as `tables.FAMILIES` declares.

    Each is parallelized: dlt runs its steps in its thread pool, beside the other resources'.

    Raises:
        ValueError: the resources are not one per raw table, or a resource is a transformer
            without a declared parent (or a declared child is not a transformer).
    """
    by_name = {resource.name: resource for resource in resources}
    if len(by_name) != len(resources) or set(by_name) != set(RAW_TABLES):
        raise ValueError(f"resources {list(by_name)} are not one per raw table {RAW_TABLES}")
    for resource in resources:
        parent = parent_of(resource.name)
        if resource.is_transformer != (parent is not None):
            raise ValueError(f"{resource.name}: a transformer exactly when its family says so")
        if parent is not None:
            resource.pipe_data_from(by_name[parent])
        resource.parallelize()
    return resources


def leave_out_fields(source: DltSource, excluded: dict[str, list[str]]) -> None:
    """Keep the fields `excluded` (table -> fields) out of the warehouse from this load on.

    dlt's own table filters drop them when rows are normalized, after every transformer has
    read its parent's rows whole (a child may need a field its parent's table leaves out). Each
    loaded table's filter is set, empty when nothing is left out, so a field taken off the list
    loads again. Rows stored before keep their values until Intercom sends them again.
    """
    for table in source.selected_resources:
        source.schema.update_table(
            {"name": table, "columns": {}, "filters": {"excludes": excluded.get(table, [])}}
        )
