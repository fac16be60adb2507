"""Tickets: search, and get one."""

from __future__ import annotations

from intercom_sandbox import render
from intercom_sandbox.errors import not_found
from intercom_sandbox.fields import ticket_fields
from intercom_sandbox.http_types import Request, Response
from intercom_sandbox.routes.common import RouteSpec, cursor_page, search
from intercom_sandbox.state import ApiState


def search_tickets(state: ApiState, request: Request) -> Response:
    """POST /tickets/search: created_at also takes <= and >=, unlike other searches."""
    ws = state.ws
    result, per_page, cursor = search(
        state,
        request,
        "tickets",
        ws.tickets,
        ticket_fields(ws),
        20,
        day_granular_dates=False,
        default_sort="created_at",
        date_range_operators=frozenset({"created_at"}),
    )
    return Response(
        200, cursor_page(ws, result, per_page, cursor, "ticket.list", "tickets", render.ticket)
    )


def get_ticket(state: ApiState, request: Request) -> Response:
    ticket = state.ws.ticket_by_id.get(request.params["id"])
    if ticket is None:
        raise not_found("Ticket not found", "ticket_not_found")
    return Response(200, render.ticket(ticket, state.ws))


ROUTES: tuple[RouteSpec, ...] = (
    ("POST", r"/tickets/search", "tickets", search_tickets),
    ("GET", r"/tickets/(?P<id>[^/]+)", "tickets", get_ticket),
)
