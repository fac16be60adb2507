"""Tags: GET /tags, GET /tags/{id}, and POST /tags, which creates a tag and tags or untags contacts and companies."""

from __future__ import annotations

from typing import Any

from intercom_sandbox import render
from intercom_sandbox.errors import ApiError, found_or_404, not_found
from intercom_sandbox.http_types import Request, Response
from intercom_sandbox.model import AppliedTag, Tag
from intercom_sandbox.routes.common import RouteSpec, find_contact
from intercom_sandbox.state import ApiState
from intercom_sandbox.workspace import Workspace


def list_tags(state: ApiState, request: Request) -> Response:
    return Response(200, {"type": "list", "data": [render.tag(t) for t in state.ws.tags]})


def create_tag(state: ApiState, request: Request) -> Response:
    """POST /tags: the tag by name (created if new), then applied to the listed users and companies.

    A request refused at a company keeps the new tag and the companies tagged before it.
    """
    ws = state.ws
    body = request.json_object()
    name = body.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ApiError(400, "parameter_invalid", "invalid tag parameters")
    tag = _tag_named(state, name)
    if "users" in body:
        _tag_contacts(ws, tag, _items(body["users"]))
    if "companies" in body:
        _tag_companies(ws, tag, _items(body["companies"]))
    ws.changed()
    return Response(200, render.tag(tag))


def _tag_named(state: ApiState, name: str) -> Tag:
    """The tag of that name; a new one gets an id drawn from the write RNG."""
    ws = state.ws
    tag = ws.tag_named(name)
    if tag is None:
        tag = Tag(
            id=str(5_100_000 + len(ws.tags) + state.write_rng.randint(1_000, 9_999) * 100),
            name=name,
        )
        ws.add_tag(tag)
    return tag


def _tag_contacts(ws: Workspace, tag: Tag, users: list[dict[str, Any]]) -> None:
    """Tag every listed contact (a merged one's canonical contact); all are found first."""
    admin_id = ws.admins[0].id
    contacts = [
        ws.resolve_merged(find_contact(ws, str(u.get("id")), follow_merge=True)) for u in users
    ]
    for contact in contacts:
        if not any(t.tag_id == tag.id for t in contact.tags):
            contact.tags.append(AppliedTag(tag.id, ws.now, admin_id))
            contact.updated_at = max(contact.updated_at, ws.now)


def _tag_companies(ws: Workspace, tag: Tag, items: list[dict[str, Any]]) -> None:
    """Tag, or with `untag` untag, each listed company in turn, by id or company_id."""
    admin_id = ws.admins[0].id
    for item in items:
        company = ws.company_by_id.get(str(item.get("id"))) or ws.company_by_company_id.get(
            str(item.get("company_id"))
        )
        if company is None:
            raise not_found("Company Not Found", "company_not_found")
        company.tags = [t for t in company.tags if t.tag_id != tag.id]
        if not item.get("untag"):
            company.tags.append(AppliedTag(tag.id, ws.now, admin_id))
        company.updated_at = max(company.updated_at, ws.now)


def _items(value: Any) -> list[dict[str, Any]]:
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise ApiError(400, "parameter_invalid", "invalid tag parameters")
    return value


def get_tag(state: ApiState, request: Request) -> Response:
    """GET /tags/{id}: one tag, the same shape as in the list."""
    tag = found_or_404(state.ws.tag_by_id.get(request.params["id"]), code="tag_not_found")
    return Response(200, render.tag(tag))


ROUTES: tuple[RouteSpec, ...] = (
    ("GET", r"/tags", "tags", list_tags),
    ("GET", r"/tags/(?P<id>[^/]+)", "tags", get_tag),
    ("POST", r"/tags", "tags", create_tag),
)
