"""The families of raw tables: declared once, and the source, the loads and the order follow it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dlt
import duckdb
import pytest

from intercom_pipeline.sources.intercom import (
    FAMILIES,
    RAW_TABLES,
    SOURCE_DLT_SETTINGS,
    Workspace,
    intercom_source,
    whole_families,
)
from intercom_pipeline.sources.intercom.hints import merged
from intercom_pipeline.sources.intercom.source import linked
from intercom_pipeline.sources.intercom.tables import family_of, parent_of

# Dagster asset keys follow the source's resources, in this order.
SOURCE_ORDER = [
    "admins",
    "teams",
    "team_admins",
    "tags",
    "segments",
    "data_attributes",
    "ticket_types",
    "ticket_states",
    "admin_activity_logs",
    "help_centers",
    "collections",
    "articles",
    "conversations",
    "conversation_contacts",
    "conversation_parts",
    "conversation_handling_events",
    "conversation_content_sources",
    "tickets",
    "ticket_parts",
    "contacts",
    "contact_tags",
    "contact_companies",
    "companies",
    "deletions",
]


def test_raw_tables_are_the_families_tables_each_once() -> None:
    tables = [t for family in FAMILIES for t in family.tables]
    assert tuple(tables) == RAW_TABLES
    assert len(set(tables)) == len(tables)


def test_the_source_feeds_each_transformer_from_its_declared_parent() -> None:
    source = intercom_source(workspaces=[])
    assert list(source.resources) == SOURCE_ORDER
    assert sorted(source.resources) == sorted(RAW_TABLES)
    links = {
        name: resource._pipe.parent.name
        for name, resource in source.resources.items()
        if resource.is_transformer
    }
    declared = {child: f.parent for f in FAMILIES for child in f.children}
    assert links == declared
    assert all(parent_of(t) is None for t in RAW_TABLES if t not in declared)


def test_a_table_loads_with_its_whole_family() -> None:
    assert whole_families(["ticket_parts"]) == ["tickets", "ticket_parts"]
    assert whole_families(["admins", "contact_tags"]) == [
        "admins",
        "contacts",
        "contact_tags",
        "contact_companies",
    ]
    assert whole_families(["conversations"]) == list(family_of("conversation_contacts").tables)
    assert whole_families(["not_a_table"]) == []


def test_a_transformer_the_families_do_not_declare_is_refused() -> None:
    @dlt.transformer(**merged("stray", "id"))
    def stray(rows: list[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
        yield rows

    resources = list(intercom_source(workspaces=[]).resources.values())
    with pytest.raises(ValueError, match="not one per raw table"):
        linked(*resources, stray)


def test_the_loader_applies_the_settings_the_source_declares() -> None:
    from intercom_pipeline.warehouse.load import DLT_SETTINGS

    assert SOURCE_DLT_SETTINGS["extract.next_item_mode"] == "round_robin"
    assert SOURCE_DLT_SETTINGS.items() <= DLT_SETTINGS.items()


class TicketSearch:
    """A client whose ticket search answers `tickets` (each with its parts), in that order."""

    def __init__(self, tickets: list[dict[str, Any]]) -> None:
        self.tickets = tickets

    def search(
        self, path: str, query: dict[str, Any], key: str, sort: Any = None
    ) -> Iterator[dict[str, Any]]:
        assert (path, key) == ("/tickets/search", "tickets")
        yield from self.tickets


def a_ticket(ticket_id: str, updated_at: int, *part_ids: str) -> dict[str, Any]:
    parts = [{"id": p, "body": f"part {p}", "created_at": updated_at} for p in part_ids]
    return {
        "id": ticket_id,
        "updated_at": updated_at,
        "ticket_parts": {"type": "ticket_part.list", "ticket_parts": parts},
    }


def test_ticket_parts_travel_with_their_ticket_and_never_into_the_tickets_table(
    tmp_path: Path,
) -> None:
    """Read twice in one search (its pages overlap), a ticket still brings its parts each time."""
    from intercom_pipeline.warehouse import Warehouse
    from intercom_pipeline.warehouse.load import RAW_DATASET, loading_pipeline

    client = TicketSearch(
        [a_ticket("t1", 100, "p1", "p2"), a_ticket("t2", 200), a_ticket("t1", 300, "p1", "p3")]
    )
    workspace = Workspace(client)  # type: ignore[arg-type]
    workspace.app_id = "app"  # instead of asking GET /me
    source = intercom_source([workspace]).with_resources("tickets", "ticket_parts")
    warehouse = tmp_path / "warehouse.duckdb"
    with loading_pipeline(Warehouse.at(warehouse)) as pipeline:
        pipeline.run(source, loader_file_format="parquet")
        marks = pipeline.state["sources"]["intercom"]["resources"]["tickets"]
    assert marks == {"updated_at": {"app": 300}}
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        columns = {
            name
            for (name,) in conn.execute(
                "select column_name from information_schema.columns "
                "where table_schema = ? and table_name = 'tickets'",
                [RAW_DATASET],
            ).fetchall()
        }
        tickets = conn.execute(f"select id from {RAW_DATASET}.tickets order by id").fetchall()
        parts = conn.execute(
            f"select ticket_id, id, body from {RAW_DATASET}.ticket_parts order by all"
        ).fetchall()
    assert not {c for c in columns if "part" in c or "meta" in c}
    assert tickets == [("t1",), ("t2",)]
    assert parts == [("t1", "p1", "part p1"), ("t1", "p2", "part p2"), ("t1", "p3", "part p3")]
