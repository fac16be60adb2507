"""The API client against the in-process sandbox: pagination, pacing, retries, clear errors."""

from __future__ import annotations

import time

import pytest

from intercom_pipeline.settings import Secret, intercom_settings
from intercom_pipeline.sources.intercom.client import (
    NOT_SENT,
    IntercomAuthError,
    IntercomClient,
    IntercomError,
    IntercomPermissionError,
)
from intercom_sandbox import DEFAULT_TOKEN, RunningSandbox, SandboxConfig
from tests.conftest import SandboxClient


def client_for(
    running: RunningSandbox, token: str = DEFAULT_TOKEN, **kwargs: object
) -> IntercomClient:
    settings = intercom_settings({"INTERCOM_BASE_URL": running.base_url})
    settings = type(settings)(
        Secret(token), settings.region, settings.base_url, settings.api_version
    )
    return IntercomClient(settings, backoff_seconds=0.01, **kwargs)  # type: ignore[arg-type]


@pytest.fixture
def sandbox_config() -> SandboxConfig:
    return SandboxConfig(seed=3, scale="tiny")


def test_every_pagination_style_walks_everything_once(running_sandbox: RunningSandbox) -> None:
    ws = running_sandbox.sandbox.workspace
    client = client_for(running_sandbox)
    contacts = [c["id"] for c in client.cursor_list("/contacts", "data", per_page=37)]
    assert sorted(contacts) == sorted(c.id for c in ws.visible_contacts())
    conversations = [
        c["id"]
        for c in client.search(
            "/conversations/search",
            {"field": "updated_at", "operator": ">", "value": 0},
            "conversations",
            per_page=41,
            sort={"field": "updated_at", "order": "ascending"},
        )
    ]
    assert sorted(conversations) == sorted(c.id for c in ws.conversations)
    assert len(set(conversations)) == len(conversations)
    companies = [c["id"] for c in client.scroll()]
    assert sorted(companies) == sorted(c.id for c in ws.visible_companies())
    articles = [a["id"] for a in client.numbered_pages("/articles", per_page=5)]
    assert sorted(articles) == sorted(a.id for a in ws.articles)


def test_bad_token_says_what_to_do_and_hides_the_token(running_sandbox: RunningSandbox) -> None:
    client = client_for(running_sandbox, token="tok_wrong_and_secret")
    with pytest.raises(IntercomAuthError) as caught:
        client.request("GET", "/admins")
    message = str(caught.value)
    assert "INTERCOM_ACCESS_TOKEN" in message and "INTERCOM_REGION" in message
    assert "tok_wrong_and_secret" not in message


def test_plan_restricted_module_is_named(
    running_sandbox: RunningSandbox, intercom: SandboxClient
) -> None:
    intercom.control("PUT", "/restrictions", {"modules": ["tickets"]})
    with pytest.raises(IntercomPermissionError, match=r"/tickets/search.*plan does not include"):
        list(
            client_for(running_sandbox).search(
                "/tickets/search", {"field": "created_at", "operator": ">", "value": 0}, "tickets"
            )
        )


def test_429_waits_for_the_window_reset_then_succeeds(
    running_sandbox: RunningSandbox, intercom: SandboxClient
) -> None:
    intercom.control("PUT", "/rate_limit", {"per_minute": 60})  # 10 calls per 10-second window
    slept: list[float] = []
    client = client_for(running_sandbox, sleep=lambda s: (slept.append(s), time.sleep(s)))
    for _ in range(14):
        assert client.request("GET", "/teams")["type"] == "team.list"
    assert slept, "the client should have paused for the window to reset"
    assert intercom.control("GET", "/stats")["calls"]["GET /teams"] >= 14


def test_server_errors_are_retried_then_reported(
    running_sandbox: RunningSandbox, intercom: SandboxClient
) -> None:
    intercom.control("PUT", "/faults", {"error_rate": 1.0})
    client = client_for(running_sandbox, max_retries=2)
    with pytest.raises(IntercomError, match=r"GET /admins failed 3 times.*retried safely"):
        client.request("GET", "/admins")
    assert intercom.control("GET", "/stats")["calls"]["GET /admins"] == 3


def test_a_post_that_acts_is_not_retried_once_intercom_may_have_seen_it(
    running_sandbox: RunningSandbox, intercom: SandboxClient
) -> None:
    intercom.control("PUT", "/faults", {"error_rate": 1.0})
    client = client_for(running_sandbox, max_retries=2)
    with pytest.raises(IntercomError, match="may have acted on it") as raised:
        client.request("POST", "/messages", json={}, idempotent=False)
    assert raised.value.code is None  # an unknown outcome: the caller must not send it again
    assert intercom.control("GET", "/stats")["calls"]["POST /messages"] == 1


def test_a_post_never_delivered_is_retried_and_marked_not_sent(
    running_sandbox: RunningSandbox,
) -> None:
    settings = intercom_settings({"INTERCOM_BASE_URL": "http://127.0.0.1:9"})  # nothing listens
    client = IntercomClient(settings, backoff_seconds=0.01, max_retries=2)
    with pytest.raises(IntercomError, match="failed 3 times") as raised:
        client.request("POST", "/messages", json={}, idempotent=False)
    assert raised.value.code == NOT_SENT
    assert client.stats["retries"] == 2


@pytest.mark.parametrize("fault", ["drop_rate", "truncate_rate", "error_rate"])
def test_transient_faults_are_absorbed(
    running_sandbox: RunningSandbox, intercom: SandboxClient, fault: str
) -> None:
    intercom.control("PUT", "/faults", {fault: 0.3})
    client = client_for(running_sandbox, max_retries=8)
    ids = [c["id"] for c in client.cursor_list("/contacts", "data", per_page=20)]
    assert sorted(ids) == sorted(c.id for c in running_sandbox.sandbox.workspace.visible_contacts())


def test_a_cursor_that_does_not_advance_is_an_error(running_sandbox: RunningSandbox) -> None:
    client = client_for(running_sandbox)
    stuck = {"type": "list", "data": [{"id": "1"}], "pages": {"next": {"starting_after": "WzFd"}}}
    client.request = lambda *args, **kwargs: stuck  # type: ignore[method-assign]
    with pytest.raises(IntercomError, match=r"GET /contacts: .*stopped instead of looping"):
        list(client.cursor_list("/contacts", "data"))


def test_the_token_may_come_from_dlt_secrets(
    running_sandbox: RunningSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    from intercom_pipeline.defs.resources import resources_from_environment

    monkeypatch.delenv("INTERCOM_ACCESS_TOKEN", raising=False)
    monkeypatch.setenv("INTERCOM_BASE_URL", running_sandbox.base_url)
    monkeypatch.setenv("SOURCES__INTERCOM__ACCESS_TOKEN", DEFAULT_TOKEN)  # dlt's secrets provider
    (workspace,) = resources_from_environment(resolved=True)["intercom"].connect()
    assert workspace.workspace_id == running_sandbox.sandbox.workspace.app_id
    assert DEFAULT_TOKEN not in repr(workspace.client.settings)
