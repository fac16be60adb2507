"""Moving the clock: what changes shows up through the API, timestamped inside the move."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from intercom_sandbox import SandboxConfig
from intercom_sandbox.workspace import Workspace
from tests.conftest import SandboxClient
from tests.sandbox.helpers import error_codes, ids, walk_cursor_list, walk_search


@pytest.fixture
def sandbox_config() -> SandboxConfig:
    return SandboxConfig(seed=1, scale="tiny")


class Snapshot:
    """Timestamps of everything before a clock move, to find what the move changed."""

    def __init__(self, ws: Workspace) -> None:
        self.now = ws.now
        self.conversations = {c.id: (c.updated_at, len(c.parts)) for c in ws.conversations}
        self.contacts = {c.id: c.updated_at for c in ws.contacts}
        self.companies = {c.id: c.updated_at for c in ws.companies}

    def assert_changes_inside(self, ws: Workspace, end: int) -> int:
        """Every new or changed timestamp lies in (old now, new now]; returns how many changed."""
        inside = range(self.now + 1, end + 1)
        changed = 0
        for c in ws.conversations:
            before_updated, before_parts = self.conversations.get(c.id, (None, 0))
            if c.updated_at != before_updated:
                changed += 1
                assert c.updated_at in inside, (c.id, c.updated_at)
            for part in c.parts[before_parts:]:
                assert part.created_at in inside, (c.id, part.part_type, part.created_at)
            for tag in c.tags:
                assert tag.applied_at <= end
        for contact in ws.contacts:
            if contact.updated_at != self.contacts.get(contact.id):
                changed += 1
                assert contact.updated_at in inside, (contact.id, contact.updated_at)
            if contact.deleted_at is not None:
                assert contact.deleted_at in inside
        for company in ws.companies:
            if company.updated_at != self.companies[company.id]:
                changed += 1
                assert company.updated_at in inside
        return changed


def advance(client: SandboxClient, seconds: int, activity: dict[str, Any] | None) -> dict[str, Any]:
    body: dict[str, Any] = {"seconds": seconds}
    if activity is not None:
        body["activity"] = activity
    return client.control("POST", "/clock/advance", body)


def test_a_busy_hour_through_the_api(intercom: SandboxClient, ws: Workspace) -> None:
    before = Snapshot(ws)
    seats_holders = {c.id for c in ws.contacts if c.visible and "seats" in c.custom_attributes}
    moved = advance(
        intercom,
        3_600,
        {
            "new_conversations": 4,
            "closes": 3,
            "reopens": 2,
            "merges": 2,
            "attribute_type_change": {"name": "seats", "to": "string", "contacts": 5},
        },
    )
    end = moved["now"]
    assert end == before.now + 3_600
    changes = moved["changes"]
    window = range(before.now + 1, end + 1)
    assert before.assert_changes_inside(ws, end) > 0

    # An incremental conversations search finds exactly what moved.
    touched = {*changes["new_conversations"], *changes["closed"], *changes["reopened"]}
    assert (len(changes["new_conversations"]), len(changes["closed"])) == (4, 3)
    assert len(changes["reopened"]) == 2
    query = {"field": "updated_at", "operator": ">", "value": before.now}
    found = walk_search(intercom, "/conversations/search", "conversations", query, per_page=5)
    assert set(ids(found)) == touched
    assert all(c["updated_at"] in window for c in found)

    for conversation_id in changes["new_conversations"]:
        body = intercom.get(f"/conversations/{conversation_id}").json()
        assert conversation_id not in before.conversations
        assert body["created_at"] in window
        assert (body["state"], body["open"]) == ("open", True)
    for conversation_id in changes["closed"]:
        body = intercom.get(f"/conversations/{conversation_id}").json()
        assert (body["state"], body["open"]) == ("closed", False)
        last = body["conversation_parts"]["conversation_parts"][-1]
        assert last["part_type"] == "close"
        assert last["created_at"] in window
        assert body["statistics"]["last_close_at"] == last["created_at"]
    for conversation_id in changes["reopened"]:
        body = intercom.get(f"/conversations/{conversation_id}").json()
        assert (body["state"], body["open"]) == ("open", True)
        last = body["conversation_parts"]["conversation_parts"][-1]
        assert last["part_type"] == "comment"
        assert last["author"]["type"] in ("user", "lead")
        assert last["created_at"] in window
        assert body["statistics"]["count_reopens"] >= 1

    # The attribute changed type, and so did the values of the contacts it names.
    retyped = changes["retyped_attribute"]
    assert (retyped["name"], retyped["from"], retyped["to"]) == ("seats", "integer", "string")
    attributes = intercom.get("/data_attributes", params={"model": "contact"}).json()["data"]
    seats = next(a for a in attributes if a["name"] == "seats")
    assert seats["data_type"] == "string"
    assert seats["updated_at"] in window
    assert len(retyped["contacts"]) == 5
    assert set(retyped["contacts"]) <= seats_holders
    for contact_id in retyped["contacts"]:
        contact = intercom.get(f"/contacts/{contact_id}").json()
        assert isinstance(contact["custom_attributes"]["seats"], str)
        assert contact["updated_at"] in window

    # Merged contacts answer 410 and point at the contact they were merged into.
    assert len(changes["merged_contacts"]) == 2
    for contact_id in changes["merged_contacts"]:
        response = intercom.get(f"/contacts/{contact_id}")
        assert response.status_code == 410
        assert error_codes(response) == ["contact_merged"]
        target = ws.contact_by_id[contact_id].merged_into
        assert response.headers["Link"] == f'</contacts/{target}>; rel="canonical"'
        assert intercom.get(f"/contacts/{target}").json()["updated_at"] in window


def test_new_conversations_lead_the_conversations_list(
    intercom: SandboxClient, ws: Workspace
) -> None:
    changes = advance(intercom, 900, {"new_conversations": 3})["changes"]
    page = intercom.get("/conversations", params={"per_page": 3}).json()
    assert set(ids(page["conversations"])) == set(changes["new_conversations"])
    assert page["total_count"] == len(ws.conversations)


def test_the_default_activity_keeps_inside_the_move(intercom: SandboxClient, ws: Workspace) -> None:
    before = Snapshot(ws)
    moved = advance(intercom, 7_200, None)
    changes = moved["changes"]
    for kind in (
        "new_conversations",
        "replied",
        "closed",
        "new_contacts",
        "deleted_contacts",
        "deleted_conversations",
        "activity_logs",
    ):
        assert changes[kind], kind
    assert before.assert_changes_inside(ws, moved["now"]) >= len(changes["new_conversations"])
    deleted = changes["deleted_companies"]
    assert deleted
    listed = intercom.get("/companies", params={"per_page": 60}).json()
    assert not set(deleted) & set(ids(listed["data"]))
    assert listed["total_count"] == len(ws.companies) - len(deleted)


def test_a_one_second_move_never_stamps_past_the_clock(
    intercom: SandboxClient, ws: Workspace
) -> None:
    """Replies and closes on the same conversations within one second stay at the new now."""
    before = Snapshot(ws)
    moved = advance(intercom, 1, {"replies": 10_000, "closes": 10_000, "tags": 10_000})
    changes = moved["changes"]
    assert set(changes["replied"]) & set(changes["closed"])
    before.assert_changes_inside(ws, moved["now"])
    for conversation_id in changes["closed"][:5]:
        body = intercom.get(f"/conversations/{conversation_id}").json()
        assert body["updated_at"] == moved["now"]
        assert body["state"] == "closed"


def test_bad_moves_are_refused_and_change_nothing(intercom: SandboxClient, ws: Workspace) -> None:
    before = Snapshot(ws)
    for body in (
        {"seconds": 0},
        {"seconds": 60, "activity": {"volcanoes": 1}},
        {"seconds": 60, "activity": {"attribute_type_change": {"name": "nope", "to": "string"}}},
    ):
        with pytest.raises(requests.HTTPError):
            intercom.control("POST", "/clock/advance", body)
    assert ws.now == before.now
    assert before.assert_changes_inside(ws, ws.now) == 0


def listed_conversations(client: SandboxClient) -> list[dict[str, Any]]:
    return walk_cursor_list(client, "/conversations", "conversations", per_page=150)[0]


def assert_ids_follow_creation(conversations: list[dict[str, Any]]) -> None:
    """Ids are unique, and in id order the creation times never go back."""
    by_id = sorted(conversations, key=lambda c: int(c["id"]))
    assert len({c["id"] for c in by_id}) == len(by_id)
    created = [c["created_at"] for c in by_id]
    assert created == sorted(created)


def test_conversation_ids_grow_with_creation_time(intercom: SandboxClient, ws: Workspace) -> None:
    before = listed_conversations(intercom)
    assert len(before) == len(ws.conversations) == 300
    assert_ids_follow_creation(before)
    changes = advance(intercom, 3_600, {"new_conversations": 6, "replies": 3})["changes"]
    after = listed_conversations(intercom)
    assert_ids_follow_creation(after)
    new = changes["new_conversations"]
    assert len(new) == 6
    assert min(int(i) for i in new) > max(int(c["id"]) for c in before)
    assert set(ids(after)) == set(ids(before)) | set(new)


def test_tickets_and_conversations_still_link_to_each_other(
    intercom: SandboxClient, ws: Workspace
) -> None:
    linked = [t for t in ws.tickets if t.conversation_id]
    assert linked
    for ticket in linked:
        body = intercom.get(f"/tickets/{ticket.id}").json()
        conversation_id = body["linked_objects"]["data"][0]["id"]
        assert conversation_id == ticket.conversation_id
        conversation = intercom.get(f"/conversations/{conversation_id}").json()
        assert conversation["linked_objects"]["data"][0]["id"] == ticket.id
        assert conversation["created_at"] <= ticket.created_at


def all_activity_logs(client: SandboxClient, after: int) -> list[dict[str, Any]]:
    """Every admin activity log created after `after`, newest first, page by page."""
    logs: list[dict[str, Any]] = []
    for page in range(1, 100):
        params = {"created_at_after": after, "per_page": 250, "page": page}
        body = client.get("/admins/activity_logs", params=params).json()
        logs += body["activity_logs"]
        if body["pages"]["next"] is None:
            return logs
    raise AssertionError("the activity logs did not end within 100 pages")


def test_activity_logs_keep_through_clock_moves(intercom: SandboxClient, ws: Workspace) -> None:
    start = ws.now
    before = all_activity_logs(intercom, 0)
    assert len(before) == len(ws.admins) * 121
    moved = advance(intercom, 3_600, {"activity_logs": 4})
    new = moved["changes"]["activity_logs"]
    assert len(new) == 4
    assert min(int(i) for i in new) > max(int(log["id"]) for log in before)
    after = all_activity_logs(intercom, 0)
    assert after[4:] == before  # every older log kept, unchanged
    assert ids(after[:4]) == new[::-1]  # newest first
    assert all(start < log["created_at"] <= moved["now"] for log in after[:4])
    assert ids(all_activity_logs(intercom, start)) == new[::-1]

    second = advance(intercom, 3_600, None)["changes"]["activity_logs"]
    assert len(second) >= 3  # a busy hour has a few
    assert all_activity_logs(intercom, 0)[len(second) :] == after


def test_changes_between_two_moments_of_the_clock(intercom: SandboxClient, ws: Workspace) -> None:
    start = ws.now
    first = advance(intercom, 600, {"new_conversations": 2, "replies": 2})
    second = advance(intercom, 600, {"new_conversations": 3, "contact_updates": 2})
    middle, end = first["now"], second["now"]

    def between(query: str) -> dict[str, Any]:
        return intercom.control("GET", f"/changes?{query}")

    assert between(f"since={start}&until={middle}")["changes"] == first["changes"]
    assert between(f"since={middle}")["changes"] == second["changes"]
    both = between(f"since={start}")
    assert (both["since"], both["until"]) == (start, end)
    new = both["changes"]["new_conversations"]
    assert new == first["changes"]["new_conversations"] + second["changes"]["new_conversations"]
    assert both["changes"]["updated_contacts"] == second["changes"]["updated_contacts"]
    status = intercom.control("GET", "/status")["clock"]
    assert (status["mode"], status["moves"]) == ("fixed", 2)
    assert (status["changed"]["new_conversations"], status["changed"]["replied"]) == (5, 2)
    response = requests.get(f"{intercom.base_url}/_sandbox/changes", timeout=30)
    assert response.status_code == 400
    assert "since" in response.json()["error"]
