"""The workspace's settings: admins, teams, tags, segments, data attributes, ticket types, states.

Small lists, read whole every run; teams feed team_admins.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import dlt
from dlt.extract.resource import DltResource

from intercom_pipeline.sources.intercom import helpers
from intercom_pipeline.sources.intercom.hints import merged, replace_children
from intercom_pipeline.sources.intercom.reading import per_workspace, with_markers
from intercom_pipeline.sources.intercom.workspace import Workspace


def resources(connected: list[Workspace]) -> list[DltResource]:
    """The settings tables' resources, team_admins unbound (`source.linked` feeds it)."""

    @dlt.transformer(**replace_children("team_admins", "team_id", "admin_id"))
    def team_admins(team_rows: list[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
        """Which admin is in which team (one row per membership)."""
        yield with_markers(
            connected,
            "team_admins",
            [
                row
                for team in team_rows
                for row in helpers.team_admin_rows(team, team["workspace_id"])
            ],
            ({"workspace_id": t["workspace_id"], "team_id": str(t["id"])} for t in team_rows),
            "admin_id",
        )

    return [
        dlt.resource(per_workspace(connected, admins), **merged("admins", "id")),
        dlt.resource(per_workspace(connected, teams), **merged("teams", "id")),
        team_admins,
        dlt.resource(per_workspace(connected, tags), **merged("tags", "id")),
        dlt.resource(per_workspace(connected, segments), **merged("segments", "id")),
        dlt.resource(
            per_workspace(connected, data_attributes), **merged("data_attributes", "model", "name")
        ),
        dlt.resource(per_workspace(connected, ticket_types), **merged("ticket_types", "id")),
        dlt.resource(per_workspace(connected, ticket_states), **merged("ticket_states", "id")),
    ]


def admins(ws: Workspace) -> Iterator[list[dict[str, Any]]]:
    """Teammates of the workspace (GET /admins)."""
    body = ws.client.request("GET", "/admins")
    yield [helpers.shape("admins", a, ws.workspace_id) for a in body["admins"]]


def teams(ws: Workspace) -> Iterator[list[dict[str, Any]]]:
    """Teams and their settings (GET /teams)."""
    body = ws.client.request("GET", "/teams")
    yield [helpers.shape("teams", t, ws.workspace_id) for t in body["teams"]]


def tags(ws: Workspace) -> Iterator[list[dict[str, Any]]]:
    """Tags defined in the workspace (GET /tags)."""
    body = ws.client.request("GET", "/tags")
    yield [helpers.shape("tags", t, ws.workspace_id) for t in body["data"]]


def segments(ws: Workspace) -> Iterator[list[dict[str, Any]]]:
    """Saved segments with their member counts (GET /segments?include_count=true)."""
    body = ws.client.request("GET", "/segments", params={"include_count": "true"})
    yield [helpers.shape("segments", s, ws.workspace_id) for s in body["segments"]]


def data_attributes(ws: Workspace) -> Iterator[list[dict[str, Any]]]:
    """Contact and company attributes with their data types (GET /data_attributes)."""
    for model in ("contact", "company"):
        body = ws.client.request(
            "GET", "/data_attributes", params={"model": model, "include_archived": "true"}
        )
        yield [helpers.shape("data_attributes", a, ws.workspace_id) for a in body["data"]]


def ticket_types(ws: Workspace) -> Iterator[list[dict[str, Any]]]:
    """Ticket types with their attributes (GET /ticket_types); states are their own table."""
    body = ws.client.request("GET", "/ticket_types")
    yield [
        helpers.shape("ticket_types", without(t, "ticket_states"), ws.workspace_id)
        for t in body["data"]
    ]


def ticket_states(ws: Workspace) -> Iterator[list[dict[str, Any]]]:
    """Ticket states and their labels (GET /ticket_states), with the ids of the types using them."""
    body = ws.client.request("GET", "/ticket_states")
    yield [
        helpers.shape(
            "ticket_states",
            {**without(s, "ticket_types"), "ticket_type_ids": _type_ids(s)},
            ws.workspace_id,
        )
        for s in body["data"]
    ]


def without(record: dict[str, Any], key: str) -> dict[str, Any]:
    """The record less a nested list another table holds."""
    return {k: v for k, v in record.items() if k != key}


def _type_ids(state: dict[str, Any]) -> list[str]:
    return [str(t["id"]) for t in (state.get("ticket_types") or {}).get("data") or []]
