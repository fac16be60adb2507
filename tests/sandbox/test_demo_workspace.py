"""The demo-scale workspace has the shape the project promises, seen through the API."""

from __future__ import annotations

from typing import Any

import pytest

from intercom_sandbox import SandboxConfig
from intercom_sandbox.workspace import Workspace
from tests.conftest import SandboxClient
from tests.sandbox.helpers import ids, walk_search


@pytest.fixture
def sandbox_config() -> SandboxConfig:
    return SandboxConfig(seed=1, scale="demo")


def count(client: SandboxClient, path: str, query: dict[str, Any]) -> int:
    body = {"query": query, "pagination": {"per_page": 1}}
    response = client.post(path, json=body)
    assert response.status_code == 200, response.text
    return response.json()["total_count"]


def eq(field: str, value: Any, operator: str = "=") -> dict[str, Any]:
    return {"field": field, "operator": operator, "value": value}


def test_conversations_over_500_parts_return_the_500_most_recent(
    intercom: SandboxClient, ws: Workspace
) -> None:
    huge = [c for c in ws.conversations if len(c.parts) > 500]
    assert len(huge) == 3
    found = walk_search(
        intercom,
        "/conversations/search",
        "conversations",
        eq("statistics.count_conversation_parts", 500, ">"),
        per_page=10,
    )
    assert set(ids(found)) == {c.id for c in huge}
    for conversation in huge:
        body = intercom.get(f"/conversations/{conversation.id}").json()
        parts = body["conversation_parts"]
        assert parts["total_count"] == 500
        assert len(parts["conversation_parts"]) == 500
        assert [p["id"] for p in parts["conversation_parts"]] == [
            str(p.id) for p in conversation.parts[-500:]
        ]
        assert parts["conversation_parts"][-1]["id"] == str(conversation.parts[-1].id)
        stamps = [p["created_at"] for p in parts["conversation_parts"]]
        assert stamps == sorted(stamps)
        assert body["statistics"]["count_conversation_parts"] == len(conversation.parts) > 500
    small = next(c for c in ws.conversations if 5 < len(c.parts) < 500)
    body = intercom.get(f"/conversations/{small.id}").json()
    assert body["conversation_parts"]["total_count"] == len(small.parts)
    assert body["statistics"]["count_conversation_parts"] == len(small.parts)


def test_admins_and_teams(intercom: SandboxClient) -> None:
    admins = intercom.get("/admins").json()["admins"]
    teams = intercom.get("/teams").json()["teams"]
    assert 20 <= len(admins) < 100
    assert 5 <= len(teams) < 100
    admin_ids = {int(a["id"]) for a in admins}
    for team in teams:
        assert len(team["admin_ids"]) >= 2
        assert set(team["admin_ids"]) <= admin_ids
    # Membership agrees both ways.
    from_admins = {(int(a["id"]), t) for a in admins for t in a["team_ids"]}
    from_teams = {(a, int(t["id"])) for t in teams for a in t["admin_ids"]}
    assert from_admins == from_teams


def test_contacts_users_leads_and_custom_attributes(intercom: SandboxClient) -> None:
    total = intercom.get("/contacts", params={"per_page": 1}).json()["total_count"]
    assert 1_900 <= total <= 2_000
    users = count(intercom, "/contacts/search", eq("role", "user"))
    leads = count(intercom, "/contacts/search", eq("role", "lead"))
    assert users + leads == total
    assert 0.6 < users / total < 0.8
    attributes = intercom.get("/data_attributes", params={"model": "contact"}).json()["data"]
    custom_types = {a["data_type"] for a in attributes if a["custom"]}
    assert {"string", "integer", "float", "boolean", "date"} <= custom_types
    page = intercom.get("/contacts", params={"per_page": 150}).json()["data"]
    value_types = {
        type(v).__name__ for c in page for v in c["custom_attributes"].values() if v is not None
    }
    assert {"str", "int", "float", "bool"} <= value_types


def test_companies_and_conversations_counts(intercom: SandboxClient) -> None:
    assert intercom.get("/companies", params={"per_page": 1}).json()["total_count"] == 300
    listed = intercom.get("/conversations", params={"per_page": 1}).json()
    assert listed["total_count"] == 3_000


def test_about_a_third_of_closed_conversations_are_rated(intercom: SandboxClient) -> None:
    path = "/conversations/search"
    closed = count(intercom, path, eq("state", "closed"))
    rated = count(
        intercom,
        path,
        {
            "operator": "AND",
            "value": [eq("state", "closed"), eq("conversation_rating.score", 0, ">")],
        },
    )
    assert closed > 1_000
    assert 0.25 <= rated / closed <= 0.45
    all_rated = count(intercom, path, eq("conversation_rating.score", 0, ">"))
    assert all_rated >= rated
    page = intercom.post(
        path,
        json={"query": eq("conversation_rating.score", 0, ">"), "pagination": {"per_page": 50}},
    ).json()["conversations"]
    assert all(1 <= c["conversation_rating"]["rating"] <= 5 for c in page)


def test_suppression_tags_exist_and_are_used(intercom: SandboxClient) -> None:
    tags = {t["name"]: t["id"] for t in intercom.get("/tags").json()["data"]}
    for name in ("fraud", "dupe"):
        assert name in tags
        tagged = count(intercom, "/conversations/search", eq("tag_ids", tags[name]))
        assert 0 < tagged < 300


def test_tickets_and_conversations_link_both_ways(intercom: SandboxClient) -> None:
    tickets = walk_search(
        intercom, "/tickets/search", "tickets", eq("created_at", 0, ">"), per_page=150
    )
    linked = [t for t in tickets if t["linked_objects"]["data"]]
    assert len(linked) > 50
    assert len(linked) < len(tickets)  # back-office tickets have no conversation
    for ticket in linked[:30]:
        link = ticket["linked_objects"]["data"][0]
        assert link["type"] == "conversation"
        conversation = intercom.get(f"/conversations/{link['id']}").json()
        back = conversation["linked_objects"]["data"]
        assert [(o["type"], o["id"]) for o in back] == [("ticket", ticket["id"])]
        assert ticket["category"] == "Customer"


def test_slas_are_applied(intercom: SandboxClient) -> None:
    page = intercom.get("/conversations", params={"per_page": 150}).json()["conversations"]
    applied = [c["sla_applied"] for c in page if c["sla_applied"] is not None]
    assert 0.2 * len(page) < len(applied) < 0.6 * len(page)
    assert {s["type"] for s in applied} == {"conversation_sla_summary"}
    assert {s["sla_name"] for s in applied} <= {
        "First response 1h",
        "VIP 30 minutes",
        "Standard 8h",
    }
    assert {s["sla_status"] for s in applied} <= {"hit", "missed", "active", "cancelled", None}
    assert {"hit", "missed"} <= {s["sla_status"] for s in applied}
