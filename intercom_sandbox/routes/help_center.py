"""The help center: help centers, collections, and articles (a module of its own at Intercom)."""

from __future__ import annotations

from intercom_sandbox import render
from intercom_sandbox.http_types import Request, Response
from intercom_sandbox.routes.common import MAX_PER_PAGE, RouteSpec, numbered
from intercom_sandbox.state import ApiState


def list_help_centers(state: ApiState, request: Request) -> Response:
    data = [render.help_center(h, state.ws) for h in state.ws.help_centers]
    return Response(200, {"type": "list", "data": data})


def list_collections(state: ApiState, request: Request) -> Response:
    ws = state.ws
    ordered = sorted(ws.collections, key=lambda c: (-c.updated_at, c.id))
    chunk, pages = numbered(request, ordered, 20, MAX_PER_PAGE)
    return Response(
        200,
        {
            "type": "list",
            "data": [render.collection(c, ws) for c in chunk],
            "total_count": len(ordered),
            "pages": pages,
        },
    )


def list_articles(state: ApiState, request: Request) -> Response:
    ws = state.ws
    ordered = sorted(ws.articles, key=lambda a: (-a.updated_at, a.id))
    chunk, pages = numbered(request, ordered, 25, MAX_PER_PAGE)
    return Response(
        200,
        {
            "type": "list",
            "pages": pages,
            "total_count": len(ordered),
            "data": [render.article(a, ws) for a in chunk],
        },
    )


ROUTES: tuple[RouteSpec, ...] = (
    ("GET", r"/help_center/help_centers", "help_center", list_help_centers),
    ("GET", r"/help_center/collections", "help_center", list_collections),
    ("GET", r"/articles", "articles", list_articles),
)
