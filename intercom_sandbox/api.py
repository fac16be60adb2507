"""Intercom's REST operations over a `Workspace`, free of any HTTP server.

`IntercomApi.handle(request)` routes one request to its operation and returns a `Response`.
Transport concerns (authentication, the version header, rate limits, faults) live in `server.py`.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from intercom_sandbox import render
from intercom_sandbox.errors import ApiError, not_found
from intercom_sandbox.fields import (
    CONVERSATION_FIELDS,
    contact_fields,
    sort_value,
    ticket_fields,
)
from intercom_sandbox.model import AppliedTag, Contact, DataAttribute, Event, Message, Tag
from intercom_sandbox.paging import (
    SortedResult,
    number_page,
    page_param,
    per_page_param,
    sort_result,
)
from intercom_sandbox.search import SearchError, compile_query
from intercom_sandbox.workspace import DAY, Workspace

MAX_PER_PAGE = 150
COMPANIES_LIST_REACH = 10_000  # POST /companies/list cannot page past this many companies
SCROLL_PAGE_SIZE = 50
EVENTS_LISTING_WINDOW = 90 * DAY  # only events younger than this are listed
EVENT_METADATA_LIMIT = 10
ATTRIBUTE_NAME = re.compile(r"^[\w\- $€£¥]+$")
ATTRIBUTE_TYPES = ("string", "integer", "float", "boolean", "datetime", "date", "options")


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str] = field(default_factory=dict)
    body: bytes = b""

    def json(self) -> Any:
        if not self.body:
            return {}
        try:
            return json.loads(self.body)
        except ValueError as exc:
            raise ApiError(
                400, "parameter_invalid", f"Request body is not valid JSON: {exc}"
            ) from exc

    def json_object(self) -> dict[str, Any]:
        body = self.json()
        if not isinstance(body, dict):
            raise ApiError(400, "parameter_invalid", "Request body must be a JSON object")
        return body


@dataclass
class Response:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class ScrollState:
    param: str
    position: int
    last_used: float


Handler = Callable[[Request, re.Match[str]], Response]


class IntercomApi:
    """The operations the sandbox serves, each as in the v2.16 spec."""

    def __init__(self, workspace: Workspace, scroll_expiry_seconds: float = 60.0) -> None:
        self.ws = workspace
        self.scroll_expiry_seconds = scroll_expiry_seconds
        self.scroll: ScrollState | None = None
        self.scroll_lock = threading.Lock()
        self.restricted_modules: set[str] = set()
        self.write_rng = random.Random(workspace.seed * 7_919 + 1)
        self._search_cache: OrderedDict[tuple[Any, ...], SortedResult] = OrderedDict()
        self.routes: list[tuple[str, re.Pattern[str], str, Handler]] = []
        for method, pattern, module, handler in (
            ("GET", r"/me", "admins", self.identify_admin),
            ("GET", r"/admins", "admins", self.list_admins),
            ("GET", r"/teams", "teams", self.list_teams),
            ("GET", r"/tags", "tags", self.list_tags),
            ("POST", r"/tags", "tags", self.create_tag),
            ("GET", r"/segments", "segments", self.list_segments),
            ("GET", r"/data_attributes", "data_attributes", self.list_data_attributes),
            ("POST", r"/data_attributes", "data_attributes", self.create_data_attribute),
            ("GET", r"/help_center/help_centers", "help_center", self.list_help_centers),
            ("GET", r"/help_center/collections", "help_center", self.list_collections),
            ("GET", r"/articles", "articles", self.list_articles),
            ("GET", r"/companies/scroll", "companies", self.scroll_companies),
            ("POST", r"/companies/list", "companies", self.list_all_companies),
            ("GET", r"/companies", "companies", self.list_companies),
            ("GET", r"/contacts", "contacts", self.list_contacts),
            ("POST", r"/contacts", "contacts", self.create_contact),
            ("POST", r"/contacts/search", "contacts", self.search_contacts),
            ("GET", r"/contacts/(?P<id>[^/]+)", "contacts", self.get_contact),
            ("PUT", r"/contacts/(?P<id>[^/]+)", "contacts", self.update_contact),
            ("GET", r"/contacts/(?P<id>[^/]+)/tags", "contacts", self.contact_tags),
            (
                "DELETE",
                r"/contacts/(?P<id>[^/]+)/tags/(?P<tag_id>[^/]+)",
                "contacts",
                self.detach_contact_tag,
            ),
            ("GET", r"/contacts/(?P<id>[^/]+)/companies", "contacts", self.contact_companies),
            ("GET", r"/contacts/(?P<id>[^/]+)/segments", "contacts", self.contact_segments),
            ("GET", r"/conversations", "conversations", self.list_conversations),
            ("POST", r"/conversations/search", "conversations", self.search_conversations),
            ("GET", r"/conversations/(?P<id>[^/]+)", "conversations", self.get_conversation),
            ("POST", r"/tickets/search", "tickets", self.search_tickets),
            ("GET", r"/tickets/(?P<id>[^/]+)", "tickets", self.get_ticket),
            ("GET", r"/events", "events", self.list_events),
            ("POST", r"/events", "events", self.create_event),
            ("POST", r"/messages", "messages", self.create_message),
        ):
            self.routes.append((method, re.compile(pattern + r"/?"), module, handler))

    # --- routing -----------------------------------------------------------------------------

    def route(self, method: str, path: str) -> tuple[str, str, Handler, re.Match[str]] | None:
        """The operation for a method and path: (route pattern, module, handler, match)."""
        allowed = False
        for route_method, pattern, module, handler in self.routes:
            match = pattern.fullmatch(path)
            if match:
                if route_method == method:
                    return pattern.pattern, module, handler, match
                allowed = True
        if allowed:  # Intercom answers an unsupported method with 404
            raise not_found("Resource Not Found")
        return None

    def handle(self, request: Request) -> Response:
        found = self.route(request.method, request.path)
        if found is None:
            raise not_found("Resource Not Found")
        _pattern, module, handler, match = found
        if module in self.restricted_modules:
            raise ApiError(403, "api_plan_restricted", "Active subscription needed.")
        with self.ws.lock:
            return handler(request, match)

    # --- small lists -------------------------------------------------------------------------

    def list_admins(self, request: Request, match: re.Match[str]) -> Response:
        return Response(
            200, {"type": "admin.list", "admins": [render.admin(a) for a in self.ws.admins]}
        )

    def identify_admin(self, request: Request, match: re.Match[str]) -> Response:
        """GET /me: the token's admin and its workspace (the app), whose id_code is the app id."""
        body = render.admin(self.ws.admins[0])
        body.pop("team_priority_level")
        body.pop("role")
        body["avatar"] = {"type": "avatar", "image_url": None}
        body["email_verified"] = True
        body["app"] = {
            "type": "app",
            "id_code": self.ws.app_id,
            "name": f"Sandbox {self.ws.seed}",
            "region": "US",
            "timezone": "UTC",
            "created_at": self.ws.now - 900 * DAY,
            "identity_verification": False,
        }
        return Response(200, body)

    def list_teams(self, request: Request, match: re.Match[str]) -> Response:
        return Response(
            200, {"type": "team.list", "teams": [render.team(t) for t in self.ws.teams]}
        )

    def list_tags(self, request: Request, match: re.Match[str]) -> Response:
        return Response(200, {"type": "list", "data": [render.tag(t) for t in self.ws.tags]})

    def list_segments(self, request: Request, match: re.Match[str]) -> Response:
        with_count = request.query.get("include_count") == "true"
        segments = [
            render.segment(s, len(self.ws.segment_members(s)) if with_count else None)
            for s in self.ws.segments
        ]
        return Response(200, {"type": "segment.list", "segments": segments, "pages": {}})

    def list_data_attributes(self, request: Request, match: re.Match[str]) -> Response:
        model = request.query.get("model")
        if model == "conversation":
            raise ApiError(
                422,
                "parameter_invalid",
                "model=conversation is no longer supported. Use GET /conversations/attributes instead",
            )
        if model not in (None, "contact", "company"):
            raise ApiError(
                400, "parameter_invalid", f"model must be contact or company, got {model!r}"
            )
        archived = request.query.get("include_archived") == "true"
        data = [
            render.data_attribute(a)
            for a in self.ws.data_attributes
            if (model is None or a.model == model) and (archived or not a.archived)
        ]
        return Response(200, {"type": "list", "data": data})

    def create_data_attribute(self, request: Request, match: re.Match[str]) -> Response:
        body = request.json_object()
        name, model, data_type = body.get("name"), body.get("model"), body.get("data_type")
        if model not in ("contact", "company"):
            raise ApiError(
                400,
                "parameter_invalid",
                "The Data Attribute model field must be either contact or company",
            )
        if not isinstance(name, str) or not name.strip() or not ATTRIBUTE_NAME.match(name):
            raise ApiError(
                400,
                "parameter_invalid",
                "Your name for this attribute must only contain alphanumeric characters, currency symbols, and hyphens",
            )
        if data_type not in ATTRIBUTE_TYPES:
            raise ApiError(400, "parameter_invalid", "Data Type isn't an option")
        options: list[str] = []
        if data_type == "options":
            raw = body.get("options")
            if not isinstance(raw, list) or len(raw) < 2:
                raise ApiError(
                    400,
                    "parameter_invalid",
                    'options needs at least 2 entries like {"value": "..."}',
                )
            options = [str(o.get("value")) if isinstance(o, dict) else str(o) for o in raw]
        if any(a.model == model and a.name == name for a in self.ws.data_attributes):
            raise ApiError(
                400,
                "parameter_invalid",
                f"You already have '{name}' in your {model} data. To save this as new {model} data, use a different name.",
            )
        now = self.ws.now
        attribute = DataAttribute(
            model=model,
            name=name,
            full_name=f"custom_attributes.{name}",
            label=name,
            description=str(body.get("description") or ""),
            data_type="string" if data_type == "options" else data_type,
            custom=True,
            created_at=now,
            updated_at=now,
            id=max((a.id or 0) for a in self.ws.data_attributes) + 1,
            options=options,
            messenger_writable=bool(body.get("messenger_writable", False)),
            admin_id=self.ws.admins[0].id,
        )
        self.ws.data_attributes.append(attribute)
        self.ws.changed()
        return Response(200, render.data_attribute(attribute))

    def list_help_centers(self, request: Request, match: re.Match[str]) -> Response:
        data = [render.help_center(h, self.ws) for h in self.ws.help_centers]
        return Response(200, {"type": "list", "data": data})

    def _numbered(
        self, request: Request, items: list[Any], default: int, maximum: int
    ) -> tuple[list[Any], dict[str, Any]]:
        per_page = per_page_param(request.query.get("per_page"), default, maximum)
        return number_page(items, page_param(request.query.get("page")), per_page)

    def list_collections(self, request: Request, match: re.Match[str]) -> Response:
        ordered = sorted(self.ws.collections, key=lambda c: (-c.updated_at, c.id))
        chunk, pages = self._numbered(request, ordered, 20, MAX_PER_PAGE)
        return Response(
            200,
            {
                "type": "list",
                "data": [render.collection(c, self.ws) for c in chunk],
                "total_count": len(ordered),
                "pages": pages,
            },
        )

    def list_articles(self, request: Request, match: re.Match[str]) -> Response:
        ordered = sorted(self.ws.articles, key=lambda a: (-a.updated_at, a.id))
        chunk, pages = self._numbered(request, ordered, 25, MAX_PER_PAGE)
        return Response(
            200,
            {
                "type": "list",
                "pages": pages,
                "total_count": len(ordered),
                "data": [render.article(a, self.ws) for a in chunk],
            },
        )

    # --- companies ---------------------------------------------------------------------------

    def list_companies(self, request: Request, match: re.Match[str]) -> Response:
        q = request.query
        companies = self.ws.visible_companies()
        if "company_id" in q or "name" in q:
            key, wanted = (
                ("company_id", q["company_id"]) if "company_id" in q else ("name", q["name"])
            )
            found = [c for c in companies if getattr(c, key) == wanted]
            if not found:
                raise not_found("Company Not Found", "company_not_found")
            # Still a company_list: the spec's 200 for retrieveCompany is one schema for all.
            companies = found[:1]
        if "tag_id" in q:
            companies = [c for c in companies if any(t.tag_id == q["tag_id"] for t in c.tags)]
        if "segment_id" in q:
            companies = []
        chunk, pages = self._numbered(request, companies, 15, 60)
        return Response(
            200,
            {
                "type": "list",
                "data": [render.company(c, self.ws) for c in chunk],
                "pages": pages,
                "total_count": len(companies),
            },
        )

    def list_all_companies(self, request: Request, match: re.Match[str]) -> Response:
        """POST /companies/list: paging in the query string; only companies with users."""
        order = request.query.get("order", "desc")
        if order not in ("asc", "desc"):
            raise ApiError(400, "parameter_invalid", f"order must be asc or desc, got {order!r}")
        companies = [c for c in self.ws.visible_companies() if c.user_count > 0]
        companies.sort(key=lambda c: (c.last_request_at, c.id), reverse=order == "desc")
        reachable = companies[:COMPANIES_LIST_REACH]
        chunk, pages = self._numbered(request, reachable, 15, 60)
        return Response(
            200,
            {
                "type": "list",
                "data": [render.company(c, self.ws) for c in chunk],
                "pages": pages,
                "total_count": len(companies),
            },
        )

    def scroll_companies(self, request: Request, match: re.Match[str]) -> Response:
        """GET /companies/scroll: one open scroll per app, expiring after a minute unused."""
        param = request.query.get("scroll_param")
        now = time.monotonic()
        with self.scroll_lock:
            scroll = self.scroll
            if scroll is not None and now - scroll.last_used > self.scroll_expiry_seconds:
                self.scroll = scroll = None
            if not param:
                if scroll is not None:
                    raise ApiError(400, "scroll_exists", "scroll already exists for this workspace")
                scroll = self.scroll = ScrollState(
                    str(uuid.UUID(int=self.write_rng.getrandbits(128))), 0, now
                )
            elif scroll is None or scroll.param != param:
                raise ApiError(
                    404,
                    "scroll_param_not_found",
                    "Scroll parameter not found or expired. Restart the scroll without scroll_param.",
                )
            companies = sorted(self.ws.visible_companies(), key=lambda c: (c.created_at, c.id))
            chunk = companies[scroll.position : scroll.position + SCROLL_PAGE_SIZE]
            scroll.position += len(chunk)
            scroll.last_used = now
            if not chunk:  # the end: the scroll closes and its param expires
                self.scroll = None
            return Response(
                200,
                {
                    "type": "list",
                    "data": [render.company(c, self.ws) for c in chunk],
                    "pages": None,
                    "total_count": None,
                    "scroll_param": scroll.param,
                },
            )

    def scroll_is_open(self) -> bool:
        with self.scroll_lock:
            return (
                self.scroll is not None
                and time.monotonic() - self.scroll.last_used <= self.scroll_expiry_seconds
            )

    # --- contacts ----------------------------------------------------------------------------

    def _contact(self, contact_id: str, follow_merge: bool = False) -> Contact:
        contact = self.ws.contact_by_id.get(contact_id)
        if contact is None or contact.deleted_at is not None:
            raise not_found("User Not Found")
        if contact.merged_into and not follow_merge:
            canonical = self.ws.resolve_merged(contact)
            raise ApiError(
                410,
                "contact_merged",
                "This contact has been merged. See the 'Link' header for the canonical contact.",
                {"Link": f'</contacts/{canonical.id}>; rel="canonical"'},
            )
        return contact

    def list_contacts(self, request: Request, match: re.Match[str]) -> Response:
        per_page = per_page_param(request.query.get("per_page"), 10, MAX_PER_PAGE)
        result = self._cached(
            ("contacts-list",),
            lambda: self._sorted(
                self.ws.visible_contacts(), contact_fields(self.ws), "created_at", descending=False
            ),
        )
        return Response(
            200,
            self._cursor_page(
                result,
                per_page,
                request.query.get("starting_after"),
                "list",
                "data",
                render.contact,
            ),
        )

    def search_contacts(self, request: Request, match: re.Match[str]) -> Response:
        fields = contact_fields(self.ws)
        result, per_page, cursor = self._search(
            request,
            "contacts",
            self.ws.visible_contacts(),
            fields,
            50,
            day_granular_dates=True,
            default_sort="created_at",
        )
        return Response(
            200, self._cursor_page(result, per_page, cursor, "list", "data", render.contact)
        )

    def get_contact(self, request: Request, match: re.Match[str]) -> Response:
        return Response(200, render.contact(self._contact(match["id"]), self.ws))

    def contact_tags(self, request: Request, match: re.Match[str]) -> Response:
        contact = self._contact(match["id"])
        data = [render.tag(self.ws.tag_by_id[t.tag_id], t) for t in contact.tags]
        return Response(200, {"type": "list", "data": data})

    def detach_contact_tag(self, request: Request, match: re.Match[str]) -> Response:
        """Removes the tag from the contact; answers with the tag, as Intercom does."""
        contact = self._contact(match["id"])
        applied = next((t for t in contact.tags if t.tag_id == match["tag_id"]), None)
        if applied is None:
            raise not_found()
        contact.tags.remove(applied)
        contact.updated_at = max(contact.updated_at, self.ws.now)
        self.ws.changed()
        return Response(200, render.tag(self.ws.tag_by_id[applied.tag_id], applied))

    def contact_companies(self, request: Request, match: re.Match[str]) -> Response:
        contact = self._contact(match["id"])
        companies = [
            self.ws.company_by_id[i] for i in contact.company_ids if i in self.ws.company_by_id
        ]
        chunk, pages = self._numbered(request, companies, 50, 50)  # the spec example: 50
        return Response(
            200,
            {
                "type": "list",
                "data": [render.company(c, self.ws) for c in chunk],
                "pages": pages,
                "total_count": len(companies),
            },
        )

    def contact_segments(self, request: Request, match: re.Match[str]) -> Response:
        contact = self._contact(match["id"])
        return Response(
            200,
            {
                "type": "list",
                "data": [render.segment(s) for s in self.ws.contact_segments(contact)],
            },
        )

    def create_contact(self, request: Request, match: re.Match[str]) -> Response:
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
        for existing in self.ws.contacts:
            if not existing.visible:
                continue
            same_email = (
                body.get("email") and existing.email == body["email"] and existing.role == role
            )
            same_external = body.get("external_id") and existing.external_id == body["external_id"]
            if same_email or same_external:
                raise ApiError(
                    409,
                    "conflict",
                    f"A contact matching those details already exists with id={existing.id}",
                )
        now = self.ws.now
        contact = Contact(
            id=f"{self.write_rng.getrandbits(96):024x}",
            role=role,
            email=str(body.get("email") or ""),
            name=None,
            created_at=now,
            updated_at=now,
        )
        self._apply_contact_fields(contact, body)
        self.ws.add_contact(contact)
        return Response(200, render.contact(contact, self.ws))

    def update_contact(self, request: Request, match: re.Match[str]) -> Response:
        contact = self._contact(match["id"])
        self._apply_contact_fields(contact, request.json_object())
        contact.updated_at = max(contact.updated_at, self.ws.now)
        self.ws.changed()
        return Response(200, render.contact(contact, self.ws))

    def _apply_contact_fields(self, contact: Contact, body: dict[str, Any]) -> None:
        """Validate every field first, then write them, so a bad request changes nothing."""
        updates: dict[str, Any] = {}
        for key in ("role", "external_id", "email", "phone", "name", "owner_id"):
            if key in body:
                value = body[key]
                if value is not None and not isinstance(value, str):
                    raise ApiError(400, "parameter_invalid", f"{key} must be a string")
                updates[key] = value
        for key in ("signed_up_at", "last_seen_at"):
            if key in body:
                if body[key] is not None and (
                    not isinstance(body[key], int) or isinstance(body[key], bool)
                ):
                    raise ApiError(400, "parameter_invalid", f"{key} must be a unix timestamp")
                updates[key] = body[key]
        if "unsubscribed_from_emails" in body:
            if not isinstance(body["unsubscribed_from_emails"], bool):
                raise ApiError(
                    400, "parameter_invalid", "unsubscribed_from_emails must be a boolean"
                )
            updates["unsubscribed_from_emails"] = body["unsubscribed_from_emails"]
        custom = body.get("custom_attributes") or {}
        if not isinstance(custom, dict):
            raise ApiError(400, "parameter_invalid", "custom_attributes must be an object")
        for name, value in custom.items():
            attribute = self.ws.contact_attribute(name)
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

    # --- conversations and tickets -----------------------------------------------------------

    def list_conversations(self, request: Request, match: re.Match[str]) -> Response:
        per_page = per_page_param(request.query.get("per_page"), 20, MAX_PER_PAGE)
        result = self._cached(
            ("conversations-list",),
            lambda: self._sorted(
                self.ws.conversations, CONVERSATION_FIELDS, "updated_at", descending=True
            ),
        )
        return Response(
            200,
            self._cursor_page(
                result,
                per_page,
                request.query.get("starting_after"),
                "conversation.list",
                "conversations",
                render.conversation,
            ),
        )

    def search_conversations(self, request: Request, match: re.Match[str]) -> Response:
        result, per_page, cursor = self._search(
            request,
            "conversations",
            self.ws.conversations,
            CONVERSATION_FIELDS,
            20,
            day_granular_dates=False,
            default_sort="created_at",
        )
        return Response(
            200,
            self._cursor_page(
                result, per_page, cursor, "conversation.list", "conversations", render.conversation
            ),
        )

    def get_conversation(self, request: Request, match: re.Match[str]) -> Response:
        conversation = self.ws.conversation_by_id.get(match["id"])
        if conversation is None:
            raise not_found("Resource Not Found", "conversation_not_found")
        body = render.conversation(conversation, self.ws, with_parts=True)
        if request.query.get("display_as") == "plaintext":
            _to_plaintext(body)
        return Response(200, body)

    def search_tickets(self, request: Request, match: re.Match[str]) -> Response:
        result, per_page, cursor = self._search(
            request,
            "tickets",
            self.ws.tickets,
            ticket_fields(self.ws),
            20,
            day_granular_dates=False,
            default_sort="created_at",
            date_range_operators=frozenset({"created_at"}),
        )
        return Response(
            200,
            self._cursor_page(result, per_page, cursor, "ticket.list", "tickets", render.ticket),
        )

    def get_ticket(self, request: Request, match: re.Match[str]) -> Response:
        ticket = self.ws.ticket_by_id.get(match["id"])
        if ticket is None:
            raise not_found("Ticket not found", "ticket_not_found")
        return Response(200, render.ticket(ticket, self.ws))

    # --- search machinery --------------------------------------------------------------------

    def _search(
        self,
        request: Request,
        kind: str,
        records: list[Any],
        fields: dict[str, Any],
        default_per_page: int,
        *,
        day_granular_dates: bool,
        default_sort: str,
        date_range_operators: frozenset[str] = frozenset(),
    ) -> tuple[SortedResult, int, str | None]:
        """Validate a search body and return its (cached) sorted result, page size and cursor.

        Only the body's `pagination` is read: a `starting_after` in the query string is ignored,
        and page 1 comes back, as Intercom does.
        """
        body = request.json_object()
        if "query" not in body:
            raise ApiError(400, "parameter_not_found", "query is required in the search body")
        pagination = body.get("pagination") or {}
        if not isinstance(pagination, dict):
            raise ApiError(400, "parameter_invalid", "pagination must be an object")
        per_page = per_page_param(pagination.get("per_page"), default_per_page, MAX_PER_PAGE)
        sort = body.get("sort") or {}
        sort_field = sort.get("field", default_sort) if isinstance(sort, dict) else default_sort
        order = sort.get("order", "descending") if isinstance(sort, dict) else "descending"
        if order not in ("ascending", "descending"):
            raise ApiError(
                400,
                "invalid_sort_order",
                f"Invalid sort order '{order}'. Must be one of: ascending, descending",
            )
        if sort_field not in fields:
            raise ApiError(
                400,
                "parameter_invalid",
                f"Cannot sort by {sort_field!r}: it is not a searchable field",
            )
        try:
            predicate = compile_query(
                body["query"],
                lambda name: fields[name][0] if name in fields else None,
                day_granular_dates=day_granular_dates,
                utc_offset_seconds=self.ws.utc_offset_seconds,
                date_range_operators=date_range_operators,
            )
        except SearchError as exc:
            raise ApiError(400, exc.code, exc.message) from exc
        key = (kind, json.dumps(body["query"], sort_keys=True), sort_field, order)

        def compute() -> SortedResult:
            matched = [r for r in records if predicate(lambda name, r=r: fields[name][1](r))]
            return self._sorted(matched, fields, sort_field, descending=order == "descending")

        return self._cached(key, compute), per_page, pagination.get("starting_after")

    def _cursor_page(
        self,
        result: SortedResult,
        per_page: int,
        cursor: str | None,
        list_type: str,
        key: str,
        render_one: Callable[[Any, Workspace], dict[str, Any]],
    ) -> dict[str, Any]:
        """One page of a cursor-paged list or search, in its resource's envelope."""
        chunk, pages = result.page(per_page, cursor)
        return {
            "type": list_type,
            "pages": pages,
            "total_count": len(result.items),
            key: [render_one(item, self.ws) for item in chunk],
        }

    def _sorted(
        self, records: list[Any], fields: dict[str, Any], sort_field: str, *, descending: bool
    ) -> SortedResult:
        keys = [(sort_value(fields, sort_field, r), r.id) for r in records]
        return sort_result(records, keys, descending)

    def _cached(self, key: tuple[Any, ...], compute: Callable[[], SortedResult]) -> SortedResult:
        """Result sets are kept until the workspace changes, so paging costs one scan."""
        full_key = (*key, self.ws.version)
        result = self._search_cache.get(full_key)
        if result is None:
            result = compute()
            self._search_cache[full_key] = result
            while len(self._search_cache) > 64:
                self._search_cache.popitem(last=False)
        return result

    # --- writes: events, tags, messages ------------------------------------------------------

    def _contact_for(self, body: dict[str, Any]) -> Contact:
        """The contact named by id, user_id (external id) or email, as POST /events allows."""
        if body.get("id"):
            contact = self.ws.contact_by_id.get(str(body["id"]))
        elif body.get("user_id"):
            contact = next(
                (
                    c
                    for c in self.ws.contacts
                    if c.external_id == str(body["user_id"]) and c.visible
                ),
                None,
            )
        elif body.get("email"):
            contact = next(
                (c for c in self.ws.contacts if c.email == body["email"] and c.visible), None
            )
        else:
            raise ApiError(400, "parameter_not_found", "One of id, user_id or email is required")
        if contact is None or contact.deleted_at is not None:
            raise not_found("User Not Found")
        return self.ws.resolve_merged(contact)

    def create_event(self, request: Request, match: re.Match[str]) -> Response:
        body = request.json_object()
        name, created_at = body.get("event_name"), body.get("created_at")
        if not isinstance(name, str) or not name:
            raise ApiError(400, "parameter_not_found", "event_name is required")
        if not isinstance(created_at, int) or isinstance(created_at, bool):
            raise ApiError(
                400, "parameter_invalid", "created_at is required, as a unix timestamp in seconds"
            )
        metadata = body.get("metadata") or {}
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
        contact = self._contact_for(body)
        kept = dict(list(metadata.items())[:EVENT_METADATA_LIMIT])
        self.ws.add_event(Event(contact.id, name, created_at, kept))
        return Response(202, None)

    def list_events(self, request: Request, match: re.Match[str]) -> Response:
        q = request.query
        if q.get("type") != "user":
            raise ApiError(400, "parameter_invalid", "type=user is required")
        keys = [k for k in ("intercom_user_id", "user_id", "email") if q.get(k)]
        if len(keys) != 1:
            raise ApiError(
                400,
                "parameter_invalid",
                "Exactly one of intercom_user_id, user_id or email is required",
            )
        lookup = {"intercom_user_id": "id", "user_id": "user_id", "email": "email"}[keys[0]]
        contact = self._contact_for({lookup: q[keys[0]]})
        events = sorted(self.ws.events_of(contact.id), key=lambda e: (e.created_at, e.event_name))
        identity = {
            "email": contact.email,
            "intercom_user_id": contact.id,
            "user_id": contact.external_id or "",
        }
        if q.get("summary") == "true":
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
            return Response(
                200, {"type": "event.summary", "events": list(summary.values()), **identity}
            )
        recent = [e for e in events if e.created_at >= self.ws.now - EVENTS_LISTING_WINDOW]
        return Response(
            200,
            {
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
            },
        )

    def create_tag(self, request: Request, match: re.Match[str]) -> Response:
        body = request.json_object()
        name = body.get("name")
        if not isinstance(name, str) or not name.strip():
            raise ApiError(400, "parameter_invalid", "invalid tag parameters")
        tag = self.ws.tag_named(name)
        if tag is None:
            tag = Tag(
                id=str(5_100_000 + len(self.ws.tags) + self.write_rng.randint(1_000, 9_999) * 100),
                name=name,
            )
            self.ws.add_tag(tag)
        admin_id = self.ws.admins[0].id
        if "users" in body:
            contacts = [
                self.ws.resolve_merged(self._contact(str(u.get("id")), follow_merge=True))
                for u in _items(body["users"])
            ]
            for contact in contacts:
                if not any(t.tag_id == tag.id for t in contact.tags):
                    contact.tags.append(AppliedTag(tag.id, self.ws.now, admin_id))
                    contact.updated_at = max(contact.updated_at, self.ws.now)
        if "companies" in body:
            for item in _items(body["companies"]):
                company = self.ws.company_by_id.get(
                    str(item.get("id"))
                ) or self.ws.company_by_company_id.get(str(item.get("company_id")))
                if company is None:
                    raise not_found("Company Not Found", "company_not_found")
                company.tags = [t for t in company.tags if t.tag_id != tag.id]
                if not item.get("untag"):
                    company.tags.append(AppliedTag(tag.id, self.ws.now, admin_id))
                company.updated_at = max(company.updated_at, self.ws.now)
        self.ws.changed()
        return Response(200, render.tag(tag))

    def create_message(self, request: Request, match: re.Match[str]) -> Response:
        body = request.json_object()
        message_type = body.get("message_type", "in_app")
        if message_type not in ("in_app", "email"):
            raise ApiError(
                400,
                "parameter_invalid",
                f"message_type must be in_app or email, got {message_type!r}",
            )
        if not body.get("body"):
            raise ApiError(400, "parameter_invalid", "Body is required")
        if message_type == "email" and not body.get("subject"):
            raise ApiError(422, "parameter_not_found", "No subject supplied for email message")
        sender = body.get("from") or {}
        if (
            not isinstance(sender, dict)
            or sender.get("type") != "admin"
            or str(sender.get("id")) not in self.ws.admin_by_id
        ):
            raise ApiError(
                422,
                "parameter_invalid",
                'from must be {"type": "admin", "id": <an admin id of this workspace>}',
            )
        recipient = body.get("to") or {}
        if isinstance(recipient, list):
            recipient = recipient[0] if len(recipient) == 1 else {}
        if not isinstance(recipient, dict) or recipient.get("type") not in (
            "user",
            "lead",
            "contact",
        ):
            raise ApiError(
                422, "parameter_invalid", 'to must be {"type": "user"|"lead", "id": <contact id>}'
            )
        contact = self._contact(str(recipient.get("id")))
        if message_type == "email" and contact.unsubscribed_from_emails:
            raise ApiError(422, "parameter_invalid", "The recipient has unsubscribed from emails")
        admin = self.ws.admin_by_id[str(sender["id"])]
        now = self.ws.now
        message = Message(
            id=str(400_000_000 + len(self.ws.messages) + 1),
            message_type=message_type,
            created_at=now,
            subject=body.get("subject"),
            body=str(body["body"]),
            admin_id=admin.id,
            contact_id=contact.id,
            conversation_id=None,
        )
        self.ws.messages.append(message)
        self.ws.changed()
        response: dict[str, Any] = {
            "type": "admin_message",
            "id": message.id,
            "created_at": now,
            "body": message.body,
            "message_type": "email" if message_type == "email" else "inapp",
            "owner": render.admin(admin),
        }
        if message.subject:
            response["subject"] = message.subject
        return Response(200, response)


def _items(value: Any) -> list[dict[str, Any]]:
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise ApiError(400, "parameter_invalid", "invalid tag parameters")
    return value


def _event_id(event: Event) -> str:
    """A stable id for an event: the same in every process (unlike the salted hash())."""
    key = f"{event.contact_id}\x1f{event.event_name}\x1f{event.created_at}".encode()
    return hashlib.sha1(key).hexdigest()[:16]


def _iso(timestamp: int) -> str:
    return datetime.fromtimestamp(timestamp, UTC).isoformat().replace("+00:00", "Z")


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


_TAG = re.compile(r"<[^>]+>")


def _to_plaintext(conversation: dict[str, Any]) -> None:
    conversation["source"]["body"] = _TAG.sub("", conversation["source"]["body"] or "")
    for part in conversation.get("conversation_parts", {}).get("conversation_parts", []):
        if part.get("body"):
            part["body"] = _TAG.sub("", part["body"])
