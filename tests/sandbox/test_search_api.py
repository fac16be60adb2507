"""Search semantics over HTTP, each result compared with the same filter run in Python."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from intercom_sandbox import SandboxConfig
from intercom_sandbox.model import Contact, Conversation
from intercom_sandbox.workspace import DAY, Workspace
from tests.conftest import SandboxClient
from tests.sandbox.helpers import error_codes, ids, walk_search

CONTACTS = ("/contacts/search", "data")
CONVERSATIONS = ("/conversations/search", "conversations")
TICKETS = ("/tickets/search", "tickets")


@pytest.fixture
def sandbox_config() -> SandboxConfig:
    return SandboxConfig(seed=1, scale="tiny")


def search(
    client: SandboxClient,
    endpoint: tuple[str, str],
    query: dict[str, Any],
    sort: dict[str, str] | None = None,
) -> list[str]:
    return ids(walk_search(client, *endpoint, query, per_page=150, sort=sort))


def contacts_where(ws: Workspace, keep: Callable[[Contact], bool]) -> set[str]:
    matched = {c.id for c in ws.contacts if c.visible and keep(c)}
    visible = sum(c.visible for c in ws.contacts)
    assert 0 < len(matched) < visible, "the filter should split the contacts to mean anything"
    return matched


def conversations_where(ws: Workspace, keep: Callable[[Conversation], bool]) -> set[str]:
    matched = {c.id for c in ws.conversations if keep(c)}
    assert 0 < len(matched) < len(ws.conversations)
    return matched


def eq(field: str, value: Any, operator: str = "=") -> dict[str, Any]:
    return {"field": field, "operator": operator, "value": value}


def test_and_with_nested_or(intercom: SandboxClient, ws: Workspace) -> None:
    query = {
        "operator": "AND",
        "value": [
            eq("role", "user"),
            {
                "operator": "OR",
                "value": [
                    eq("custom_attributes.plan", "Enterprise"),
                    eq("location.country", "Germany"),
                ],
            },
        ],
    }
    expected = contacts_where(
        ws,
        lambda c: (
            c.role == "user"
            and (c.custom_attributes.get("plan") == "Enterprise" or c.country == "Germany")
        ),
    )
    assert set(search(intercom, CONTACTS, query)) == expected


def test_or_with_nested_and_on_conversations(intercom: SandboxClient, ws: Workspace) -> None:
    query = {
        "operator": "OR",
        "value": [
            eq("priority", "urgent"),
            {"operator": "AND", "value": [eq("state", "snoozed"), eq("source.type", "email")]},
        ],
    }
    expected = conversations_where(
        ws,
        lambda c: c.priority == "urgent" or (c.state == "snoozed" and c.source_type == "email"),
    )
    assert set(search(intercom, CONVERSATIONS, query)) == expected


def test_in_and_nin(intercom: SandboxClient, ws: Workspace) -> None:
    countries = ["Germany", "Japan", "Brazil"]
    found = search(intercom, CONTACTS, eq("location.country", countries, "IN"))
    assert set(found) == contacts_where(ws, lambda c: c.country in countries)
    browsers = ["chrome", "safari"]
    found = search(intercom, CONTACTS, eq("browser", browsers, "NIN"))
    assert set(found) == contacts_where(ws, lambda c: c.browser not in browsers)
    admins = sorted({c.admin_assignee_id for c in ws.conversations if c.admin_assignee_id})[:3]
    found = search(intercom, CONVERSATIONS, eq("admin_assignee_id", admins, "IN"))
    assert set(found) == conversations_where(ws, lambda c: c.admin_assignee_id in admins)


def test_string_operators(intercom: SandboxClient, ws: Workspace) -> None:
    found = search(intercom, CONTACTS, eq("name", "AR", "~"))
    assert set(found) == contacts_where(ws, lambda c: c.name is not None and "ar" in c.name.lower())
    found = search(intercom, CONTACTS, eq("name", "ar", "!~"))
    assert set(found) == contacts_where(ws, lambda c: c.name is None or "ar" not in c.name.lower())
    found = search(intercom, CONTACTS, eq("email", "ma", "^"))
    assert set(found) == contacts_where(ws, lambda c: c.email.startswith("ma"))
    found = search(intercom, CONTACTS, eq("os", "11", "$"))
    assert set(found) == contacts_where(ws, lambda c: (c.os or "").endswith("11"))


def test_contact_dates_match_by_calendar_day(intercom: SandboxClient, ws: Workspace) -> None:
    # A contact updated mid-day, and a moment one second before that update on the same day.
    pivot = next(c for c in ws.contacts if c.visible and c.updated_at % DAY > 3_600)
    moment = pivot.updated_at - 1
    day_start = moment - moment % DAY
    next_day = day_start + DAY

    after = search(intercom, CONTACTS, eq("updated_at", moment, ">"))
    assert set(after) == contacts_where(ws, lambda c: c.updated_at >= next_day)
    assert pivot.id not in after  # later that day, but `>` starts at the next midnight

    same_day = search(intercom, CONTACTS, eq("updated_at", moment))
    assert set(same_day) == contacts_where(ws, lambda c: day_start <= c.updated_at < next_day)
    assert pivot.id in same_day

    before = search(intercom, CONTACTS, eq("updated_at", moment, "<"))
    assert set(before) == contacts_where(ws, lambda c: c.updated_at < day_start)


@pytest.mark.parametrize("operator", [">=", "<=", "!="])
def test_contact_dates_reject_other_operators(intercom: SandboxClient, operator: str) -> None:
    response = intercom.post(
        "/contacts/search", json={"query": eq("updated_at", 1_790_000_000, operator)}
    )
    assert response.status_code == 400
    assert error_codes(response) == ["parameter_invalid"]


def test_conversation_dates_have_second_precision(intercom: SandboxClient, ws: Workspace) -> None:
    ordered = sorted(ws.conversations, key=lambda c: c.created_at)
    pivot = ordered[len(ordered) // 2]
    moment = pivot.created_at - 1
    after = search(intercom, CONVERSATIONS, eq("created_at", moment, ">"))
    assert set(after) == conversations_where(ws, lambda c: c.created_at > moment)
    assert pivot.id in after  # one second later on the same day still matches
    before = search(intercom, CONVERSATIONS, eq("created_at", pivot.created_at, "<"))
    assert set(before) == conversations_where(ws, lambda c: c.created_at < pivot.created_at)
    assert pivot.id not in before
    refused = intercom.post("/conversations/search", json={"query": eq("created_at", 1, ">=")})
    assert refused.status_code == 400


def test_ticket_created_at_accepts_greater_or_equal(intercom: SandboxClient, ws: Workspace) -> None:
    pivot = sorted(t.created_at for t in ws.tickets)[len(ws.tickets) // 2]
    found = search(intercom, TICKETS, eq("created_at", pivot, ">="))
    assert set(found) == {t.id for t in ws.tickets if t.created_at >= pivot}


def test_custom_attribute_filters(intercom: SandboxClient, ws: Workspace) -> None:
    found = search(intercom, CONTACTS, eq("custom_attributes.plan", "Enterprise"))
    assert set(found) == contacts_where(
        ws, lambda c: c.custom_attributes.get("plan") == "Enterprise"
    )
    found = search(intercom, CONTACTS, eq("custom_attributes.seats", 120, ">"))
    assert set(found) == contacts_where(ws, lambda c: c.custom_attributes.get("seats", 0) > 120)
    refused = intercom.post(
        "/contacts/search", json={"query": eq("custom_attributes.seats", "many")}
    )
    assert refused.status_code == 400


def test_contact_tag_id(intercom: SandboxClient, ws: Workspace) -> None:
    tag_id = max(
        {t.tag_id for c in ws.contacts for t in c.tags},
        key=lambda i: sum(any(t.tag_id == i for t in c.tags) for c in ws.contacts),
    )
    tagged = search(intercom, CONTACTS, eq("tag_id", tag_id))
    assert set(tagged) == contacts_where(ws, lambda c: any(t.tag_id == tag_id for t in c.tags))
    untagged = search(intercom, CONTACTS, eq("tag_id", tag_id, "!="))
    assert set(untagged) == contacts_where(ws, lambda c: all(t.tag_id != tag_id for t in c.tags))
    refused = intercom.post("/contacts/search", json={"query": eq("tag_id", [tag_id], "IN")})
    assert refused.status_code == 400


def test_conversation_tag_ids(intercom: SandboxClient, ws: Workspace) -> None:
    used = sorted({t.tag_id for c in ws.conversations for t in c.tags})
    assert len(used) >= 2
    found = search(intercom, CONVERSATIONS, eq("tag_ids", used[0]))
    assert set(found) == conversations_where(ws, lambda c: any(t.tag_id == used[0] for t in c.tags))
    pair = used[:2]
    found = search(intercom, CONVERSATIONS, eq("tag_ids", pair, "IN"))
    assert set(found) == conversations_where(ws, lambda c: any(t.tag_id in pair for t in c.tags))


@pytest.mark.parametrize("order", ["ascending", "descending"])
def test_sort_order(intercom: SandboxClient, ws: Workspace, order: str) -> None:
    sort = {"field": "last_seen_at", "order": order}
    found = search(intercom, CONTACTS, eq("role", "lead"), sort)
    leads = [c for c in ws.contacts if c.visible and c.role == "lead"]
    expected = sorted(leads, key=lambda c: (c.last_seen_at, c.id), reverse=order == "descending")
    assert found == [c.id for c in expected]
    found = search(
        intercom, CONVERSATIONS, eq("state", "open"), {"field": "updated_at", "order": order}
    )
    conversations = [c for c in ws.conversations if c.state == "open"]
    expected_conversations = sorted(
        conversations, key=lambda c: (c.updated_at, c.id), reverse=order == "descending"
    )
    assert found == [c.id for c in expected_conversations]


def test_default_sort_is_descending(intercom: SandboxClient) -> None:
    body = {"query": eq("role", "user"), "pagination": {"per_page": 150}}
    default = ids(intercom.post("/contacts/search", json=body).json()["data"])
    explicit = intercom.post(
        "/contacts/search", json={**body, "sort": {"field": "created_at", "order": "descending"}}
    )
    assert default == ids(explicit.json()["data"])
    ascending = intercom.post(
        "/contacts/search", json={**body, "sort": {"field": "created_at", "order": "ascending"}}
    )
    assert default != ids(ascending.json()["data"])


@pytest.mark.parametrize("order", ["asc", "DESC", "up"])
def test_invalid_sort_order(intercom: SandboxClient, order: str) -> None:
    response = intercom.post(
        "/contacts/search",
        json={"query": eq("role", "user"), "sort": {"field": "created_at", "order": order}},
    )
    assert response.status_code == 400
    assert error_codes(response) == ["invalid_sort_order"]


def nested(depth: int) -> dict[str, Any]:
    """A query whose innermost group sits `depth` levels below the top-level group."""
    query: dict[str, Any] = {"operator": "OR", "value": [eq("role", "user"), eq("role", "lead")]}
    for _ in range(depth):
        query = {"operator": "AND", "value": [eq("role", "user"), query]}
    return query


def test_nesting_limits(intercom: SandboxClient, ws: Workspace) -> None:
    deepest = intercom.post("/contacts/search", json={"query": nested(2)})
    assert deepest.status_code == 200
    users = sum(c.visible and c.role == "user" for c in ws.contacts)
    assert deepest.json()["total_count"] == users
    too_deep = intercom.post("/contacts/search", json={"query": nested(3)})
    assert too_deep.status_code == 400
    assert error_codes(too_deep) == ["parameter_invalid"]


def test_group_size_limit(intercom: SandboxClient, ws: Workspace) -> None:
    names = sorted({c.email for c in ws.contacts if c.visible})[:16]
    fifteen = {"operator": "OR", "value": [eq("email", e) for e in names[:15]]}
    allowed = intercom.post("/contacts/search", json={"query": fifteen})
    assert allowed.status_code == 200
    assert sorted(ids(allowed.json()["data"])) == sorted(
        c.id for c in ws.contacts if c.visible and c.email in names[:15]
    )
    sixteen = {"operator": "OR", "value": [eq("email", e) for e in names]}
    refused = intercom.post("/contacts/search", json={"query": sixteen})
    assert refused.status_code == 400
    assert error_codes(refused) == ["parameter_invalid"]


def test_unknown_field_and_missing_query(intercom: SandboxClient) -> None:
    unknown = intercom.post("/contacts/search", json={"query": eq("shoe_size", "42")})
    assert unknown.status_code == 400
    assert error_codes(unknown) == ["parameter_invalid"]
    missing = intercom.post("/contacts/search", json={"pagination": {"per_page": 5}})
    assert missing.status_code == 400
    assert error_codes(missing) == ["parameter_not_found"]
