"""Every pagination style walked to the end over HTTP: each object once, none missing."""

from __future__ import annotations

import pytest
import requests

from intercom_sandbox import RunningSandbox, SandboxConfig
from tests.conftest import SandboxClient
from tests.sandbox.helpers import (
    assert_each_once,
    error_codes,
    ids,
    visible_contact_ids,
    walk_cursor_list,
    walk_numbered,
    walk_search,
)


@pytest.fixture
def sandbox_config() -> SandboxConfig:
    """The tiny workspace still spans many pages at small page sizes."""
    return SandboxConfig(seed=1, scale="tiny")


def test_contacts_list_gives_every_visible_contact_once(
    intercom: SandboxClient, running_sandbox: RunningSandbox
) -> None:
    ws = running_sandbox.sandbox.workspace
    hidden = [c for c in ws.contacts if c.merged_into is not None]
    assert hidden, "the workspace should hold merged contacts for this test to mean much"
    contacts, pages = walk_cursor_list(intercom, "/contacts", "data", per_page=23)
    assert_each_once(ids(contacts), visible_contact_ids(ws))
    assert not {c.id for c in hidden} & set(ids(contacts))
    # Oldest first, as created_at ascending with the id as tie-break.
    keys = [(c["created_at"], c["id"]) for c in contacts]
    assert keys == sorted(keys)
    assert [p["page"] for p in pages] == list(range(1, len(pages) + 1))
    assert all(p["total_pages"] == len(pages) for p in pages)
    assert "next" not in pages[-1]
    assert pages[0]["next"]["starting_after"].startswith("W")  # base64 of a JSON array


def test_contacts_list_default_page_size_is_ten(intercom: SandboxClient) -> None:
    body = intercom.get("/contacts").json()
    assert len(body["data"]) == 10
    assert body["pages"]["per_page"] == 10


def test_conversations_list_gives_every_conversation_once(
    intercom: SandboxClient, running_sandbox: RunningSandbox
) -> None:
    ws = running_sandbox.sandbox.workspace
    conversations, pages = walk_cursor_list(intercom, "/conversations", "conversations", 37)
    assert_each_once(ids(conversations), {c.id for c in ws.conversations})
    assert len(pages) == -(-len(ws.conversations) // 37)
    # Most recently updated first; list items carry no parts.
    keys = [(c["updated_at"], c["id"]) for c in conversations]
    assert keys == sorted(keys, reverse=True)
    assert all("conversation_parts" not in c for c in conversations)


def test_contacts_search_walks_body_cursor_to_the_end(
    intercom: SandboxClient, running_sandbox: RunningSandbox
) -> None:
    ws = running_sandbox.sandbox.workspace
    query = {"field": "role", "operator": "=", "value": "user"}
    found = walk_search(intercom, "/contacts/search", "data", query, per_page=17)
    expected = {c.id for c in ws.contacts if c.role == "user" and c.visible}
    assert len(expected) > 17 * 3
    assert_each_once(ids(found), expected)


def test_conversations_search_walks_body_cursor_to_the_end(
    intercom: SandboxClient, running_sandbox: RunningSandbox
) -> None:
    ws = running_sandbox.sandbox.workspace
    query = {"field": "state", "operator": "!=", "value": "closed"}
    found = walk_search(intercom, "/conversations/search", "conversations", query, per_page=11)
    expected = {c.id for c in ws.conversations if c.state != "closed"}
    assert len(expected) > 11 * 3
    assert_each_once(ids(found), expected)
    # The default sort is created_at descending.
    keys = [(c["created_at"], c["id"]) for c in found]
    assert keys == sorted(keys, reverse=True)


def test_tickets_search_walks_body_cursor_to_the_end(
    intercom: SandboxClient, running_sandbox: RunningSandbox
) -> None:
    ws = running_sandbox.sandbox.workspace
    query = {"field": "created_at", "operator": ">", "value": 0}
    found = walk_search(intercom, "/tickets/search", "tickets", query, per_page=4)
    assert len(ws.tickets) > 4 * 3
    assert_each_once(ids(found), {t.id for t in ws.tickets})


def test_articles_page_numbers(intercom: SandboxClient, running_sandbox: RunningSandbox) -> None:
    ws = running_sandbox.sandbox.workspace
    articles = walk_numbered(intercom, "GET", "/articles", per_page=5)
    assert_each_once(ids(articles), {a.id for a in ws.articles})
    keys = [(-a["updated_at"], a["id"]) for a in articles]
    assert keys == sorted(keys)


def test_collections_page_numbers(intercom: SandboxClient, running_sandbox: RunningSandbox) -> None:
    ws = running_sandbox.sandbox.workspace
    collections = walk_numbered(intercom, "GET", "/help_center/collections", per_page=3)
    assert_each_once(ids(collections), {c.id for c in ws.collections})


def test_companies_list_page_numbers(
    intercom: SandboxClient, running_sandbox: RunningSandbox
) -> None:
    ws = running_sandbox.sandbox.workspace
    companies = walk_numbered(intercom, "GET", "/companies", per_page=7)
    assert_each_once(ids(companies), {c.id for c in ws.companies if c.deleted_at is None})


@pytest.mark.parametrize("sandbox_config", [SandboxConfig(seed=1, scale="demo")], ids=["demo"])
def test_post_companies_list_pages_in_query_and_skips_companies_without_users(
    intercom: SandboxClient, running_sandbox: RunningSandbox
) -> None:
    ws = running_sandbox.sandbox.workspace
    with_users = {c.id for c in ws.companies if c.user_count > 0 and c.deleted_at is None}
    assert 0 < len(with_users) < len(ws.companies)
    companies = walk_numbered(intercom, "POST", "/companies/list", per_page=45)
    assert_each_once(ids(companies), with_users)
    assert all(c["user_count"] > 0 for c in companies)
    # Default order: last_request_at descending.
    stamps = [c["last_request_at"] for c in companies]
    assert stamps == sorted(stamps, reverse=True)


def test_post_companies_list_ignores_paging_in_the_body(intercom: SandboxClient) -> None:
    """Paging belongs in the query string: a body with page/per_page changes nothing."""
    plain = intercom.post("/companies/list").json()
    with_body = intercom.post("/companies/list", json={"page": 3, "per_page": 5}).json()
    assert with_body["pages"]["page"] == 1
    assert ids(with_body["data"]) == ids(plain["data"])
    in_query = intercom.post("/companies/list", params={"page": 3, "per_page": 5}).json()
    assert in_query["pages"]["page"] == 3
    assert len(in_query["data"]) == 5


def test_companies_scroll_walks_every_company_once(
    intercom: SandboxClient, running_sandbox: RunningSandbox
) -> None:
    ws = running_sandbox.sandbox.workspace
    walked: list[str] = []
    params: dict[str, str] = {}
    params_seen = set()
    for _ in range(100):
        response = intercom.get("/companies/scroll", params=params)
        assert response.status_code == 200, response.text
        body = response.json()
        assert (body["pages"], body["total_count"]) == (None, None)
        params_seen.add(body["scroll_param"])
        if not body["data"]:
            break
        walked.extend(ids(body["data"]))
        params = {"scroll_param": body["scroll_param"]}
    else:
        raise AssertionError("the scroll never ended")
    assert_each_once(walked, {c.id for c in ws.companies if c.deleted_at is None})
    assert len(params_seen) == 1
    # The scroll closed at the end: the old param is gone and a new scroll opens.
    again = intercom.get("/companies/scroll", params=params)
    assert again.status_code == 404
    assert intercom.get("/companies/scroll").status_code == 200


def test_search_starting_after_in_query_string_is_ignored(intercom: SandboxClient) -> None:
    body = {
        "query": {"field": "role", "operator": "=", "value": "lead"},
        "pagination": {"per_page": 25},
    }
    first = intercom.post("/contacts/search", json=body).json()
    cursor = first["pages"]["next"]["starting_after"]
    trap = intercom.post("/contacts/search", json=body, params={"starting_after": cursor}).json()
    assert ids(trap["data"]) == ids(first["data"])
    assert trap["pages"]["page"] == 1
    right = intercom.post(
        "/contacts/search",
        json={**body, "pagination": {"per_page": 25, "starting_after": cursor}},
    ).json()
    assert right["pages"]["page"] == 2
    assert not set(ids(right["data"])) & set(ids(first["data"]))


@pytest.mark.parametrize(
    ("method", "path", "key"),
    [
        ("GET", "/contacts", None),
        ("GET", "/conversations", None),
        ("POST", "/contacts/search", "data"),
        ("POST", "/conversations/search", "conversations"),
        ("POST", "/tickets/search", "tickets"),
    ],
)
def test_per_page_over_150_is_rejected(
    intercom: SandboxClient, method: str, path: str, key: str | None
) -> None:
    def call(per_page: int) -> requests.Response:
        if key is None:
            return intercom.get(path, params={"per_page": per_page})
        body = {
            "query": {"field": "created_at", "operator": ">", "value": 0},
            "pagination": {"per_page": per_page},
        }
        return intercom.post(path, json=body)

    rejected = call(151)
    assert rejected.status_code == 400
    assert error_codes(rejected) == ["parameter_invalid"]
    accepted = call(150)
    assert accepted.status_code == 200
    assert accepted.json()["pages"]["per_page"] == 150


def test_bad_cursor_is_a_client_error(intercom: SandboxClient) -> None:
    response = intercom.get("/contacts", params={"starting_after": "not-a-cursor"})
    assert response.status_code == 400
    assert error_codes(response) == ["client_error"]
