"""Tickets: search, get one, and the ticket types and states they are made of."""

from __future__ import annotations

from intercom_sandbox import render
from intercom_sandbox.errors import found_or_404
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
    ticket = found_or_404(
        state.ws.ticket_by_id.get(request.params["id"]), "Ticket not found", "ticket_not_found"
    )
    return Response(200, render.ticket(ticket, state.ws))


def list_ticket_types(state: ApiState, request: Request) -> Response:
    """GET /ticket_types: every type, each with its attributes and states."""
    data = [render.ticket_type(t, state.ws) for t in state.ws.ticket_types]
    return Response(200, {"type": "list", "data": data})


def get_ticket_type(state: ApiState, request: Request) -> Response:
    ticket_type = found_or_404(
        state.ws.ticket_type_by_id.get(request.params["id"]),
        "Ticket type not found",
        "ticket_type_not_found",
    )
    return Response(200, render.ticket_type(ticket_type, state.ws))


def list_ticket_states(state: ApiState, request: Request) -> Response:
    """GET /ticket_states: every state, with the types (all of them here) that use it."""
    ws = state.ws
    types = [render.ticket_type(t, ws, with_states=False) for t in ws.ticket_types]
    data = [render.ticket_state(s, types) for s in ws.ticket_states]
    return Response(200, {"type": "list", "data": data})


ROUTES: tuple[RouteSpec, ...] = (
    ("GET", r"/ticket_types", "tickets", list_ticket_types),
    ("GET", r"/ticket_types/(?P<id>[^/]+)", "tickets", get_ticket_type),
    ("GET", r"/ticket_states", "tickets", list_ticket_states),
    ("POST", r"/tickets/search", "tickets", search_tickets),
    ("GET", r"/tickets/(?P<id>[^/]+)", "tickets", get_ticket),
)
