"""Helpers the operation modules share: the handler type, lookups, paging, search and its cache."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from intercom_sandbox import render
from intercom_sandbox.errors import ApiError, not_found
from intercom_sandbox.fields import sort_value
from intercom_sandbox.http_types import Request, Response
from intercom_sandbox.model import Company, Contact
from intercom_sandbox.paging import (
    SortedResult,
    number_page,
    page_param,
    per_page_param,
    sort_result,
)
from intercom_sandbox.search import SearchError, compile_query
from intercom_sandbox.state import ApiState
from intercom_sandbox.workspace import Workspace

MAX_PER_PAGE = 150
SEARCH_CACHE_SIZE = 64

Handler = Callable[[ApiState, Request], Response]
# (method, path pattern, the Intercom module a plan may restrict, handler)
RouteSpec = tuple[str, str, str, Handler]


def find_contact(ws: Workspace, contact_id: str, *, follow_merge: bool = False) -> Contact:
    """A live contact by id; a merged one answers 410 unless `follow_merge`."""
    contact = ws.contact_by_id.get(contact_id)
    if contact is None or contact.deleted_at is not None:
        raise not_found("User Not Found")
    if contact.merged_into and not follow_merge:
        canonical = ws.resolve_merged(contact)
        raise ApiError(
            410,
            "contact_merged",
            "This contact has been merged. See the 'Link' header for the canonical contact.",
            {"Link": f'</contacts/{canonical.id}>; rel="canonical"'},
        )
    return contact


def numbered(
    request: Request, items: list[Any], default: int, maximum: int
) -> tuple[list[Any], dict[str, Any]]:
    """One page of a page-numbered list, by the query's `page` and `per_page`."""
    per_page = per_page_param(request.query.get("per_page"), default, maximum)
    return number_page(items, page_param(request.query.get("page")), per_page)


def company_list(
    ws: Workspace, chunk: list[Company], pages: dict[str, Any], total: int
) -> dict[str, Any]:
    """The envelope of every page-numbered company list."""
    return {
        "type": "list",
        "data": [render.company(c, ws) for c in chunk],
        "pages": pages,
        "total_count": total,
    }


def sorted_result(
    records: list[Any], fields: dict[str, Any], sort_field: str, *, descending: bool
) -> SortedResult:
    keys = [(sort_value(fields, sort_field, r), r.id) for r in records]
    return sort_result(records, keys, descending)


def cached(
    state: ApiState, key: tuple[Any, ...], compute: Callable[[], SortedResult]
) -> SortedResult:
    """Result sets are kept until the workspace changes, so paging costs one scan."""
    full_key = (*key, state.ws.version)
    result = state.search_cache.get(full_key)
    if result is None:
        result = compute()
        state.search_cache[full_key] = result
        while len(state.search_cache) > SEARCH_CACHE_SIZE:
            state.search_cache.popitem(last=False)
    return result


def cursor_page(
    ws: Workspace,
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
        key: [render_one(item, ws) for item in chunk],
    }


def search(
    state: ApiState,
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
    sort_field, order = _sort(body, fields, default_sort)
    try:
        predicate = compile_query(
            body["query"],
            lambda name: fields[name][0] if name in fields else None,
            day_granular_dates=day_granular_dates,
            utc_offset_seconds=state.ws.utc_offset_seconds,
            date_range_operators=date_range_operators,
        )
    except SearchError as exc:
        raise ApiError(400, exc.code, exc.message) from exc
    key = (kind, json.dumps(body["query"], sort_keys=True), sort_field, order)

    def compute() -> SortedResult:
        matched = [r for r in records if predicate(lambda name, r=r: fields[name][1](r))]
        return sorted_result(matched, fields, sort_field, descending=order == "descending")

    return cached(state, key, compute), per_page, pagination.get("starting_after")


def _sort(body: dict[str, Any], fields: dict[str, Any], default_sort: str) -> tuple[str, str]:
    """The search body's sort field and order, checked."""
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
    return sort_field, order
