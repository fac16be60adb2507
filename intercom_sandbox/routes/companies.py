"""Companies: GET /companies (list or find), one company, its contacts and segments.

Also POST /companies/list and GET /companies/scroll.
"""

from __future__ import annotations

import time
import uuid

from intercom_sandbox import render
from intercom_sandbox.errors import ApiError, not_found
from intercom_sandbox.http_types import Request, Response
from intercom_sandbox.model import Company
from intercom_sandbox.routes.common import RouteSpec, company_list, numbered
from intercom_sandbox.state import ApiState, ScrollState

# GET /companies and POST /companies/list cannot page past this many companies (only the scroll
# reaches the rest); their total_count still counts them all.
COMPANIES_LIST_REACH = 10_000
SCROLL_PAGE_SIZE = 50


def list_companies(state: ApiState, request: Request) -> Response:
    """GET /companies: all companies, or the one named by company_id or name, or by tag.

    The spec states no order; Intercom's docs for this listing (1.x, where it was the list
    endpoint) sort it by last_request_at, most recent first, as POST /companies/list does.
    """
    q = request.query
    companies = state.ws.visible_companies()
    if "company_id" in q or "name" in q:
        key, wanted = ("company_id", q["company_id"]) if "company_id" in q else ("name", q["name"])
        found = [c for c in companies if getattr(c, key) == wanted]
        if not found:
            raise not_found("Company Not Found", "company_not_found")
        # Still a company_list: the spec's 200 for retrieveCompany is one schema for all.
        companies = found[:1]
    if "tag_id" in q:
        companies = [c for c in companies if any(t.tag_id == q["tag_id"] for t in c.tags)]
    if "segment_id" in q:
        companies = []
    return _reachable_page(state, request, _by_last_request(companies, descending=True))


def list_all_companies(state: ApiState, request: Request) -> Response:
    """POST /companies/list: paging in the query string; only companies with users."""
    order = request.query.get("order", "desc")
    if order not in ("asc", "desc"):
        raise ApiError(400, "parameter_invalid", f"order must be asc or desc, got {order!r}")
    companies = [c for c in state.ws.visible_companies() if c.user_count > 0]
    return _reachable_page(state, request, _by_last_request(companies, descending=order == "desc"))


def _by_last_request(companies: list[Company], *, descending: bool) -> list[Company]:
    return sorted(companies, key=lambda c: (c.last_request_at, c.id), reverse=descending)


def _reachable_page(state: ApiState, request: Request, companies: list[Company]) -> Response:
    """One page of a company listing: paging reaches the first COMPANIES_LIST_REACH only."""
    chunk, pages = numbered(request, companies[:COMPANIES_LIST_REACH], 15, 60)
    return Response(200, company_list(state.ws, chunk, pages, len(companies)))


def scroll_companies(state: ApiState, request: Request) -> Response:
    """GET /companies/scroll: one open scroll per app, expiring after a minute unused."""
    ws = state.ws
    now = time.monotonic()
    with state.scroll_lock:
        scroll = _open_scroll(state, request.query.get("scroll_param"), now)
        companies = sorted(ws.visible_companies(), key=lambda c: (c.created_at, c.id))
        chunk = companies[scroll.position : scroll.position + SCROLL_PAGE_SIZE]
        scroll.position += len(chunk)
        scroll.last_used = now
        if not chunk:  # the end: the scroll closes and its param expires
            state.scroll = None
        return Response(
            200,
            {
                "type": "list",
                "data": [render.company(c, ws) for c in chunk],
                "pages": None,
                "total_count": None,
                "scroll_param": scroll.param,
            },
        )


def _open_scroll(state: ApiState, param: str | None, now: float) -> ScrollState:
    """The scroll to read from: a new one without a param, else the live one with that param."""
    scroll = state.scroll = state.live_scroll(now)
    if not param:
        if scroll is not None:
            raise ApiError(400, "scroll_exists", "scroll already exists for this workspace")
        scroll = state.scroll = ScrollState(
            str(uuid.UUID(int=state.write_rng.getrandbits(128))), 0, now
        )
    elif scroll is None or scroll.param != param:
        raise ApiError(
            404,
            "scroll_param_not_found",
            "Scroll parameter not found or expired. Restart the scroll without scroll_param.",
        )
    return scroll


def _find_company(state: ApiState, company_id: str) -> Company:
    company = state.ws.company_by_id.get(company_id)
    if company is None or company.deleted_at is not None:
        raise not_found("Company Not Found", "company_not_found")
    return company


def get_company(state: ApiState, request: Request) -> Response:
    """GET /companies/{id}: one company by Intercom's id."""
    return Response(200, render.company(_find_company(state, request.params["id"]), state.ws))


def company_contacts(state: ApiState, request: Request) -> Response:
    """GET /companies/{id}/contacts: the live contacts attached to the company."""
    ws = state.ws
    contacts = ws.contacts_of_company(_find_company(state, request.params["id"]))
    chunk, pages = numbered(request, contacts, 50, 150)
    body = {
        "type": "list",
        "data": [render.contact(c, ws) for c in chunk],
        "total_count": len(contacts),
        "pages": pages,
    }
    return Response(200, body)


def company_segments(state: ApiState, request: Request) -> Response:
    """GET /companies/{id}/segments: the sandbox's segments all hold people, so none."""
    _find_company(state, request.params["id"])
    return Response(200, {"type": "list", "data": []})


ROUTES: tuple[RouteSpec, ...] = (
    ("GET", r"/companies/scroll", "companies", scroll_companies),
    ("POST", r"/companies/list", "companies", list_all_companies),
    ("GET", r"/companies", "companies", list_companies),
    ("GET", r"/companies/(?P<id>[^/]+)", "companies", get_company),
    ("GET", r"/companies/(?P<id>[^/]+)/contacts", "companies", company_contacts),
    ("GET", r"/companies/(?P<id>[^/]+)/segments", "companies", company_segments),
)
