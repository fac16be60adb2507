"""Admins: GET /me (the token's admin and its app) and GET /admins."""

from __future__ import annotations

from intercom_sandbox import render
from intercom_sandbox.http_types import Request, Response
from intercom_sandbox.routes.common import RouteSpec
from intercom_sandbox.state import ApiState
from intercom_sandbox.workspace import DAY


def identify_admin(state: ApiState, request: Request) -> Response:
    """GET /me: the token's admin and its workspace (the app), whose id_code is the app id."""
    ws = state.ws
    body = render.admin(ws.admins[0])
    body.pop("team_priority_level")
    body.pop("role")
    body["avatar"] = {"type": "avatar", "image_url": None}
    body["email_verified"] = True
    body["app"] = {
        "type": "app",
        "id_code": ws.app_id,
        "name": f"Sandbox {ws.seed}",
        "region": "US",
        "timezone": "UTC",
        "created_at": ws.now - 900 * DAY,
        "identity_verification": False,
    }
    return Response(200, body)


def list_admins(state: ApiState, request: Request) -> Response:
    admins = [render.admin(a) for a in state.ws.admins]
    return Response(200, {"type": "admin.list", "admins": admins})


ROUTES: tuple[RouteSpec, ...] = (
    ("GET", r"/me", "admins", identify_admin),
    ("GET", r"/admins", "admins", list_admins),
)
