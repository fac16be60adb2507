"""Segments: GET /segments, with member counts on request."""

from __future__ import annotations

from intercom_sandbox import render
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


ROUTES: tuple[RouteSpec, ...] = (("GET", r"/segments", "segments", list_segments),)
