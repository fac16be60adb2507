"""Teams: GET /teams."""

from __future__ import annotations

from intercom_sandbox import render
from intercom_sandbox.http_types import Request, Response
from intercom_sandbox.routes.common import RouteSpec
from intercom_sandbox.state import ApiState


def list_teams(state: ApiState, request: Request) -> Response:
    teams = [render.team(t) for t in state.ws.teams]
    return Response(200, {"type": "team.list", "teams": teams})


ROUTES: tuple[RouteSpec, ...] = (("GET", r"/teams", "teams", list_teams),)
