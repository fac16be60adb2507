"""Merged and deleted contacts, data events, and the write operations."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from intercom_sandbox import SandboxConfig
from intercom_sandbox.model import Contact
from intercom_sandbox.workspace import DAY, Workspace
from tests.conftest import SandboxClient
from tests.sandbox.helpers import error_codes, ids, visible_contact_ids, walk_cursor_list


@pytest.fixture
def sandbox_config() -> SandboxConfig:
    return SandboxConfig(seed=1, scale="tiny")


def a_user(ws: Workspace, index: int = 0) -> Contact:
    return [c for c in ws.contacts if c.visible and c.role == "user"][index]


# --- merged, unknown and deleted contacts ---------------------------------------------------


def test_merged_contact_is_410_with_a_canonical_link(
    intercom: SandboxClient, ws: Workspace
) -> None:
    merged = next(c for c in ws.contacts if c.merged_into is not None)
    response = intercom.get(f"/contacts/{merged.id}")
    assert response.status_code == 410
    assert error_codes(response) == ["contact_merged"]
    assert response.headers["Link"] == f'</contacts/{merged.merged_into}>; rel="canonical"'
    canonical = intercom.get(f"/contacts/{merged.merged_into}")
    assert canonical.status_code == 200
    assert canonical.json()["id"] == merged.merged_into
    for sub in ("tags", "companies", "segments"):
        assert intercom.get(f"/contacts/{merged.id}/{sub}").status_code == 410


def test_unknown_contact_is_404(intercom: SandboxClient) -> None:
    response = intercom.get("/contacts/0123456789abcdef01234567")
    assert response.status_code == 404
    assert error_codes(response) == ["not_found"]
    assert intercom.get("/conversations/1").status_code == 404
    assert error_codes(intercom.get("/tickets/1")) == ["ticket_not_found"]


def test_contacts_deleted_by_the_clock_disappear(intercom: SandboxClient, ws: Workspace) -> None:
    before = visible_contact_ids(ws)
    changes = intercom.control(
        "POST", "/clock/advance", {"seconds": 600, "activity": {"contact_deletions": 3}}
    )["changes"]
    deleted = changes["deleted_contacts"]
    assert len(deleted) == 3
    assert set(deleted) <= before
    contacts, _ = walk_cursor_list(intercom, "/contacts", "data", per_page=150)
    assert set(ids(contacts)) == before - set(deleted)
    for contact_id in deleted:
        response = intercom.get(f"/contacts/{contact_id}")
        assert response.status_code == 404
        assert error_codes(response) == ["not_found"]
    search = intercom.post(
        "/contacts/search",
        json={"query": {"field": "id", "operator": "IN", "value": deleted}},
    )
    assert search.json()["total_count"] == 0


# --- data events -----------------------------------------------------------------------------


def event_summary(client: SandboxClient, contact_id: str) -> dict[str, dict[str, Any]]:
    response = client.get(
        "/events", params={"type": "user", "intercom_user_id": contact_id, "summary": "true"}
    )
    assert response.status_code == 200
    body = response.json()
    assert body["type"] == "event.summary"
    assert body["intercom_user_id"] == contact_id
    return {e["name"]: e for e in body["events"]}


def event_list(client: SandboxClient, contact_id: str) -> list[dict[str, Any]]:
    response = client.get("/events", params={"type": "user", "intercom_user_id": contact_id})
    assert response.status_code == 200
    assert response.json()["type"] == "event.list"
    return response.json()["events"]


def post_event(client: SandboxClient, **body: Any) -> Any:
    return client.post("/events", json=body)


def test_events_are_accepted_and_duplicates_dropped(intercom: SandboxClient, ws: Workspace) -> None:
    user = a_user(ws)
    at = ws.now - 3 * DAY
    created = post_event(intercom, event_name="ordered-pizza", created_at=at, id=user.id)
    assert created.status_code == 202
    assert created.content == b""
    assert event_summary(intercom, user.id)["ordered-pizza"]["count"] == 1
    # Same contact, name and created_at, even through user_id: silently dropped.
    again = post_event(
        intercom, event_name="ordered-pizza", created_at=at, user_id=user.external_id
    )
    assert again.status_code == 202
    assert event_summary(intercom, user.id)["ordered-pizza"]["count"] == 1
    later = post_event(intercom, event_name="ordered-pizza", created_at=at + 60, email=user.email)
    assert later.status_code == 202
    summary = event_summary(intercom, user.id)["ordered-pizza"]
    assert summary["count"] == 2
    assert datetime.fromisoformat(summary["first"]).timestamp() == at
    assert datetime.fromisoformat(summary["last"]).timestamp() == at + 60
    assert summary["first"].endswith("Z")
    writes = intercom.control("GET", "/stats")["writes"]
    assert [(w["method"], w["path"]) for w in writes] == [("POST", "/events")] * 3
    summary = intercom.control("GET", "/stats/summary")  # counters only, for pollers
    assert "writes" not in summary
    assert (summary["write_count"], summary["calls"]["POST /events"]) == (3, 3)


def test_event_metadata_keeps_ten_keys(intercom: SandboxClient, ws: Workspace) -> None:
    user = a_user(ws, 1)
    metadata = {f"key_{n:02d}": n for n in range(12)}
    response = post_event(
        intercom, event_name="big-event", created_at=ws.now - 60, id=user.id, metadata=metadata
    )
    assert response.status_code == 202
    stored = next(e for e in event_list(intercom, user.id) if e["event_name"] == "big-event")
    assert stored["metadata"] == {f"key_{n:02d}": n for n in range(10)}
    nested = post_event(
        intercom, event_name="bad", created_at=ws.now, id=user.id, metadata={"a": {"b": 1}}
    )
    assert nested.status_code == 400


def test_event_for_an_unknown_user_is_404(intercom: SandboxClient, ws: Workspace) -> None:
    for who in ({"id": "0" * 24}, {"user_id": "nobody"}, {"email": "nobody@nowhere.example"}):
        response = post_event(intercom, event_name="x", created_at=ws.now, **who)
        assert response.status_code == 404
        assert error_codes(response) == ["not_found"]


def test_only_recent_events_are_listed(intercom: SandboxClient, ws: Workspace) -> None:
    user = a_user(ws, 2)
    old, recent = ws.now - 100 * DAY, ws.now - 89 * DAY
    for at in (old, recent):
        assert post_event(intercom, event_name="logged-in", created_at=at, id=user.id).ok
    listed = [e for e in event_list(intercom, user.id) if e["event_name"] == "logged-in"]
    assert [e["created_at"] for e in listed] == [recent]
    assert listed[0]["intercom_user_id"] == user.id
    assert listed[0]["user_id"] == user.external_id
    assert event_summary(intercom, user.id)["logged-in"]["count"] == 2


# --- writes ----------------------------------------------------------------------------------


def test_create_contact_then_get_it(intercom: SandboxClient, ws: Workspace) -> None:
    body = {"role": "lead", "email": "new.person@example.org", "name": "New Person"}
    created = intercom.post("/contacts", json=body)
    assert created.status_code == 200
    contact = created.json()
    assert (contact["role"], contact["email"], contact["name"]) == (
        "lead",
        "new.person@example.org",
        "New Person",
    )
    assert contact["created_at"] == ws.now
    fetched = intercom.get(f"/contacts/{contact['id']}").json()
    assert fetched == contact
    assert contact["id"] in visible_contact_ids(ws)


def test_duplicate_email_is_409_naming_the_existing_contact(
    intercom: SandboxClient, ws: Workspace
) -> None:
    user = a_user(ws)
    response = intercom.post("/contacts", json={"role": "user", "email": user.email})
    assert response.status_code == 409
    assert error_codes(response) == ["conflict"]
    assert user.id in response.json()["errors"][0]["message"]
    dup_external = intercom.post("/contacts", json={"external_id": user.external_id})
    assert dup_external.status_code == 409


def test_custom_attribute_round_trip_and_type_check(intercom: SandboxClient, ws: Workspace) -> None:
    user = a_user(ws)
    undeclared = intercom.put(
        f"/contacts/{user.id}", json={"custom_attributes": {"favourite_colour": "teal"}}
    )
    assert undeclared.status_code == 400
    attribute = intercom.post(
        "/data_attributes",
        json={"name": "favourite_colour", "model": "contact", "data_type": "string"},
    )
    assert attribute.status_code == 200
    assert attribute.json()["full_name"] == "custom_attributes.favourite_colour"
    listed = intercom.get("/data_attributes", params={"model": "contact"}).json()["data"]
    assert "favourite_colour" in {a["name"] for a in listed}

    updated = intercom.put(
        f"/contacts/{user.id}", json={"custom_attributes": {"favourite_colour": "teal"}}
    )
    assert updated.status_code == 200
    fetched = intercom.get(f"/contacts/{user.id}").json()
    assert fetched["custom_attributes"]["favourite_colour"] == "teal"
    assert fetched["custom_attributes"]["plan"] == user.custom_attributes["plan"]  # kept

    before = intercom.get(f"/contacts/{user.id}").json()
    wrong = intercom.put(
        f"/contacts/{user.id}",
        json={"name": "Renamed", "custom_attributes": {"seats": "lots", "favourite_colour": "red"}},
    )
    assert wrong.status_code == 400
    assert error_codes(wrong) == ["parameter_invalid"]
    assert intercom.get(f"/contacts/{user.id}").json() == before  # nothing changed


def test_tagging_contacts(intercom: SandboxClient, ws: Workspace) -> None:
    first, second = a_user(ws, 3), a_user(ws, 4)
    response = intercom.post(
        "/tags", json={"name": "webinar-2026", "users": [{"id": first.id}, {"id": second.id}]}
    )
    assert response.status_code == 200
    tag = response.json()
    assert tag["name"] == "webinar-2026"
    for contact in (first, second):
        tags = intercom.get(f"/contacts/{contact.id}/tags").json()["data"]
        applied = [t for t in tags if t["id"] == tag["id"]]
        assert len(applied) == 1
        assert applied[0]["applied_at"] == ws.now
        embedded = intercom.get(f"/contacts/{contact.id}").json()["tags"]
        assert tag["id"] in ids(embedded["data"])
    assert "webinar-2026" in {t["name"] for t in intercom.get("/tags").json()["data"]}
    found = intercom.post(
        "/contacts/search", json={"query": {"field": "tag_id", "operator": "=", "value": tag["id"]}}
    ).json()
    assert sorted(ids(found["data"])) == sorted([first.id, second.id])


def test_post_message_is_recorded(intercom: SandboxClient, ws: Workspace) -> None:
    user = a_user(ws)
    admin = ws.admins[0]
    body = {
        "message_type": "email",
        "subject": "Hello",
        "body": "Checking in on your trial",
        "from": {"type": "admin", "id": admin.id},
        "to": {"type": "user", "id": user.id},
    }
    response = intercom.post("/messages", json=body)
    assert response.status_code == 200
    message = response.json()
    assert (message["type"], message["subject"], message["body"]) == (
        "admin_message",
        "Hello",
        "Checking in on your trial",
    )
    assert message["owner"]["id"] == admin.id
    assert [(m.id, m.contact_id, m.admin_id) for m in ws.messages] == [
        (message["id"], user.id, admin.id)
    ]
    no_subject = intercom.post("/messages", json={**body, "subject": None})
    assert no_subject.status_code == 422
    stats = intercom.control("GET", "/stats")
    assert stats["write_count"] == 2
    assert stats["writes"][0]["method"] == "POST"
    assert stats["writes"][0]["path"] == "/messages"
    assert stats["writes"][0]["body"] == body
    assert stats["writes"][0]["at"] == ws.now


def test_searches_are_not_counted_as_writes(intercom: SandboxClient) -> None:
    intercom.post(
        "/contacts/search", json={"query": {"field": "role", "operator": "=", "value": "user"}}
    )
    intercom.post("/companies/list")
    intercom.post("/contacts", json={"email": "solo@example.org"})
    stats = intercom.control("GET", "/stats")
    assert [(w["method"], w["path"], w["body"]) for w in stats["writes"]] == [
        ("POST", "/contacts", {"email": "solo@example.org"})
    ]
