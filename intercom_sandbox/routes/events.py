"""Data events: POST /events to submit one, GET /events to list a contact's (or summarise them)."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

from intercom_sandbox.errors import ApiError, not_found
from intercom_sandbox.http_types import Request, Response
from intercom_sandbox.model import Contact, Event
from intercom_sandbox.routes.common import RouteSpec
from intercom_sandbox.state import ApiState
from intercom_sandbox.workspace import DAY, Workspace

EVENTS_LISTING_WINDOW = 90 * DAY  # only events younger than this are listed
EVENT_METADATA_LIMIT = 10
# GET /events names the contact by one of these; POST /events by the matching body key.
_QUERY_LOOKUPS = {"intercom_user_id": "id", "user_id": "user_id", "email": "email"}


def create_event(state: ApiState, request: Request) -> Response:
    """POST /events: answered 202; metadata past the first ten keys is dropped."""
    body = request.json_object()
    name, created_at = body.get("event_name"), body.get("created_at")
    if not isinstance(name, str) or not name:
        raise ApiError(400, "parameter_not_found", "event_name is required")
    if not isinstance(created_at, int) or isinstance(created_at, bool):
        raise ApiError(
            400, "parameter_invalid", "created_at is required, as a unix timestamp in seconds"
        )
    metadata = _checked_metadata(body.get("metadata") or {})
    contact = _contact_for(state.ws, body)
    kept = dict(list(metadata.items())[:EVENT_METADATA_LIMIT])
    state.ws.add_event(Event(contact.id, name, created_at, kept))
    return Response(202, None)


def list_events(state: ApiState, request: Request) -> Response:
    """GET /events?type=user: the contact's recent events, or with summary=true all by name."""
    q = request.query
    if q.get("type") != "user":
        raise ApiError(400, "parameter_invalid", "type=user is required")
    keys = [k for k in _QUERY_LOOKUPS if q.get(k)]
    if len(keys) != 1:
        raise ApiError(
            400,
            "parameter_invalid",
            "Exactly one of intercom_user_id, user_id or email is required",
        )
    contact = _contact_for(state.ws, {_QUERY_LOOKUPS[keys[0]]: q[keys[0]]})
    events = sorted(state.ws.events_of(contact.id), key=lambda e: (e.created_at, e.event_name))
    if q.get("summary") == "true":
        return Response(200, _summary(contact, events))
    return Response(200, _listing(state.ws, contact, events))


def _checked_metadata(metadata: Any) -> dict[str, Any]:
    """Metadata values may be scalars, rich links or money, never other objects or arrays."""
    if not isinstance(metadata, dict):
        raise ApiError(400, "parameter_invalid", "metadata must be an object")
    for key, value in metadata.items():
        if isinstance(value, dict) and not (
            set(value) <= {"url", "value"} or set(value) <= {"amount", "currency"}
        ):
            raise ApiError(
                400,
                "parameter_invalid",
                f"metadata.{key}: nested objects are not allowed (only rich links and money)",
            )
        if isinstance(value, list):
            raise ApiError(400, "parameter_invalid", f"metadata.{key}: arrays are not allowed")
    return metadata


def _contact_for(ws: Workspace, body: dict[str, Any]) -> Contact:
    """The contact named by id, user_id (external id) or email, as POST /events allows."""
    if body.get("id"):
        contact = ws.contact_by_id.get(str(body["id"]))
    elif body.get("user_id"):
        contact = next(
            (c for c in ws.contacts if c.external_id == str(body["user_id"]) and c.visible),
            None,
        )
    elif body.get("email"):
        contact = next((c for c in ws.contacts if c.email == body["email"] and c.visible), None)
    else:
        raise ApiError(400, "parameter_not_found", "One of id, user_id or email is required")
    if contact is None or contact.deleted_at is not None:
        raise not_found("User Not Found")
    return ws.resolve_merged(contact)


def _identity(contact: Contact) -> dict[str, Any]:
    return {
        "email": contact.email,
        "intercom_user_id": contact.id,
        "user_id": contact.external_id or "",
    }


def _summary(contact: Contact, events: list[Event]) -> dict[str, Any]:
    """Per event name: first and last time, and how many."""
    summary: dict[str, dict[str, Any]] = {}
    for event in events:
        item = summary.setdefault(
            event.event_name,
            {
                "name": event.event_name,
                "first": _iso(event.created_at),
                "count": 0,
                "description": "",
            },
        )
        item["last"] = _iso(event.created_at)
        item["count"] += 1
    return {"type": "event.summary", "events": list(summary.values()), **_identity(contact)}


def _listing(ws: Workspace, contact: Contact, events: list[Event]) -> dict[str, Any]:
    """The events of the listing window, newest first."""
    recent = [e for e in events if e.created_at >= ws.now - EVENTS_LISTING_WINDOW]
    return {
        "type": "event.list",
        "events": [
            {
                "type": "event",
                "event_name": e.event_name,
                "created_at": e.created_at,
                "user_id": contact.external_id or "",
                "id": _event_id(e),
                "intercom_user_id": contact.id,
                "email": contact.email,
                "metadata": e.metadata,
            }
            for e in reversed(recent)
        ],
        "pages": {},
    }


def _event_id(event: Event) -> str:
    """A stable id for an event: the same in every process (unlike the salted hash())."""
    key = f"{event.contact_id}\x1f{event.event_name}\x1f{event.created_at}".encode()
    return hashlib.sha1(key).hexdigest()[:16]


def _iso(timestamp: int) -> str:
    return datetime.fromtimestamp(timestamp, UTC).isoformat().replace("+00:00", "Z")


ROUTES: tuple[RouteSpec, ...] = (
    ("GET", r"/events", "events", list_events),
    ("POST", r"/events", "events", create_event),
)
