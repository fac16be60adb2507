"""Conversations deleted while the clock moves: gone from every read, listed by /conversations/deleted."""

from __future__ import annotations

from typing import Any

import pytest

from intercom_sandbox import SandboxConfig
from intercom_sandbox.workspace import Workspace
from tests.conftest import SandboxClient
from tests.sandbox.helpers import error_codes, ids, walk_cursor_list, walk_search
from tests.sandbox.spec import SpecChecker, load_spec

EVERYTHING = {"field": "created_at", "operator": ">", "value": 0}


@pytest.fixture
def sandbox_config() -> SandboxConfig:
    return SandboxConfig(seed=1, scale="tiny")


@pytest.fixture(scope="module")
def checker() -> SpecChecker:
    return SpecChecker(load_spec())


def delete(client: SandboxClient, count: int) -> dict[str, Any]:
    """An hour in which `count` conversations are deleted; the clock move's answer."""
    activity = {"conversation_deletions": count}
    return client.control("POST", "/clock/advance", {"seconds": 3_600, "activity": activity})


def deleted_list(client: SandboxClient, checker: SpecChecker, **params: Any) -> dict[str, Any]:
    response = client.get("/conversations/deleted", params=params)
    assert response.status_code == 200, response.text
    checker.validate(response)
    return response.json()


def test_a_deleted_conversation_is_gone_from_every_read(
    intercom: SandboxClient, checker: SpecChecker, ws: Workspace
) -> None:
    deleted = delete(intercom, 5)["changes"]["deleted_conversations"]
    assert len(deleted) == 5
    for conversation_id in deleted:
        response = intercom.get(f"/conversations/{conversation_id}")
        assert response.status_code == 404
        assert error_codes(response) == ["conversation_not_found"]
        checker.validate(response)
    listed = ids(walk_cursor_list(intercom, "/conversations", "conversations", 150)[0])
    found = ids(walk_search(intercom, "/conversations/search", "conversations", EVERYTHING, 150))
    for answer in (listed, found):
        assert len(answer) == 295
        assert not set(deleted) & set(answer)
    assert len(ws.conversations) == 295


def test_the_deleted_list_orders_by_deletion_time_then_id(
    intercom: SandboxClient, checker: SpecChecker, ws: Workspace
) -> None:
    assert deleted_list(intercom, checker)["total_count"] == 0
    start = ws.now
    first = delete(intercom, 3)["changes"]["deleted_conversations"]
    second = delete(intercom, 4)["changes"]["deleted_conversations"]
    body = deleted_list(intercom, checker)
    assert (body["type"], body["total_count"]) == ("conversations.list", 7)
    assert body["pages"] == {
        "type": "pages",
        "page": 1,
        "per_page": 20,
        "total_pages": 1,
        "next": None,
    }
    items = body["conversations"]
    assert {item["type"] for item in items} == {"conversation"}
    assert {type(item["metrics_retained"]) for item in items} == {bool}
    keys = [(item["deleted_at"], int(item["id"])) for item in items]
    assert keys == sorted(keys, reverse=True)  # newest first by default
    hours = {item["id"]: (item["deleted_at"] - start - 1) // 3_600 for item in items}
    assert hours == {**dict.fromkeys(first, 0), **dict.fromkeys(second, 1)}
    ascending = deleted_list(intercom, checker, order="asc", per_page=60)["conversations"]
    assert ascending == items[::-1]


def test_the_deleted_list_pages_by_its_next_urls(
    intercom: SandboxClient, checker: SpecChecker
) -> None:
    delete(intercom, 7)
    everything = deleted_list(intercom, checker, order="asc", per_page=60)["conversations"]
    walked: list[dict[str, Any]] = []
    response = intercom.get("/conversations/deleted", params={"per_page": 2, "order": "asc"})
    for page in range(1, 5):
        checker.validate(response)
        body = response.json()
        assert (body["pages"]["page"], body["pages"]["total_pages"]) == (page, 4)
        walked += body["conversations"]
        following = body["pages"]["next"]
        if page == 4:
            assert following is None
            break
        expected = f"{intercom.base_url}/conversations/deleted?per_page=2&order=asc&page={page + 1}"
        assert following == expected
        response = intercom.session.get(following, timeout=30)
    assert walked == everything


@pytest.mark.parametrize(
    "params",
    [{"per_page": 61}, {"per_page": 0}, {"order": "sideways"}, {"page": 0}],
    ids=["per-page-above-60", "per-page-0", "unknown-order", "page-0"],
)
def test_bad_deleted_list_parameters_are_400(
    intercom: SandboxClient, checker: SpecChecker, params: dict[str, Any]
) -> None:
    response = intercom.get("/conversations/deleted", params=params)
    assert response.status_code == 400
    assert error_codes(response) == ["parameter_invalid"]
    checker.validate(response)


def test_a_tickets_conversation_is_never_deleted(
    intercom: SandboxClient, checker: SpecChecker, ws: Workspace
) -> None:
    with_ticket = {t.conversation_id for t in ws.tickets if t.conversation_id}
    deleted = delete(intercom, 10_000)["changes"]["deleted_conversations"]
    assert len(deleted) == 300 - len(with_ticket)
    listed = walk_cursor_list(intercom, "/conversations", "conversations", 150)[0]
    assert set(ids(listed)) == with_ticket
    assert deleted_list(intercom, checker, per_page=60)["total_count"] == len(deleted)
