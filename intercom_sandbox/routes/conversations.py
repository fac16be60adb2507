"""Conversations: list, search, and get one with its parts."""

from __future__ import annotations

import re
from typing import Any

from intercom_sandbox import render
from intercom_sandbox.errors import not_found
from intercom_sandbox.fields import CONVERSATION_FIELDS
from intercom_sandbox.generate_extras import handling_events
from intercom_sandbox.http_types import Request, Response
from intercom_sandbox.paging import per_page_param
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
    conversation = state.ws.conversation_by_id.get(request.params["id"])
    if conversation is None:
        raise not_found("Resource Not Found", "conversation_not_found")
    body = render.conversation(conversation, state.ws, with_parts=True)
    if request.query.get("display_as") == "plaintext":
        _to_plaintext(body)
    return Response(200, body)


def _to_plaintext(conversation: dict[str, Any]) -> None:
    conversation["source"]["body"] = _TAG.sub("", conversation["source"]["body"] or "")
    for part in conversation.get("conversation_parts", {}).get("conversation_parts", []):
        if part.get("body"):
            part["body"] = _TAG.sub("", part["body"])


def list_handling_events(state: ApiState, request: Request) -> Response:
    """GET /conversations/{id}/handling_events: the assignee's pauses and resumptions."""
    conversation = state.ws.conversation_by_id.get(request.params["id"])
    if conversation is None:
        raise not_found("Resource Not Found", "conversation_not_found")
    return Response(200, {"handling_events": handling_events(state.ws, conversation)})


def list_deleted_conversations(state: ApiState, request: Request) -> Response:
    """GET /conversations/deleted: the sandbox never deletes a conversation, so an empty page."""
    per_page = per_page_param(request.query.get("per_page"), 20, MAX_PER_PAGE)
    pages = {"type": "pages", "page": 1, "per_page": per_page, "total_pages": 0}
    body = {"type": "conversations.list", "conversations": [], "total_count": 0, "pages": pages}
    return Response(200, body)


ROUTES: tuple[RouteSpec, ...] = (
    ("GET", r"/conversations/deleted", "conversations", list_deleted_conversations),
    ("GET", r"/conversations/(?P<id>[^/]+)/handling_events", "conversations", list_handling_events),
    ("GET", r"/conversations", "conversations", list_conversations),
    ("POST", r"/conversations/search", "conversations", search_conversations),
    ("GET", r"/conversations/(?P<id>[^/]+)", "conversations", get_conversation),
)
