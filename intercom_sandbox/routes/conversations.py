"""Conversations: list, search, get one with its parts, and the list of deleted ones."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlencode

from intercom_sandbox import render
from intercom_sandbox.errors import ApiError, found_or_404
from intercom_sandbox.fields import CONVERSATION_FIELDS
from intercom_sandbox.generate_extras import handling_events
from intercom_sandbox.http_types import Request, Response
from intercom_sandbox.model import Conversation
from intercom_sandbox.paging import number_page, page_param, per_page_param
from intercom_sandbox.routes.common import (
    MAX_PER_PAGE,
    RouteSpec,
    cached,
    cursor_page,
    search,
    sorted_result,
)
from intercom_sandbox.state import ApiState

_TAG = re.compile(r"<[^>]+>")
MAX_DELETED_PER_PAGE = 60  # the spec's maximum for GET /conversations/deleted


def list_conversations(state: ApiState, request: Request) -> Response:
    ws = state.ws
    per_page = per_page_param(request.query.get("per_page"), 20, MAX_PER_PAGE)
    result = cached(
        state,
        ("conversations-list",),
        lambda: sorted_result(ws.conversations, CONVERSATION_FIELDS, "updated_at", descending=True),
    )
    cursor = request.query.get("starting_after")
    return Response(
        200,
        cursor_page(
            ws, result, per_page, cursor, "conversation.list", "conversations", render.conversation
        ),
    )


def search_conversations(state: ApiState, request: Request) -> Response:
    ws = state.ws
    result, per_page, cursor = search(
        state,
        request,
        "conversations",
        ws.conversations,
        CONVERSATION_FIELDS,
        20,
        day_granular_dates=False,
        default_sort="created_at",
    )
    return Response(
        200,
        cursor_page(
            ws, result, per_page, cursor, "conversation.list", "conversations", render.conversation
        ),
    )


def get_conversation(state: ApiState, request: Request) -> Response:
    conversation = _conversation_in_path(state, request)
    body = render.conversation(conversation, state.ws, with_parts=True)
    if request.query.get("display_as") == "plaintext":
        _to_plaintext(body)
    return Response(200, body)


def _conversation_in_path(state: ApiState, request: Request) -> Conversation:
    """The live conversation the path names; a deleted or unknown one is a 404."""
    found = state.ws.conversation_by_id.get(request.params["id"])
    return found_or_404(found, code="conversation_not_found")


def _to_plaintext(conversation: dict[str, Any]) -> None:
    conversation["source"]["body"] = _TAG.sub("", conversation["source"]["body"] or "")
    for part in conversation.get("conversation_parts", {}).get("conversation_parts", []):
        if part.get("body"):
            part["body"] = _TAG.sub("", part["body"])


def list_handling_events(state: ApiState, request: Request) -> Response:
    """GET /conversations/{id}/handling_events: the assignee's pauses and resumptions."""
    conversation = _conversation_in_path(state, request)
    return Response(200, {"handling_events": handling_events(state.ws, conversation)})


def list_deleted_conversations(state: ApiState, request: Request) -> Response:
    """GET /conversations/deleted: page-numbered, by deletion time then id, newest first by default.

    `pages.next` is the next page's URL on the server that was asked, as Intercom gives one.
    """
    q = request.query
    order = q.get("order", "desc")
    if order not in ("asc", "desc"):
        raise ApiError(400, "parameter_invalid", f"order must be asc or desc, got {order!r}")
    per_page = per_page_param(q.get("per_page"), 20, MAX_DELETED_PER_PAGE)
    deleted = state.ws.deleted_conversations
    chunk, pages = number_page(
        deleted if order == "asc" else deleted[::-1], page_param(q.get("page")), per_page
    )
    if pages["next"] is not None:
        following = urlencode({"per_page": per_page, "order": order, "page": pages["page"] + 1})
        pages["next"] = f"{request.base_url}/conversations/deleted?{following}"
    items = [
        {
            "type": "conversation",
            "id": d.id,
            "deleted_at": d.deleted_at,
            "metrics_retained": d.metrics_retained,
        }
        for d in chunk
    ]
    body = {
        "type": "conversations.list",
        "conversations": items,
        "total_count": len(deleted),
        "pages": pages,
    }
    return Response(200, body)


ROUTES: tuple[RouteSpec, ...] = (
    ("GET", r"/conversations/deleted", "conversations", list_deleted_conversations),
    # Its own module: plans without handling events refuse them and still serve conversations.
    (
        "GET",
        r"/conversations/(?P<id>[^/]+)/handling_events",
        "handling_events",
        list_handling_events,
    ),
    ("GET", r"/conversations", "conversations", list_conversations),
    ("POST", r"/conversations/search", "conversations", search_conversations),
    ("GET", r"/conversations/(?P<id>[^/]+)", "conversations", get_conversation),
)
