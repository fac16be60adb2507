"""The help center: help centers, collections, and articles (a module of its own at Intercom)."""

from __future__ import annotations

from intercom_sandbox import render
from intercom_sandbox.errors import found_or_404, with_id
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


def get_help_center(state: ApiState, request: Request) -> Response:
    """GET /help_center/help_centers/{id}: one help center, as in the list."""
    ws = state.ws
    found = found_or_404(with_id(ws.help_centers, request.params["id"]))
    return Response(200, render.help_center(found, ws))


def get_collection(state: ApiState, request: Request) -> Response:
    """GET /help_center/collections/{id}: one collection, as in the list."""
    ws = state.ws
    found = found_or_404(with_id(ws.collections, request.params["id"]))
    return Response(200, render.collection(found, ws))


def get_article(state: ApiState, request: Request) -> Response:
    """GET /articles/{id}: one article, as in the list."""
    ws = state.ws
    found = found_or_404(with_id(ws.articles, request.params["id"]))
    return Response(200, render.article(found, ws))


ROUTES: tuple[RouteSpec, ...] = (
    ("GET", r"/help_center/help_centers", "help_center", list_help_centers),
    ("GET", r"/help_center/help_centers/(?P<id>[^/]+)", "help_center", get_help_center),
    ("GET", r"/help_center/collections", "help_center", list_collections),
    ("GET", r"/help_center/collections/(?P<id>[^/]+)", "help_center", get_collection),
    ("GET", r"/articles", "articles", list_articles),
    ("GET", r"/articles/(?P<id>[^/]+)", "articles", get_article),
)
