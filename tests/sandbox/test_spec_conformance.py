"""Every answer of every sandbox operation, errors included, validated against the official spec.

The spec is /work/shared/intercom-openapi/api.intercom.io.yaml (Intercom API 2.16), loaded once per
session. A response the spec rejects is a sandbox bug, unless intercom_api.md documents the spec
defect: those are named `Defect`s in tests/sandbox/spec.py, passed to `validate()`, which also
proves each one is still needed. Error statuses an operation does not declare are checked against
`components/schemas/error` with the reason written next to them.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Any

import pytest
import requests

from intercom_sandbox import RunningSandbox, Sandbox, SandboxConfig
from intercom_sandbox.workspace import DAY, Workspace
from tests.conftest import SandboxClient
from tests.sandbox.spec import (
    COMPANY_CUSTOM_ATTRIBUTES,
    CONVERSATION_CUSTOM_ATTRIBUTES,
    EVENTS_LIST_SCHEMA,
    Defect,
    SpecChecker,
    load_spec,
)

RATE_LIMIT_HEADERS = ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset")

# Why an error status is checked against `components/schemas/error` instead of the operation.
UNDECLARED_400 = (
    "the spec declares no 400 for this operation; Intercom answers a bad parameter or body with "
    "400 and the error envelope (intercom_api.md §1 'Error envelope')"
)
UNDECLARED_404 = (
    "the spec declares no 404 for this operation; an unknown id is 404 not_found "
    "(intercom_api.md §1 'Error envelope')"
)
UNDECLARED_410 = (
    "the spec declares 410 contact_merged only on GET /contacts/{id}; every operation on a merged "
    "contact answers it (intercom_api.md §1 'Error envelope', §4.3)"
)
UNDECLARED_429 = (
    "the spec declares 429 on no operation; every operation is rate limited "
    "(intercom_api.md §1 'Rate limiting')"
)
UNDECLARED_401 = (
    "the spec declares only 200 for the search operations; every operation needs a valid token "
    "(intercom_api.md §1 'Base URLs, auth and headers')"
)
UNDECLARED_403 = (
    "the spec declares 403 on GET /conversations and GET /conversations/{id} but not on search; "
    "the whole conversations module is plan-restricted (intercom_api.md §1 'Error envelope')"
)
UNDECLARED_409 = (
    "the spec lists only 200 and 401 for POST /contacts; the docs list 409 for an email clash "
    "(intercom_api.md §4.3)"
)
UNDECLARED_TRANSPORT = (
    "transport errors (bad Intercom-Version, unacceptable Accept, injected 5xx) can come from any "
    "operation; the spec declares none of them (intercom_api.md §1)"
)


@pytest.fixture(scope="session")
def checker() -> SpecChecker:
    return SpecChecker(load_spec())


@dataclass(frozen=True)
class Known:
    """Ids of workspace objects the requests below need, found in the generated workspace."""

    contact: str  # a visible user with tags, companies and segments, subscribed to email
    email: str  # that contact's email
    merged: str  # a contact merged into `canonical` (GET gives 410)
    canonical: str
    company_id: str  # a company's own `company_id`
    conversation: str  # a conversation with parts and a company
    ticket: str
    event_contact: str  # a contact with events younger than 90 days
    admin: str
    missing: str = "5f0000000000000000000000"


def find_known(ws: Workspace) -> Known:
    contact = next(
        c
        for c in ws.visible_contacts()
        if c.role == "user"
        and c.tags
        and c.company_ids
        and ws.contact_segments(c)
        and not c.unsubscribed_from_emails
    )
    merged = next(c for c in ws.contacts if c.merged_into and c.deleted_at is None)
    conversation = next(c for c in ws.conversations if c.parts and c.company_id)
    event_contact = next(
        c
        for c in ws.visible_contacts()
        if any(e.created_at >= ws.now - 90 * DAY for e in ws.events_of(c.id))
    )
    return Known(
        contact=contact.id,
        email=contact.email,
        merged=merged.id,
        canonical=ws.resolve_merged(merged).id,
        company_id=ws.visible_companies()[0].company_id,
        conversation=conversation.id,
        ticket=ws.tickets[0].id,
        event_contact=event_contact.id,
        admin=ws.admins[0].id,
    )


@pytest.fixture(scope="module")
def shared_sandbox() -> Iterator[RunningSandbox]:
    """One sandbox for the tests that change nothing (a fresh one per test costs ~0.3 s).

    Tests that write, or change limits, restrictions or faults, use the fresh `intercom` instead.
    """
    with RunningSandbox(Sandbox(SandboxConfig(seed=1, scale="demo"))) as running:
        yield running


@pytest.fixture(scope="module")
def reader(shared_sandbox: RunningSandbox) -> SandboxClient:
    return SandboxClient(shared_sandbox)


@pytest.fixture(scope="module")
def shared_known(shared_sandbox: RunningSandbox) -> Known:
    return find_known(shared_sandbox.sandbox.workspace)


@pytest.fixture
def known(running_sandbox: RunningSandbox) -> Known:
    return find_known(running_sandbox.sandbox.workspace)


def call(
    client: SandboxClient, known: Known, method: str, path: str, body: Any = None
) -> requests.Response:
    """`path` and `body` may hold `{contact}`-style names of `Known` fields."""
    values = asdict(known)
    return client.request(method, path.format(**values), json=_fill(body, values))


def _fill(body: Any, values: dict[str, str]) -> Any:
    if isinstance(body, str):
        return body.format(**values)
    if isinstance(body, dict):
        return {k: _fill(v, values) for k, v in body.items()}
    if isinstance(body, list):
        return [_fill(v, values) for v in body]
    return body


def error_codes(response: requests.Response) -> list[str]:
    return [e["code"] for e in response.json()["errors"]]


def assert_rate_limit_headers(response: requests.Response) -> None:
    for name in RATE_LIMIT_HEADERS:
        assert response.headers.get(name, "").isdigit(), (name, dict(response.headers))


def assert_envelope(body: dict[str, Any], key: str | None, type_: str, item: str | None) -> None:
    assert body["type"] == type_, body.get("type")
    if key is not None:
        assert isinstance(body[key], list) and body[key], f"{key} should be a non-empty list"
        if item is not None:
            assert {i["type"] for i in body[key]} == {item}


# --- reads ---------------------------------------------------------------------------------------

GETS = [
    # path, envelope key, type, item type, documented spec defects to correct
    pytest.param("/me", None, "admin", None, (), id="me"),
    pytest.param("/admins", "admins", "admin.list", "admin", (), id="admins"),
    pytest.param("/teams", "teams", "team.list", "team", (), id="teams"),
    pytest.param("/tags", "data", "list", "tag", (), id="tags"),
    pytest.param("/segments", "segments", "segment.list", "segment", (), id="segments"),
    pytest.param(
        "/segments?include_count=true",
        "segments",
        "segment.list",
        "segment",
        (),
        id="segments-count",
    ),
    pytest.param(
        "/data_attributes?model=contact", "data", "list", "data_attribute", (), id="attrs-contact"
    ),
    pytest.param(
        "/data_attributes?model=company", "data", "list", "data_attribute", (), id="attrs-company"
    ),
    pytest.param("/help_center/help_centers", "data", "list", None, (), id="help-centers"),
    pytest.param("/help_center/collections", "data", "list", None, (), id="collections"),
    pytest.param("/articles", "data", "list", "article", (), id="articles"),
    pytest.param(
        "/companies", "data", "list", "company", (COMPANY_CUSTOM_ATTRIBUTES,), id="companies"
    ),
    pytest.param(
        "/companies?company_id={company_id}",
        "data",
        "list",
        "company",
        (COMPANY_CUSTOM_ATTRIBUTES,),
        id="company-by-company-id",
    ),
    pytest.param("/contacts", "data", "list", "contact", (), id="contacts"),
    pytest.param("/contacts/{contact}", None, "contact", None, (), id="contact"),
    pytest.param("/contacts/{contact}/tags", "data", "list", "tag", (), id="contact-tags"),
    pytest.param(
        "/contacts/{contact}/segments", "data", "list", "segment", (), id="contact-segments"
    ),
    pytest.param(
        "/conversations",
        "conversations",
        "conversation.list",
        "conversation",
        (COMPANY_CUSTOM_ATTRIBUTES, CONVERSATION_CUSTOM_ATTRIBUTES),
        id="conversations",
    ),
    pytest.param(
        "/conversations/{conversation}",
        None,
        "conversation",
        None,
        (COMPANY_CUSTOM_ATTRIBUTES, CONVERSATION_CUSTOM_ATTRIBUTES),
        id="conversation",
    ),
    pytest.param("/tickets/{ticket}", None, "ticket", None, (), id="ticket"),
    pytest.param(
        "/events?type=user&intercom_user_id={event_contact}",
        "events",
        "event.list",
        "event",
        (EVENTS_LIST_SCHEMA,),
        id="events",
    ),
    pytest.param(
        "/events?type=user&intercom_user_id={event_contact}&summary=true",
        "events",
        "event.summary",
        None,
        (),
        id="events-summary",
    ),
]


@pytest.mark.parametrize(("path", "key", "type_", "item", "defects"), GETS)
def test_get_operations_answer_as_the_spec_says(
    reader: SandboxClient,
    checker: SpecChecker,
    shared_known: Known,
    path: str,
    key: str | None,
    type_: str,
    item: str | None,
    defects: tuple[Defect, ...],
) -> None:
    response = call(reader, shared_known, "GET", path)
    assert response.status_code == 200, response.text
    checker.validate(response, *defects)
    assert_rate_limit_headers(response)
    assert_envelope(response.json(), key, type_, item)


def test_segment_counts_only_when_asked(reader: SandboxClient) -> None:
    plain = reader.get("/segments").json()["segments"]
    counted = reader.get("/segments", params={"include_count": "true"}).json()["segments"]
    assert all("count" not in s for s in plain)
    assert all(isinstance(s["count"], int) for s in counted)


def test_data_attributes_keep_to_their_model(reader: SandboxClient) -> None:
    for model in ("contact", "company"):
        data = reader.get("/data_attributes", params={"model": model}).json()["data"]
        assert {a["model"] for a in data} == {model}


def test_company_by_company_id_is_a_one_item_list(
    reader: SandboxClient, shared_known: Known
) -> None:
    body = call(reader, shared_known, "GET", "/companies?company_id={company_id}").json()
    assert body["total_count"] == 1
    assert [c["company_id"] for c in body["data"]] == [shared_known.company_id]


def test_conversation_carries_its_parts(reader: SandboxClient, shared_known: Known) -> None:
    body = call(reader, shared_known, "GET", "/conversations/{conversation}").json()
    parts = body["conversation_parts"]
    assert parts["type"] == "conversation_part.list"
    assert len(parts["conversation_parts"]) == parts["total_count"] > 0
    listed = reader.get("/conversations").json()["conversations"]
    assert all("conversation_parts" not in c for c in listed)


def test_contact_companies_are_under_data_not_companies(
    reader: SandboxClient, checker: SpecChecker, shared_known: Known
) -> None:
    """Documented defect (intercom_api.md §3 "Contact's companies"): `contact_attached_companies`
    names the array `companies`, its example (and Intercom) use `data`. openapi-core accepts the
    answer because no key is required, which leaves the companies unchecked; so the body is also
    validated with `data` read as `companies`."""
    response = call(reader, shared_known, "GET", "/contacts/{contact}/companies")
    assert response.status_code == 200, response.text
    checker.validate(response)
    assert_rate_limit_headers(response)
    body = response.json()
    assert_envelope(body, "data", "list", "company")
    assert "companies" not in body
    schema = checker.spec["components"]["schemas"]["contact_attached_companies"]
    assert "data" not in schema["properties"], "the spec now names `data`: drop this workaround"
    renamed = {("companies" if k == "data" else k): v for k, v in body.items()}
    problems = checker.schema_errors(
        renamed, "contact_attached_companies", frozenset({COMPANY_CUSTOM_ATTRIBUTES})
    )
    assert not problems, "\n".join(problems)
    assert body["total_count"] == len(body["data"])


def test_events_summary_has_iso_first_and_last(reader: SandboxClient, shared_known: Known) -> None:
    path = "/events?type=user&intercom_user_id={event_contact}&summary=true"
    body = call(reader, shared_known, "GET", path).json()
    assert body["intercom_user_id"] == shared_known.event_contact
    for item in body["events"]:
        assert item["first"] <= item["last"] and item["first"].endswith("Z"), item
        assert item["count"] >= 1


# --- searches and POST listings ------------------------------------------------------------------

SEARCHES = [
    pytest.param(
        "/contacts/search",
        {
            "query": {"field": "role", "operator": "=", "value": "user"},
            "pagination": {"per_page": 5},
        },
        "data",
        "list",
        "contact",
        (),
        id="contacts",
    ),
    pytest.param(
        "/conversations/search",
        {
            "query": {
                "operator": "AND",
                "value": [
                    {"field": "open", "operator": "=", "value": True},
                    {"field": "created_at", "operator": ">", "value": 0},
                ],
            },
            "pagination": {"per_page": 5},
        },
        "conversations",
        "conversation.list",
        "conversation",
        (COMPANY_CUSTOM_ATTRIBUTES, CONVERSATION_CUSTOM_ATTRIBUTES),
        id="conversations",
    ),
    pytest.param(
        "/tickets/search",
        {"query": {"field": "open", "operator": "=", "value": True}, "pagination": {"per_page": 5}},
        "tickets",
        "ticket.list",
        "ticket",
        (),
        id="tickets",
    ),
    pytest.param(
        "/companies/list?per_page=5&order=asc",
        None,
        "data",
        "list",
        "company",
        (COMPANY_CUSTOM_ATTRIBUTES,),
        id="companies-list",
    ),
]


@pytest.mark.parametrize(("path", "body", "key", "type_", "item", "defects"), SEARCHES)
def test_post_listings_answer_as_the_spec_says(
    reader: SandboxClient,
    checker: SpecChecker,
    path: str,
    body: dict[str, Any] | None,
    key: str,
    type_: str,
    item: str,
    defects: tuple[Defect, ...],
) -> None:
    first = reader.post(path, json=body)
    assert first.status_code == 200, first.text
    checker.validate(first, *defects)
    assert_rate_limit_headers(first)
    result = first.json()
    assert_envelope(result, key, type_, item)
    assert len(result[key]) == 5 and result["total_count"] > 5
    if body is not None:  # cursor search: the second page validates too
        cursor = result["pages"]["next"]["starting_after"]
        second = reader.post(
            path, json={**body, "pagination": {"per_page": 5, "starting_after": cursor}}
        )
        assert second.status_code == 200, second.text
        checker.validate(second, *defects)
        assert second.json()["pages"]["page"] == 2


def test_companies_scroll_open_continue_end_and_conflict(
    intercom: SandboxClient, checker: SpecChecker, running_sandbox: RunningSandbox
) -> None:
    # `company_scroll.pages` is null on every page (intercom_api.md §4.5, §6.3); the spec types
    # it `cursor_pages`, which is nullable, so openapi-core accepts it without a workaround.
    opened = intercom.get("/companies/scroll")
    assert opened.status_code == 200, opened.text
    checker.validate(opened, COMPANY_CUSTOM_ATTRIBUTES)
    assert_rate_limit_headers(opened)
    body = opened.json()
    assert_envelope(body, "data", "list", "company")
    assert body["pages"] is None and body["total_count"] is None

    clash = intercom.get("/companies/scroll")
    assert clash.status_code == 400 and error_codes(clash) == ["scroll_exists"], clash.text
    checker.validate_undeclared_error(
        clash,
        "GET /companies/scroll declares only 200 and 401; a second open scroll is refused "
        "with 400 scroll_exists (intercom_api.md §4.5)",
    )
    assert_rate_limit_headers(clash)

    param, seen = body["scroll_param"], len(body["data"])
    for _ in range(50):
        page = intercom.get("/companies/scroll", params={"scroll_param": param})
        assert page.status_code == 200, page.text
        data = page.json()["data"]
        if not data:  # the end: an empty page, so no company and no defect to correct
            checker.validate(page)
            break
        checker.validate(page, COMPANY_CUSTOM_ATTRIBUTES)
        assert page.json()["scroll_param"] == param
        seen += len(data)
    else:
        raise AssertionError("the scroll did not end")
    assert seen == len(running_sandbox.sandbox.workspace.visible_companies())

    expired = intercom.get("/companies/scroll", params={"scroll_param": param})
    assert expired.status_code == 404, expired.text
    checker.validate_undeclared_error(
        expired,
        "GET /companies/scroll declares no 404; an ended or expired scroll_param is "
        "refused and the scroll must restart (intercom_api.md §4.5)",
    )


def test_contact_merged_is_410_with_a_canonical_link(
    reader: SandboxClient, checker: SpecChecker, shared_known: Known
) -> None:
    response = call(reader, shared_known, "GET", "/contacts/{merged}")
    assert response.status_code == 410, response.text
    checker.validate(response)  # declared, with its Link header
    assert error_codes(response) == ["contact_merged"]
    assert response.headers["Link"] == f'</contacts/{shared_known.canonical}>; rel="canonical"'
    assert_rate_limit_headers(response)


# --- error answers -------------------------------------------------------------------------------

SEARCH_QUERY = {"field": "role", "operator": "=", "value": "user"}

ERRORS = [
    # method, path, body, status, code, why (None: the operation declares the status)
    pytest.param(
        "GET",
        "/data_attributes?model=conversation",
        None,
        422,
        "parameter_invalid",
        None,
        id="attrs-model-conversation",
    ),
    pytest.param(
        "GET",
        "/data_attributes?model=ticket",
        None,
        400,
        "parameter_invalid",
        UNDECLARED_400,
        id="attrs-model-unknown",
    ),
    pytest.param(
        "GET",
        "/companies?company_id=nope",
        None,
        404,
        "company_not_found",
        None,
        id="company-unknown",
    ),
    pytest.param(
        "GET",
        "/companies?per_page=0",
        None,
        400,
        "parameter_invalid",
        UNDECLARED_400,
        id="companies-bad-per-page",
    ),
    pytest.param(
        "POST",
        "/companies/list?order=sideways",
        None,
        400,
        "parameter_invalid",
        UNDECLARED_400,
        id="companies-list-bad-order",
    ),
    pytest.param(
        "GET",
        "/articles?page=0",
        None,
        400,
        "parameter_invalid",
        UNDECLARED_400,
        id="articles-bad-page",
    ),
    pytest.param(
        "GET",
        "/help_center/collections?per_page=x",
        None,
        400,
        "parameter_invalid",
        UNDECLARED_400,
        id="collections-bad-per-page",
    ),
    pytest.param(
        "GET",
        "/contacts?per_page=151",
        None,
        400,
        "parameter_invalid",
        UNDECLARED_400,
        id="contacts-per-page-over-max",
    ),
    pytest.param(
        "GET",
        "/conversations?starting_after=not-a-cursor",
        None,
        400,
        "client_error",
        UNDECLARED_400,
        id="conversations-bad-cursor",
    ),
    pytest.param(
        "GET", "/contacts/{missing}", None, 404, "not_found", UNDECLARED_404, id="contact-unknown"
    ),
    pytest.param(
        "GET", "/contacts/{missing}/tags", None, 404, "not_found", None, id="contact-tags-unknown"
    ),
    pytest.param(
        "GET",
        "/contacts/{missing}/companies",
        None,
        404,
        "not_found",
        None,
        id="contact-companies-unknown",
    ),
    pytest.param(
        "GET",
        "/contacts/{missing}/segments",
        None,
        404,
        "not_found",
        None,
        id="contact-segments-unknown",
    ),
    pytest.param(
        "GET",
        "/contacts/{merged}/tags",
        None,
        410,
        "contact_merged",
        UNDECLARED_410,
        id="contact-tags-merged",
    ),
    pytest.param(
        "GET",
        "/contacts/{merged}/companies",
        None,
        410,
        "contact_merged",
        UNDECLARED_410,
        id="contact-companies-merged",
    ),
    pytest.param(
        "GET",
        "/contacts/{merged}/segments",
        None,
        410,
        "contact_merged",
        UNDECLARED_410,
        id="contact-segments-merged",
    ),
    pytest.param(
        "POST",
        "/contacts/search",
        {"query": SEARCH_QUERY, "sort": {"field": "created_at", "order": "upwards"}},
        400,
        "invalid_sort_order",
        None,
        id="contacts-search-sort-order",
    ),
    pytest.param(
        "POST",
        "/contacts/search",
        {"query": {"field": "shoe_size", "operator": "=", "value": 1}},
        400,
        "parameter_invalid",
        None,
        id="contacts-search-unknown-field",
    ),
    pytest.param(
        "POST",
        "/contacts/search",
        {"query": {"field": "name", "operator": "<>", "value": "x"}},
        400,
        "parameter_invalid",
        None,
        id="contacts-search-bad-operator",
    ),
    pytest.param(
        "POST",
        "/contacts/search",
        {"pagination": {"per_page": 5}},
        400,
        "parameter_not_found",
        None,
        id="contacts-search-no-query",
    ),
    pytest.param(
        "POST",
        "/conversations/search",
        {"query": {"field": "open", "operator": "~", "value": 1}},
        400,
        "parameter_invalid",
        UNDECLARED_400,
        id="conversations-search-bad-query",
    ),
    pytest.param(
        "POST",
        "/tickets/search",
        {"query": {"operator": "AND", "value": "x"}},
        400,
        "parameter_invalid",
        UNDECLARED_400,
        id="tickets-search-bad-query",
    ),
    pytest.param(
        "GET",
        "/conversations/999999999",
        None,
        404,
        "conversation_not_found",
        None,
        id="conversation-unknown",
    ),
    pytest.param(
        "GET",
        "/tickets/999999999",
        None,
        404,
        "ticket_not_found",
        UNDECLARED_404,
        id="ticket-unknown",
    ),
    pytest.param(
        "GET",
        "/events?type=user",
        None,
        400,
        "parameter_invalid",
        UNDECLARED_400,
        id="events-no-user",
    ),
    pytest.param(
        "GET",
        "/events?type=user&intercom_user_id={missing}",
        None,
        404,
        "not_found",
        UNDECLARED_404,
        id="events-unknown-user",
    ),
    pytest.param(
        "POST",
        "/events",
        {"created_at": 1_700_000_000, "id": "{contact}"},
        400,
        "parameter_not_found",
        UNDECLARED_400,
        id="create-event-no-name",
    ),
    pytest.param(
        "POST",
        "/events",
        {"event_name": "x", "created_at": 1_700_000_000, "id": "{missing}"},
        404,
        "not_found",
        "the spec declares 202 and 401 for POST /events; its description says an unknown user "
        "is 404 (intercom_api.md §4.7)",
        id="create-event-unknown-user",
    ),
    pytest.param(
        "POST",
        "/contacts",
        {"name": "No Identifier"},
        400,
        "parameter_not_found",
        UNDECLARED_400,
        id="create-contact-no-identifier",
    ),
    pytest.param(
        "POST",
        "/contacts",
        {"email": "{email}"},
        409,
        "conflict",
        UNDECLARED_409,
        id="create-contact-duplicate-email",
    ),
    pytest.param(
        "PUT",
        "/contacts/{contact}",
        {"custom_attributes": {"shoe_size": 44}},
        400,
        "parameter_not_found",
        UNDECLARED_400,
        id="update-contact-unknown-attribute",
    ),
    pytest.param(
        "PUT",
        "/contacts/{contact}",
        {"custom_attributes": {"seats": "many"}},
        400,
        "parameter_invalid",
        UNDECLARED_400,
        id="update-contact-attribute-type",
    ),
    pytest.param(
        "PUT",
        "/contacts/{missing}",
        {"name": "x"},
        404,
        "not_found",
        UNDECLARED_404,
        id="update-contact-unknown",
    ),
    pytest.param(
        "PUT",
        "/contacts/{merged}",
        {"name": "x"},
        410,
        "contact_merged",
        UNDECLARED_410,
        id="update-contact-merged",
    ),
    pytest.param(
        "POST",
        "/data_attributes",
        {"name": "plan", "model": "contact", "data_type": "string"},
        400,
        "parameter_invalid",
        None,
        id="create-attribute-duplicate",
    ),
    pytest.param(
        "POST",
        "/data_attributes",
        {"name": "x", "model": "ticket", "data_type": "string"},
        400,
        "parameter_invalid",
        None,
        id="create-attribute-bad-model",
    ),
    pytest.param(
        "POST",
        "/data_attributes",
        {"name": "x", "model": "contact", "data_type": "colour"},
        400,
        "parameter_invalid",
        None,
        id="create-attribute-bad-type",
    ),
    pytest.param(
        "POST",
        "/messages",
        {
            "message_type": "in_app",
            "from": {"type": "admin", "id": "{admin}"},
            "to": {"type": "user", "id": "{contact}"},
        },
        400,
        "parameter_invalid",
        None,
        id="message-no-body",
    ),
    pytest.param(
        "POST",
        "/messages",
        {
            "message_type": "email",
            "body": "Hi",
            "from": {"type": "admin", "id": "{admin}"},
            "to": {"type": "user", "id": "{contact}"},
        },
        422,
        "parameter_not_found",
        None,
        id="message-email-no-subject",
    ),
    pytest.param(
        "POST",
        "/messages",
        {
            "message_type": "in_app",
            "body": "Hi",
            "from": {"type": "admin", "id": "0"},
            "to": {"type": "user", "id": "{contact}"},
        },
        422,
        "parameter_invalid",
        None,
        id="message-unknown-sender",
    ),
    pytest.param(
        "POST",
        "/messages",
        {
            "message_type": "in_app",
            "body": "Hi",
            "from": {"type": "admin", "id": "{admin}"},
            "to": {"type": "user", "id": "{missing}"},
        },
        404,
        "not_found",
        UNDECLARED_404,
        id="message-unknown-recipient",
    ),
    pytest.param("POST", "/tags", {}, 400, "parameter_invalid", None, id="tag-no-name"),
    pytest.param(
        "POST",
        "/tags",
        {"name": "vip", "users": [{"id": "{missing}"}]},
        404,
        "not_found",
        UNDECLARED_404,
        id="tag-unknown-contact",
    ),
    pytest.param(
        "POST",
        "/tags",
        {"name": "vip", "companies": [{"company_id": "nope"}]},
        404,
        "company_not_found",
        UNDECLARED_404,
        id="tag-unknown-company",
    ),
]


@pytest.mark.parametrize(("method", "path", "body", "status", "code", "why"), ERRORS)
def test_error_answers_match_the_spec(
    request: pytest.FixtureRequest,
    checker: SpecChecker,
    method: str,
    path: str,
    body: Any,
    status: int,
    code: str,
    why: str | None,
) -> None:
    # Reads go to the shared sandbox; anything that could write gets a fresh one.
    reads = method == "GET" or path.endswith("/search")
    client = request.getfixturevalue("reader" if reads else "intercom")
    known = request.getfixturevalue("shared_known" if reads else "known")
    response = call(client, known, method, path, body)
    assert response.status_code == status, response.text
    assert error_codes(response) == [code], response.text
    if why is None:
        checker.validate(response)
    else:
        checker.validate_undeclared_error(response, why)
    assert_rate_limit_headers(response)


# --- writes --------------------------------------------------------------------------------------


def test_create_event_is_202_with_no_body(
    intercom: SandboxClient, checker: SpecChecker, known: Known
) -> None:
    body = {
        "event_name": "ordered-item",
        "created_at": 1_793_000_000,
        "id": known.contact,
        "metadata": {"order_id": "A-1"},
    }
    response = intercom.post("/events", json=body)
    assert response.status_code == 202, response.text
    checker.validate(response)
    assert response.content == b""
    assert_rate_limit_headers(response)


def test_create_then_duplicate_contact(intercom: SandboxClient, checker: SpecChecker) -> None:
    body = {
        "email": "new.person@example.com",
        "role": "user",
        "external_id": "usr_new_1",
        "name": "New Person",
    }
    created = intercom.post("/contacts", json=body)
    assert created.status_code == 200, created.text
    checker.validate(created)
    assert_rate_limit_headers(created)
    contact = created.json()
    assert contact["type"] == "contact" and contact["email"] == body["email"]
    assert contact["external_id"] == "usr_new_1"

    again = intercom.post("/contacts", json=body)
    assert again.status_code == 409 and error_codes(again) == ["conflict"], again.text
    checker.validate_undeclared_error(again, UNDECLARED_409)


def test_update_contact(intercom: SandboxClient, checker: SpecChecker, known: Known) -> None:
    response = intercom.put(
        f"/contacts/{known.contact}",
        json={"name": "Renamed Person", "custom_attributes": {"seats": 12}},
    )
    assert response.status_code == 200, response.text
    checker.validate(response)
    assert_rate_limit_headers(response)
    contact = response.json()
    assert contact["id"] == known.contact and contact["name"] == "Renamed Person"
    assert contact["custom_attributes"]["seats"] == 12


def test_create_data_attribute_then_duplicate(
    intercom: SandboxClient, checker: SpecChecker
) -> None:
    body = {
        "name": "Mithril Shirt",
        "model": "contact",
        "data_type": "string",
        "description": "Worn under the tunic",
    }
    created = intercom.post("/data_attributes", json=body)
    assert created.status_code == 200, created.text
    checker.validate(created)
    attribute = created.json()
    assert attribute["type"] == "data_attribute" and attribute["custom"] is True
    assert attribute["full_name"] == "custom_attributes.Mithril Shirt"
    assert isinstance(attribute["id"], int)

    again = intercom.post("/data_attributes", json=body)
    assert again.status_code == 400 and error_codes(again) == ["parameter_invalid"], again.text
    checker.validate(again)


@pytest.mark.parametrize("message_type", ["in_app", "email"])
def test_create_message(
    intercom: SandboxClient, checker: SpecChecker, known: Known, message_type: str
) -> None:
    body = {
        "message_type": message_type,
        "subject": "Hello",
        "body": "<p>Hi there</p>",
        "from": {"type": "admin", "id": known.admin},
        "to": {"type": "user", "id": known.contact},
    }
    response = intercom.post("/messages", json=body)
    assert response.status_code == 200, response.text
    checker.validate(response)
    assert_rate_limit_headers(response)
    message = response.json()
    assert message["type"] == "admin_message"
    assert message["message_type"] == {"in_app": "inapp", "email": "email"}[message_type]


def test_create_tag_and_tag_contacts_and_companies(
    intercom: SandboxClient, checker: SpecChecker, known: Known
) -> None:
    created = intercom.post("/tags", json={"name": "Spec checked"})
    assert created.status_code == 200, created.text
    checker.validate(created)
    tag = created.json()
    assert tag["type"] == "tag" and tag["name"] == "Spec checked"

    tagged = intercom.post("/tags", json={"name": "Spec checked", "users": [{"id": known.contact}]})
    assert tagged.status_code == 200, tagged.text
    checker.validate(tagged)
    assert tagged.json()["id"] == tag["id"]
    contact_tags = intercom.get(f"/contacts/{known.contact}/tags")
    checker.validate(contact_tags)
    assert tag["id"] in {t["id"] for t in contact_tags.json()["data"]}

    detached = intercom.delete(f"/contacts/{known.contact}/tags/{tag['id']}")
    assert detached.status_code == 200, detached.text
    checker.validate(detached)
    assert detached.json()["id"] == tag["id"]
    contact_tags = intercom.get(f"/contacts/{known.contact}/tags")
    assert tag["id"] not in {t["id"] for t in contact_tags.json()["data"]}
    again = intercom.delete(f"/contacts/{known.contact}/tags/{tag['id']}")
    assert again.status_code == 404
    checker.validate(again)

    companies = intercom.post(
        "/tags", json={"name": "Spec checked", "companies": [{"company_id": known.company_id}]}
    )
    assert companies.status_code == 200, companies.text
    checker.validate(companies)


# --- authentication, rate limits, plan restrictions, transport -----------------------------------

AUTHENTICATED_OPERATIONS = [
    pytest.param("GET", "/admins", None, id="admins"),
    pytest.param("GET", "/contacts", None, id="contacts"),
    pytest.param("GET", "/contacts/{contact}", None, id="contact"),
    pytest.param("POST", "/contacts/search", {"query": SEARCH_QUERY}, id="contacts-search"),
    pytest.param("GET", "/conversations/{conversation}", None, id="conversation"),
    pytest.param(
        "POST",
        "/conversations/search",
        {"query": {"field": "open", "operator": "=", "value": True}},
        id="conversations-search",
    ),
    pytest.param(
        "POST",
        "/tickets/search",
        {"query": {"field": "open", "operator": "=", "value": True}},
        id="tickets-search",
    ),
    pytest.param("GET", "/companies/scroll", None, id="companies-scroll"),
    pytest.param(
        "POST",
        "/events",
        {"event_name": "x", "created_at": 1_793_000_000, "id": "{contact}"},
        id="create-event",
    ),
]


@pytest.mark.parametrize(("method", "path", "body"), AUTHENTICATED_OPERATIONS)
def test_bad_token_is_401_without_rate_limit_headers(
    shared_sandbox: RunningSandbox,
    checker: SpecChecker,
    shared_known: Known,
    method: str,
    path: str,
    body: Any,
) -> None:
    stranger = SandboxClient(shared_sandbox, token="not-the-token")
    response = call(stranger, shared_known, method, path, body)
    assert response.status_code == 401, response.text
    assert error_codes(response) == ["unauthorized"]
    if "401" in checker.declared_statuses(response):
        checker.validate(response)
    else:
        checker.validate_undeclared_error(response, UNDECLARED_401)
    assert not any(name in response.headers for name in RATE_LIMIT_HEADERS), response.headers


@pytest.mark.parametrize(("method", "path", "body"), AUTHENTICATED_OPERATIONS)
def test_rate_limited_is_429_with_rate_limit_headers(
    intercom: SandboxClient,
    checker: SpecChecker,
    known: Known,
    method: str,
    path: str,
    body: Any,
) -> None:
    # 6 a minute is 1 call per 10-second window: of three calls in a row, two share a window.
    intercom.control("PUT", "/rate_limit", {"per_minute": 6})
    statuses = []
    for _ in range(3):
        response = call(intercom, known, method, path, body)
        statuses.append(response.status_code)
        if response.status_code == 429:
            break
    assert statuses[-1] == 429, statuses
    assert error_codes(response) == ["rate_limit_exceeded"]
    checker.validate_undeclared_error(response, UNDECLARED_429)
    assert_rate_limit_headers(response)
    assert response.headers["X-RateLimit-Limit"] == "1"
    assert response.headers["X-RateLimit-Remaining"] == "0"


@pytest.mark.parametrize(
    ("method", "path", "body", "declared"),
    [
        pytest.param("GET", "/conversations", None, True, id="conversations"),
        pytest.param("GET", "/conversations/{conversation}", None, True, id="conversation"),
        pytest.param(
            "POST",
            "/conversations/search",
            {"query": {"field": "open", "operator": "=", "value": True}},
            False,
            id="conversations-search",
        ),
    ],
)
def test_plan_restricted_conversations_are_403(
    intercom: SandboxClient,
    checker: SpecChecker,
    known: Known,
    method: str,
    path: str,
    body: Any,
    declared: bool,
) -> None:
    intercom.control("PUT", "/restrictions", {"modules": ["conversations"]})
    response = call(intercom, known, method, path, body)
    assert response.status_code == 403, response.text
    assert error_codes(response) == ["api_plan_restricted"]
    if declared:
        checker.validate(response)
    else:
        checker.validate_undeclared_error(response, UNDECLARED_403)
    assert_rate_limit_headers(response)
    assert intercom.get("/admins").status_code == 200  # other modules stay open


@pytest.mark.parametrize(
    ("headers", "status", "code"),
    [
        pytest.param({"Intercom-Version": "banana"}, 400, "intercom_version_invalid", id="version"),
        pytest.param({"Accept": "text/html"}, 406, "not_acceptable", id="accept"),
    ],
)
def test_transport_errors_use_the_error_envelope(
    intercom: SandboxClient,
    checker: SpecChecker,
    headers: dict[str, str],
    status: int,
    code: str,
) -> None:
    response = intercom.get("/admins", headers=headers)
    assert response.status_code == status, response.text
    assert error_codes(response) == [code]
    checker.validate_undeclared_error(response, UNDECLARED_TRANSPORT)


def test_injected_server_errors_use_the_error_envelope(
    intercom: SandboxClient, checker: SpecChecker
) -> None:
    intercom.control("PUT", "/faults", {"error_rate": 1.0})
    response = intercom.get("/contacts")
    assert response.status_code in (500, 502, 503), response.text
    assert error_codes(response) == ["server_error"]
    checker.validate_undeclared_error(response, UNDECLARED_TRANSPORT)
    assert_rate_limit_headers(response)
