"""Segments: GET /segments, with member counts on request, and GET /segments/{id}."""

from __future__ import annotations

from intercom_sandbox import render
from intercom_sandbox.errors import found_or_404, with_id
from intercom_sandbox.http_types import Request, Response
from intercom_sandbox.routes.common import RouteSpec
from intercom_sandbox.state import ApiState


def list_segments(state: ApiState, request: Request) -> Response:
    ws = state.ws
    with_count = request.query.get("include_count") == "true"
    segments = [
        render.segment(s, len(ws.segment_members(s)) if with_count else None) for s in ws.segments
    ]
    return Response(200, {"type": "segment.list", "segments": segments, "pages": {}})


def get_segment(state: ApiState, request: Request) -> Response:
    """GET /segments/{id}: one segment; its count only when include_count=true, as the list."""
    ws = state.ws
    segment = found_or_404(
        with_id(ws.segments, request.params["id"]), "Segment not found", "segment_not_found"
    )
    with_count = request.query.get("include_count") == "true"
    return Response(
        200, render.segment(segment, len(ws.segment_members(segment)) if with_count else None)
    )


ROUTES: tuple[RouteSpec, ...] = (
    ("GET", r"/segments", "segments", list_segments),
    ("GET", r"/segments/(?P<id>[^/]+)", "segments", get_segment),
)
