"""Admins: GET /me (the token's admin and its app), GET /admins, one admin, and activity logs."""

from __future__ import annotations

from intercom_sandbox import render
from intercom_sandbox.errors import ApiError, found_or_404
from intercom_sandbox.generate_extras import EVENT_TYPES
from intercom_sandbox.http_types import Request, Response
from intercom_sandbox.paging import number_page, page_param, per_page_param
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


def get_admin(state: ApiState, request: Request) -> Response:
    """GET /admins/{id}: one admin, the same shape as in the list."""
    admin = found_or_404(
        state.ws.admin_by_id.get(request.params["id"]), "Admin not found", "admin_not_found"
    )
    return Response(200, render.admin(admin))


def list_activity_logs(state: ApiState, request: Request) -> Response:
    """GET /admins/activity_logs: created_at_after is required; pages are page-numbered."""
    q = request.query
    window = _window(q.get("created_at_after"), q.get("created_at_before"))
    per_page = per_page_param(q.get("per_page"), 20, 250)
    return _activity_page(state, window, None, page_param(q.get("page")), per_page)


def search_activity_logs(state: ApiState, request: Request) -> Response:
    """POST /admins/activity_logs/search: the same window in the body, plus event_types."""
    body = request.json_object()
    window = _window(body.get("created_at_after"), body.get("created_at_before"))
    types = body.get("event_types")
    if types is not None and (
        not isinstance(types, list) or not all(isinstance(t, str) for t in types)
    ):
        raise ApiError(400, "parameter_invalid", "event_types must be an array of strings")
    per_page = per_page_param(body.get("per_page"), 20, 250)
    return _activity_page(state, window, types, page_param(body.get("page")), per_page)


def list_activity_log_event_types(state: ApiState, request: Request) -> Response:
    """GET /admins/activity_log_event_types: the types the workspace's logs use."""
    body = {"type": "activity_log_event_type.list", "event_types": list(EVENT_TYPES)}
    return Response(200, body)


def _activity_page(
    state: ApiState,
    window: tuple[int, int | None],
    types: list[str] | None,
    page: int,
    per_page: int,
) -> Response:
    """One page of the logs inside the window (bounds excluded), newest first."""
    after, before = window
    logs = [
        log
        for log in state.ws.activity_logs
        if log["created_at"] > after
        and (before is None or log["created_at"] < before)
        and (types is None or log["activity_type"] in types)
    ]
    logs.reverse()
    chunk, pages = number_page(logs, page, per_page)
    return Response(200, {"type": "activity_log.list", "pages": pages, "activity_logs": chunk})


def _window(after: object, before: object) -> tuple[int, int | None]:
    """created_at_after (required) and created_at_before, as unix timestamps."""
    start = _timestamp(after, "created_at_after", required=True)
    assert start is not None
    return start, _timestamp(before, "created_at_before", required=False)


def _timestamp(raw: object, name: str, *, required: bool) -> int | None:
    """A unix timestamp from the query string or a JSON body; a missing required one is a 400."""
    if raw is None:
        if required:
            raise ApiError(400, "parameter_not_found", f"{name} is a required parameter")
        return None
    if isinstance(raw, bool) or not isinstance(raw, int | str):
        raise ApiError(400, "parameter_invalid", f"{name} must be a unix timestamp")
    try:
        return int(raw)
    except ValueError as exc:
        raise ApiError(400, "parameter_invalid", f"{name} must be a unix timestamp") from exc


ROUTES: tuple[RouteSpec, ...] = (
    ("GET", r"/me", "admins", identify_admin),
    ("GET", r"/admins", "admins", list_admins),
    ("GET", r"/admins/activity_logs", "admins", list_activity_logs),
    ("POST", r"/admins/activity_logs/search", "admins", search_activity_logs),
    ("GET", r"/admins/activity_log_event_types", "admins", list_activity_log_event_types),
    ("GET", r"/admins/(?P<id>[^/]+)", "admins", get_admin),
)
