"""The workspace's settings: admins, teams (with team_admins), tags, segments, data attributes.

Small lists, read whole every run.
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
