"""Contacts: list, search, get, create and update, and a contact's tags, companies and segments."""

from __future__ import annotations

from typing import Any

from intercom_sandbox import render
from intercom_sandbox.errors import ApiError, not_found
from intercom_sandbox.fields import contact_fields
from intercom_sandbox.http_types import Request, Response
from intercom_sandbox.model import Contact, DataAttribute
from intercom_sandbox.paging import per_page_param
from intercom_sandbox.routes.common import (
    MAX_PER_PAGE,
    RouteSpec,
    cached,
    company_list,
    cursor_page,
    find_contact,
    numbered,
    search,
    sorted_result,
)
from intercom_sandbox.state import ApiState
from intercom_sandbox.workspace import Workspace

_STRING_FIELDS = ("role", "external_id", "email", "phone", "name", "owner_id")
_TIMESTAMP_FIELDS = ("signed_up_at", "last_seen_at")


def list_contacts(state: ApiState, request: Request) -> Response:
    ws = state.ws
    per_page = per_page_param(request.query.get("per_page"), 10, MAX_PER_PAGE)
    result = cached(
        state,
        ("contacts-list",),
        lambda: sorted_result(
            ws.visible_contacts(), contact_fields(ws), "created_at", descending=False
        ),
    )
    cursor = request.query.get("starting_after")
    return Response(200, cursor_page(ws, result, per_page, cursor, "list", "data", render.contact))


def search_contacts(state: ApiState, request: Request) -> Response:
    ws = state.ws
    result, per_page, cursor = search(
        state,
        request,
        "contacts",
        ws.visible_contacts(),
        contact_fields(ws),
        50,
        day_granular_dates=True,
        default_sort="created_at",
    )
    return Response(200, cursor_page(ws, result, per_page, cursor, "list", "data", render.contact))


def get_contact(state: ApiState, request: Request) -> Response:
    return Response(200, render.contact(find_contact(state.ws, request.params["id"]), state.ws))


def create_contact(state: ApiState, request: Request) -> Response:
    """POST /contacts: a new user or lead, unless a live one has that email (and role) or id."""
    ws = state.ws
    body = request.json_object()
    if not any(body.get(k) for k in ("email", "external_id", "role")):
        raise ApiError(
            400,
            "parameter_not_found",
            "Contact requires at least one of email, external_id or role",
        )
    role = body.get("role", "user")
    if role not in ("user", "lead"):
        raise ApiError(400, "parameter_invalid", f"role must be user or lead, got {role!r}")
    _check_unique(ws, body, role)
    contact = Contact(
        id=f"{state.write_rng.getrandbits(96):024x}",
        role=role,
        email=str(body.get("email") or ""),
        name=None,
        created_at=ws.now,
        updated_at=ws.now,
    )
    _apply_contact_fields(ws, contact, body)
    ws.add_contact(contact)
    return Response(200, render.contact(contact, ws))


def update_contact(state: ApiState, request: Request) -> Response:
    ws = state.ws
    contact = find_contact(ws, request.params["id"])
    _apply_contact_fields(ws, contact, request.json_object())
    contact.updated_at = max(contact.updated_at, ws.now)
    ws.changed()
    return Response(200, render.contact(contact, ws))


def contact_tags(state: ApiState, request: Request) -> Response:
    ws = state.ws
    contact = find_contact(ws, request.params["id"])
    data = [render.tag(ws.tag_by_id[t.tag_id], t) for t in contact.tags]
    return Response(200, {"type": "list", "data": data})


def detach_contact_tag(state: ApiState, request: Request) -> Response:
    """Removes the tag from the contact; answers with the tag, as Intercom does."""
    ws = state.ws
    contact = find_contact(ws, request.params["id"])
    applied = next((t for t in contact.tags if t.tag_id == request.params["tag_id"]), None)
    if applied is None:
        raise not_found()
    contact.tags.remove(applied)
    contact.updated_at = max(contact.updated_at, ws.now)
    ws.changed()
    return Response(200, render.tag(ws.tag_by_id[applied.tag_id], applied))


def contact_companies(state: ApiState, request: Request) -> Response:
    ws = state.ws
    contact = find_contact(ws, request.params["id"])
    companies = [ws.company_by_id[i] for i in contact.company_ids if i in ws.company_by_id]
    chunk, pages = numbered(request, companies, 50, 50)  # the spec example: 50
    return Response(200, company_list(ws, chunk, pages, len(companies)))


def contact_segments(state: ApiState, request: Request) -> Response:
    ws = state.ws
    contact = find_contact(ws, request.params["id"])
    data = [render.segment(s) for s in ws.contact_segments(contact)]
    return Response(200, {"type": "list", "data": data})


def contact_subscriptions(state: ApiState, request: Request) -> Response:
    """GET /contacts/{id}/subscriptions: the workspace has no subscription types, so none."""
    find_contact(state.ws, request.params["id"])
    return Response(200, {"type": "list", "data": []})


def find_by_external_id(state: ApiState, request: Request) -> Response:
    """GET /contacts/find_by_external_id/{external_id}: the live contact with that external id."""
    ws = state.ws
    wanted = request.params["external_id"]
    contact = next((c for c in ws.contacts if c.visible and c.external_id == wanted), None)
    if contact is None:
        raise not_found("User Not Found")
    return Response(200, render.contact(contact, ws))


def list_subscription_types(state: ApiState, request: Request) -> Response:
    """GET /subscription_types: the workspace defines none, so an empty list."""
    return Response(200, {"type": "list", "data": []})


def _check_unique(ws: Workspace, body: dict[str, Any], role: str) -> None:
    """Refuse a contact whose email (for the same role) or external id a live one has."""
    for existing in ws.contacts:
        if not existing.visible:
            continue
        same_email = body.get("email") and existing.email == body["email"] and existing.role == role
        same_external = body.get("external_id") and existing.external_id == body["external_id"]
        if same_email or same_external:
            raise ApiError(
                409,
                "conflict",
                f"A contact matching those details already exists with id={existing.id}",
            )


def _apply_contact_fields(ws: Workspace, contact: Contact, body: dict[str, Any]) -> None:
    """Validate every field first, then write them, so a bad request changes nothing."""
    updates = _field_updates(body)
    custom = body.get("custom_attributes") or {}
    if not isinstance(custom, dict):
        raise ApiError(400, "parameter_invalid", "custom_attributes must be an object")
    for name, value in custom.items():
        attribute = ws.contact_attribute(name)
        if attribute is None or not attribute.custom or attribute.archived:
            raise ApiError(
                400,
                "parameter_not_found",
                f"Custom attribute '{name}' does not exist. Create it with POST /data_attributes first.",
            )
        _check_attribute_type(attribute, value)
    for key, value in updates.items():
        setattr(contact, key, value)
    contact.custom_attributes = {**contact.custom_attributes, **custom}


def _field_updates(body: dict[str, Any]) -> dict[str, Any]:
    """The standard fields the body sets, each checked for its type."""
    updates: dict[str, Any] = {}
    for key in _STRING_FIELDS:
        if key in body:
            value = body[key]
            if value is not None and not isinstance(value, str):
                raise ApiError(400, "parameter_invalid", f"{key} must be a string")
            updates[key] = value
    for key in _TIMESTAMP_FIELDS:
        if key in body:
            if body[key] is not None and (
                not isinstance(body[key], int) or isinstance(body[key], bool)
            ):
                raise ApiError(400, "parameter_invalid", f"{key} must be a unix timestamp")
            updates[key] = body[key]
    if "unsubscribed_from_emails" in body:
        if not isinstance(body["unsubscribed_from_emails"], bool):
            raise ApiError(400, "parameter_invalid", "unsubscribed_from_emails must be a boolean")
        updates["unsubscribed_from_emails"] = body["unsubscribed_from_emails"]
    return updates


def _check_attribute_type(attribute: DataAttribute, value: Any) -> None:
    """Reject a custom attribute value of the wrong type, as Intercom does."""
    if value is None:
        return
    ok = {
        "string": lambda v: isinstance(v, str),
        "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
        "float": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
        "boolean": lambda v: isinstance(v, bool),
        "date": lambda v: isinstance(v, int | str) and not isinstance(v, bool),
        "datetime": lambda v: isinstance(v, int | str) and not isinstance(v, bool),
    }.get(attribute.data_type, lambda v: True)(value)
    if not ok:
        raise ApiError(
            400,
            "parameter_invalid",
            f"Custom attribute '{attribute.name}' expects a {attribute.data_type}, got {type(value).__name__}",
        )


ROUTES: tuple[RouteSpec, ...] = (
    ("GET", r"/contacts", "contacts", list_contacts),
    ("POST", r"/contacts", "contacts", create_contact),
    ("POST", r"/contacts/search", "contacts", search_contacts),
    (
        "GET",
        r"/contacts/find_by_external_id/(?P<external_id>[^/]+)",
        "contacts",
        find_by_external_id,
    ),
    ("GET", r"/subscription_types", "contacts", list_subscription_types),
    ("GET", r"/contacts/(?P<id>[^/]+)", "contacts", get_contact),
    ("PUT", r"/contacts/(?P<id>[^/]+)", "contacts", update_contact),
    ("GET", r"/contacts/(?P<id>[^/]+)/tags", "contacts", contact_tags),
    ("DELETE", r"/contacts/(?P<id>[^/]+)/tags/(?P<tag_id>[^/]+)", "contacts", detach_contact_tag),
    ("GET", r"/contacts/(?P<id>[^/]+)/companies", "contacts", contact_companies),
    ("GET", r"/contacts/(?P<id>[^/]+)/segments", "contacts", contact_segments),
    ("GET", r"/contacts/(?P<id>[^/]+)/subscriptions", "contacts", contact_subscriptions),
)
