"""Teams: GET /teams and GET /teams/{id}."""

from __future__ import annotations

from intercom_sandbox import render
from intercom_sandbox.errors import found_or_404
from intercom_sandbox.http_types import Request, Response
from intercom_sandbox.routes.common import RouteSpec
from intercom_sandbox.state import ApiState


def list_teams(state: ApiState, request: Request) -> Response:
    teams = [render.team(t) for t in state.ws.teams]
    return Response(200, {"type": "team.list", "teams": teams})


def get_team(state: ApiState, request: Request) -> Response:
    """GET /teams/{id}: one team, the same shape as in the list."""
    team = found_or_404(
        state.ws.team_by_id.get(request.params["id"]), "Team not found", "team_not_found"
    )
    return Response(200, render.team(team))


ROUTES: tuple[RouteSpec, ...] = (
    ("GET", r"/teams", "teams", list_teams),
    ("GET", r"/teams/(?P<id>[^/]+)", "teams", get_team),
)
