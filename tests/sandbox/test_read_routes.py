"""The read operations added for full client coverage: each answers as the spec says, with the
workspace's own values (a company's contacts are exactly its contacts, and so on)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from intercom_sandbox import RunningSandbox, Sandbox, SandboxConfig
from intercom_sandbox.generate_extras import EVENT_TYPES, handling_events
from intercom_sandbox.model import Contact, Conversation
from intercom_sandbox.workspace import Workspace
from tests.conftest import SandboxClient
from tests.sandbox.spec import COMPANY_CUSTOM_ATTRIBUTES, Defect, SpecChecker, load_spec

MISSING = "5f0000000000000000000000"


@pytest.fixture(scope="module")
def running() -> Iterator[RunningSandbox]:
    with RunningSandbox(Sandbox(SandboxConfig(seed=1, scale="demo"))) as sandbox:
        yield sandbox


@pytest.fixture(scope="module")
def ws(running: RunningSandbox) -> Workspace:
    return running.sandbox.workspace


@pytest.fixture(scope="module")
def client(running: RunningSandbox) -> SandboxClient:
    return SandboxClient(running)


@pytest.fixture(scope="module")
def checker() -> SpecChecker:
    return SpecChecker(load_spec())


def _company_with_contacts(ws: Workspace) -> str:
    return next(c.id for c in ws.visible_companies() if ws.contacts_of_company(c))


def _paths(ws: Workspace) -> list[tuple[str, tuple[Defect, ...]]]:
    """Every added GET, with the documented spec defects its answer needs corrected."""
    company = _company_with_contacts(ws)
    contact = next(c.id for c in ws.visible_contacts())
    return [
        (f"/admins/{ws.admins[0].id}", ()),
        (f"/admins/activity_logs?created_at_after={ws.now - 30 * 86_400}", ()),
        (f"/teams/{ws.teams[0].id}", ()),
        (f"/tags/{ws.tags[0].id}", ()),
        (f"/segments/{ws.segments[0].id}", ()),
        (f"/segments/{ws.segments[0].id}?include_count=true", ()),
        (f"/help_center/help_centers/{ws.help_centers[0].id}", ()),
        (f"/help_center/collections/{ws.collections[0].id}", ()),
        (f"/articles/{ws.articles[0].id}", ()),
        (f"/companies/{company}", (COMPANY_CUSTOM_ATTRIBUTES,)),
        (f"/companies/{company}/contacts", ()),
        (f"/companies/{company}/segments", ()),
        (f"/contacts/{contact}/subscriptions", ()),
        ("/conversations/deleted", ()),
        ("/ticket_types", ()),
        (f"/ticket_types/{ws.ticket_types[0].id}", ()),
        ("/ticket_states", ()),
        ("/admins/activity_log_event_types", ()),
        (f"/conversations/{_handled(ws).id}/handling_events", ()),
        ("/subscription_types", ()),
        (f"/contacts/find_by_external_id/{_with_external_id(ws).external_id}", ()),
    ]


def _handled(ws: Workspace) -> Conversation:
    """A conversation with handling events (the first one has none for some seeds)."""
    return next(c for c in ws.conversations if handling_events(ws, c))


def _with_external_id(ws: Workspace) -> Contact:
    return next(c for c in ws.visible_contacts() if c.external_id)


def test_every_added_read_answers_as_the_spec_says(
    client: SandboxClient, checker: SpecChecker, ws: Workspace
) -> None:
    for path, defects in _paths(ws):
        response = client.get(path)
        assert response.status_code == 200, (path, response.text)
        checker.validate(response, *defects)


@pytest.mark.parametrize(
    "path",
    [
        "/admins/{m}",
        "/teams/{m}",
        "/tags/{m}",
        "/segments/{m}",
        "/companies/{m}",
        "/companies/{m}/contacts",
        "/ticket_types/{m}",
        "/articles/{m}",
        "/help_center/collections/{m}",
    ],
)
def test_unknown_ids_are_404(client: SandboxClient, path: str) -> None:
    response = client.get(path.format(m=MISSING))
    assert response.status_code == 404, response.text
    assert response.json()["type"] == "error.list"


def test_single_objects_match_their_list_entries(client: SandboxClient, ws: Workspace) -> None:
    for listing, key, single in [
        ("/admins", "admins", "/admins/{}"),
        ("/teams", "teams", "/teams/{}"),
        ("/tags", "data", "/tags/{}"),
        ("/segments", "segments", "/segments/{}"),
        ("/help_center/help_centers", "data", "/help_center/help_centers/{}"),
        ("/help_center/collections", "data", "/help_center/collections/{}"),
        ("/articles", "data", "/articles/{}"),
        ("/ticket_types", "data", "/ticket_types/{}"),
    ]:
        for item in client.get(listing).json()[key][:5]:
            assert client.get(single.format(item["id"])).json() == item, single


def test_company_contacts_are_exactly_its_contacts(client: SandboxClient, ws: Workspace) -> None:
    company = ws.company_by_id[_company_with_contacts(ws)]
    body = client.get(f"/companies/{company.id}/contacts", params={"per_page": 150}).json()
    expected = {c.id for c in ws.contacts_of_company(company)}
    assert {c["id"] for c in body["data"]} == expected
    assert body["total_count"] == len(expected)
    single = client.get(f"/companies/{company.id}").json()
    assert single["id"] == company.id and single["company_id"] == company.company_id


def test_ticket_types_and_states_are_the_workspace_ones(
    client: SandboxClient, ws: Workspace
) -> None:
    types = client.get("/ticket_types").json()["data"]
    assert [t["id"] for t in types] == [t.id for t in ws.ticket_types]
    states = client.get("/ticket_states").json()["data"]
    assert [s["id"] for s in states] == [s.id for s in ws.ticket_states]
    used = {t.state_id for t in ws.tickets}
    assert used <= {s["id"] for s in states}


def test_activity_logs_filter_and_page(client: SandboxClient, ws: Workspace) -> None:
    after, before = ws.now - 60 * 86_400, ws.now - 30 * 86_400
    expected = [log for log in ws.activity_logs if after < log["created_at"] < before]
    seen: list[dict] = []
    page = 1
    while True:
        params = {"created_at_after": after, "created_at_before": before, "page": page}
        body = client.get("/admins/activity_logs", params=params).json()
        seen += body["activity_logs"]
        if not body["pages"]["next"]:
            break
        page += 1
    assert expected and sorted(log["id"] for log in seen) == sorted(log["id"] for log in expected)
    assert [log["created_at"] for log in seen] == sorted(
        (log["created_at"] for log in seen), reverse=True
    )
    admin_ids = {a.id for a in ws.admins}
    assert {log["performed_by"]["id"] for log in seen} <= admin_ids


def test_activity_logs_need_created_at_after(client: SandboxClient) -> None:
    response = client.get("/admins/activity_logs")
    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == "parameter_not_found"


def test_activity_logs_are_deterministic_per_seed() -> None:
    first = Sandbox(SandboxConfig(seed=3, scale="tiny")).workspace
    second = Sandbox(SandboxConfig(seed=3, scale="tiny")).workspace
    assert first.activity_logs == second.activity_logs
    assert first.activity_logs != Sandbox(SandboxConfig(seed=4)).workspace.activity_logs


def test_activity_log_search_filters_event_types(
    client: SandboxClient, checker: SpecChecker, ws: Workspace
) -> None:
    after = ws.now - 90 * 86_400
    body = {"created_at_after": after, "event_types": ["admin_logout"], "per_page": 250}
    response = client.post("/admins/activity_logs/search", json=body)
    assert response.status_code == 200, response.text
    checker.validate(response)
    expected = [
        log["id"]
        for log in ws.activity_logs
        if log["created_at"] > after and log["activity_type"] == "admin_logout"
    ]
    answer = response.json()
    assert answer["pages"]["total_pages"] == -(-len(expected) // 250)
    first_page = expected[::-1][:250]
    assert [log["id"] for log in answer["activity_logs"]] == first_page
    bad = client.post("/admins/activity_logs/search", json={"event_types": "admin_logout"})
    assert bad.status_code == 400


def test_activity_log_event_types_cover_the_logs(client: SandboxClient, ws: Workspace) -> None:
    listed = client.get("/admins/activity_log_event_types").json()["event_types"]
    assert listed == list(EVENT_TYPES)
    assert {log["activity_type"] for log in ws.activity_logs} <= set(listed)


def test_handling_events_pair_up_within_the_conversation(
    client: SandboxClient, ws: Workspace
) -> None:
    conversation = _handled(ws)
    events = client.get(f"/conversations/{conversation.id}/handling_events").json()
    kinds = [e["type"] for e in events["handling_events"]]
    assert kinds and kinds == ["paused", "resumed"] * (len(kinds) // 2)
    admin = {e["teammate"]["id"] for e in events["handling_events"]}
    assert admin == {int(conversation.admin_assignee_id)}
    missing = client.get(f"/conversations/{MISSING}/handling_events")
    assert missing.status_code == 404


def test_find_by_external_id(client: SandboxClient, ws: Workspace) -> None:
    contact = _with_external_id(ws)
    found = client.get(f"/contacts/find_by_external_id/{contact.external_id}").json()
    assert found["id"] == contact.id
    assert client.get("/contacts/find_by_external_id/nobody-here").status_code == 404
