"""Page walkers and small helpers shared by the sandbox behaviour tests."""

from __future__ import annotations

from typing import Any

from intercom_sandbox.workspace import Workspace
from tests.conftest import SandboxClient

MAX_PAGES = 500  # a walk that needs more than this is looping


def error_codes(response: Any) -> list[str]:
    body = response.json()
    assert body["type"] == "error.list", body
    return [e["code"] for e in body["errors"]]


def walk_cursor_list(
    client: SandboxClient, path: str, key: str, per_page: int
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Follow `pages.next.starting_after` (query string) to the end; returns items and pages."""
    items: list[dict[str, Any]] = []
    pages: list[dict[str, Any]] = []
    params: dict[str, Any] = {"per_page": per_page}
    for _ in range(MAX_PAGES):
        response = client.get(path, params=params)
        assert response.status_code == 200, response.text
        body = response.json()
        items.extend(body[key])
        pages.append(body["pages"])
        following = body["pages"].get("next")
        if not following:
            assert len(items) == body["total_count"]
            return items, pages
        params = {"per_page": per_page, "starting_after": following["starting_after"]}
    raise AssertionError(f"{path} did not end within {MAX_PAGES} pages")


def walk_search(
    client: SandboxClient,
    path: str,
    key: str,
    query: dict[str, Any],
    per_page: int,
    sort: dict[str, str] | None = None,
) -> list[dict[str, Any]]:
    """Follow a search's cursor, sent in the body's `pagination`, to the end."""
    items: list[dict[str, Any]] = []
    pagination: dict[str, Any] = {"per_page": per_page}
    for number in range(1, MAX_PAGES):
        body: dict[str, Any] = {"query": query, "pagination": pagination}
        if sort is not None:
            body["sort"] = sort
        response = client.post(path, json=body)
        assert response.status_code == 200, response.text
        result = response.json()
        assert result["pages"]["page"] == number
        assert result["pages"]["per_page"] == per_page
        items.extend(result[key])
        following = result["pages"].get("next")
        if not following:
            assert len(items) == result["total_count"]
            assert result["pages"]["total_pages"] == max(1, number)
            return items
        assert len(result[key]) == per_page
        pagination = {"per_page": per_page, "starting_after": following["starting_after"]}
    raise AssertionError(f"{path} did not end within {MAX_PAGES} pages")


def walk_numbered(
    client: SandboxClient, method: str, path: str, per_page: int
) -> list[dict[str, Any]]:
    """Page-number paging with `page` and `per_page` in the query string, until `next` is null."""
    items: list[dict[str, Any]] = []
    for page in range(1, MAX_PAGES):
        response = client.request(method, path, params={"page": page, "per_page": per_page})
        assert response.status_code == 200, response.text
        body = response.json()
        pages = body["pages"]
        assert (pages["page"], pages["per_page"]) == (page, per_page)
        assert pages["total_pages"] == max(1, -(-body["total_count"] // per_page))
        items.extend(body["data"])
        if pages["next"] is None:
            assert page == pages["total_pages"]
            assert len(items) == body["total_count"]
            return items
        assert len(body["data"]) == per_page
        assert pages["next"]["page"] == page + 1
    raise AssertionError(f"{path} did not end within {MAX_PAGES} pages")


def ids(items: list[dict[str, Any]]) -> list[str]:
    return [item["id"] for item in items]


def assert_each_once(walked: list[str], expected: set[str]) -> None:
    """No duplicate and no gap: the walk is exactly the expected set."""
    assert len(walked) == len(set(walked)), "a page walk repeated an item"
    assert set(walked) == expected


def visible_contact_ids(ws: Workspace) -> set[str]:
    return {c.id for c in ws.contacts if c.deleted_at is None and c.merged_into is None}
