"""The search grammar of the spec's `search_request`: every operator and value type it allows is
accepted (and filters as documented), and everything else is refused with Intercom's error list."""

from __future__ import annotations

from typing import Any

import pytest

from intercom_sandbox import SandboxConfig
from intercom_sandbox.workspace import Workspace
from tests.conftest import SandboxClient
from tests.sandbox.spec import SpecChecker, load_spec

UNDECLARED_400 = "conversation and ticket search declare no 400; the error list is Intercom's"


@pytest.fixture
def sandbox_config() -> SandboxConfig:
    return SandboxConfig(seed=1, scale="tiny")


@pytest.fixture(scope="module")
def checker() -> SpecChecker:
    return SpecChecker(load_spec())


def flt(field: str, operator: str, value: Any) -> dict[str, Any]:
    return {"field": field, "operator": operator, "value": value}


def test_spec_operators_are_the_sandbox_operators() -> None:
    from intercom_sandbox.search import _OPERATORS

    schema = load_spec()["components"]["schemas"]["single_filter_search_request"]
    assert set(schema["properties"]["operator"]["enum"]) == set(_OPERATORS)


ACCEPTED = [
    pytest.param("/contacts/search", flt("role", "=", "user"), id="string-eq"),
    pytest.param("/contacts/search", flt("role", "!=", "user"), id="string-ne"),
    pytest.param("/contacts/search", flt("role", "IN", ["user", "lead"]), id="string-in"),
    pytest.param("/contacts/search", flt("role", "NIN", ["lead"]), id="string-nin"),
    pytest.param("/contacts/search", flt("email", "~", "@"), id="contains"),
    pytest.param("/contacts/search", flt("email", "!~", "@"), id="not-contains"),
    pytest.param("/contacts/search", flt("name", "^", "A"), id="starts-with"),
    pytest.param("/contacts/search", flt("email", "$", ".com"), id="ends-with"),
    pytest.param("/contacts/search", flt("email", "=", None), id="null-eq"),
    pytest.param("/contacts/search", flt("email", "!=", None), id="null-ne"),
    pytest.param("/contacts/search", flt("created_at", ">", 0), id="date-gt"),
    pytest.param("/contacts/search", flt("created_at", "<", 2_000_000_000), id="date-lt"),
    pytest.param("/contacts/search", flt("unsubscribed_from_emails", "=", True), id="bool-eq"),
    pytest.param("/contacts/search", flt("role", "IN", []), id="empty-in"),
    pytest.param(
        "/contacts/search",
        {"operator": "AND", "value": [flt("role", "=", "user"), flt("created_at", ">", 0)]},
        id="and-group",
    ),
    pytest.param("/conversations/search", flt("admin_assignee_id", ">", 0), id="int-gt"),
    pytest.param("/conversations/search", flt("admin_assignee_id", "<=", 10**12), id="int-le"),
    pytest.param("/conversations/search", flt("admin_assignee_id", "IN", [1, "2"]), id="int-in"),
    pytest.param("/conversations/search", flt("open", "!=", False), id="bool-ne"),
    pytest.param("/conversations/search", flt("state", "NIN", ["closed"]), id="conv-nin"),
    pytest.param("/tickets/search", flt("created_at", ">=", 0), id="ticket-date-ge"),
]


@pytest.mark.parametrize(("path", "query"), ACCEPTED)
def test_spec_grammar_is_accepted(intercom: SandboxClient, path: str, query: dict) -> None:
    response = intercom.post(path, json={"query": query, "pagination": {"per_page": 150}})
    assert response.status_code == 200, response.text


def test_accepted_contact_search_matches_the_spec(
    intercom: SandboxClient, checker: SpecChecker, ws: Workspace
) -> None:
    response = intercom.post(
        "/contacts/search",
        json={"query": flt("role", "IN", ["user"]), "pagination": {"per_page": 150}},
    )
    checker.validate(response)
    expected = {c.id for c in ws.contacts if c.visible and c.role == "user"}
    assert response.json()["total_count"] == len(expected)


def test_operators_filter_as_documented(intercom: SandboxClient, ws: Workspace) -> None:
    def found(query: dict[str, Any]) -> set[str]:
        body = {"query": query, "pagination": {"per_page": 150}}
        answer = intercom.post("/contacts/search", json=body).json()
        assert answer["total_count"] <= 150
        return {c["id"] for c in answer["data"]}

    visible = [c for c in ws.contacts if c.visible]
    ends = {c.id for c in visible if (c.email or "").lower().endswith(".com")}
    assert found(flt("email", "$", ".com")) == ends
    no_email = {c.id for c in visible if not c.email}
    assert found(flt("email", "=", None)) == no_email
    leads = {c.id for c in visible if c.role == "lead"}
    assert found(flt("role", "NIN", ["user"])) == leads


REFUSED = [
    pytest.param("/contacts/search", flt("role", "==", "user"), id="unknown-operator"),
    pytest.param("/contacts/search", flt("role", "in", ["user"]), id="lowercase-in"),
    pytest.param("/contacts/search", flt("role", "IN", "user"), id="in-needs-array"),
    pytest.param("/contacts/search", flt("role", "=", ["user"]), id="eq-with-array"),
    pytest.param("/contacts/search", flt("role", "=", {"a": 1}), id="object-value"),
    pytest.param("/contacts/search", flt("role", "IN", [["user"]]), id="nested-array"),
    pytest.param("/contacts/search", flt("role", "IN", [None]), id="null-in-array"),
    pytest.param("/contacts/search", flt("role", "~", None), id="null-with-contains"),
    pytest.param("/contacts/search", flt("role", "=", True), id="bool-on-string"),
    pytest.param("/contacts/search", flt("role", "<", "user"), id="lt-on-string"),
    pytest.param("/contacts/search", flt("created_at", "!=", 0), id="contact-date-ne"),
    pytest.param("/contacts/search", flt("created_at", ">", 1.5), id="fractional-date"),
    pytest.param("/contacts/search", flt("created_at", ">", "yesterday"), id="text-date"),
    pytest.param("/contacts/search", {"field": "role", "value": "user"}, id="no-operator"),
    pytest.param("/contacts/search", {"field": "role", "operator": "="}, id="no-value"),
    pytest.param("/contacts/search", {"operator": "and", "value": []}, id="lower-and"),
    pytest.param("/contacts/search", {"operator": "AND", "value": []}, id="empty-group"),
    pytest.param("/contacts/search", flt("nope", "=", "x"), id="unknown-field"),
    pytest.param("/conversations/search", flt("open", "=", "true"), id="string-on-bool"),
    pytest.param("/conversations/search", flt("open", ">", True), id="gt-on-bool"),
    pytest.param("/conversations/search", flt("admin_assignee_id", "~", 1), id="contains-int"),
    pytest.param("/conversations/search", flt("admin_assignee_id", "=", 1.5), id="frac-int"),
    pytest.param("/tickets/search", flt("updated_at", ">=", 0), id="ticket-updated-ge"),
]


@pytest.mark.parametrize(("path", "query"), REFUSED)
def test_outside_the_grammar_is_refused(
    intercom: SandboxClient, checker: SpecChecker, path: str, query: dict
) -> None:
    response = intercom.post(path, json={"query": query})
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["type"] == "error.list"
    assert [e["code"] for e in body["errors"]] == ["parameter_invalid"]
    if path == "/contacts/search":
        checker.validate(response)
    else:
        checker.validate_undeclared_error(response, UNDECLARED_400)


@pytest.mark.parametrize(
    "pagination",
    [{"per_page": True}, {"per_page": 2.5}, {"per_page": "x"}, {"per_page": 0}, "page 2"],
)
def test_bad_pagination_is_refused(intercom: SandboxClient, pagination: Any) -> None:
    body = {"query": flt("role", "=", "user"), "pagination": pagination}
    response = intercom.post("/contacts/search", json=body)
    assert response.status_code == 400, response.text
    assert response.json()["errors"][0]["code"] == "parameter_invalid"


def test_missing_query_is_refused(intercom: SandboxClient) -> None:
    response = intercom.post("/contacts/search", json={"pagination": {"per_page": 5}})
    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == "parameter_not_found"
