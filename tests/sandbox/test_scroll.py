"""The companies scroll: one open scroll per app, expiry, the scroll_exists fault, and stats."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from intercom_sandbox import RunningSandbox, SandboxConfig
from tests.conftest import SandboxClient
from tests.sandbox.helpers import error_codes, ids


@pytest.fixture
def sandbox_config() -> SandboxConfig:
    return SandboxConfig(seed=1, scale="demo", scroll_expiry_seconds=60.0)


def open_scroll(client: SandboxClient) -> requests.Response:
    return client.get("/companies/scroll")


def test_a_second_scroll_is_refused_while_one_is_open(intercom: SandboxClient) -> None:
    first = open_scroll(intercom)
    assert first.status_code == 200
    param = first.json()["scroll_param"]
    second = open_scroll(intercom)
    assert second.status_code == 400
    assert error_codes(second) == ["scroll_exists"]
    # The open scroll is not disturbed by the refused one.
    following = intercom.get("/companies/scroll", params={"scroll_param": param})
    assert following.status_code == 200
    assert following.json()["scroll_param"] == param
    assert not set(ids(first.json()["data"])) & set(ids(following.json()["data"]))
    status = intercom.control("GET", "/status")
    assert status["scroll_open"] is True
    stats = intercom.control("GET", "/stats")
    assert stats["scroll_conflicts"] == 1
    assert stats["max_concurrent_scrolls"] == 1


@pytest.mark.parametrize(
    "sandbox_config", [SandboxConfig(seed=1, scale="tiny", scroll_expiry_seconds=1.0)]
)
def test_an_idle_scroll_expires(intercom: SandboxClient) -> None:
    first = open_scroll(intercom)
    assert first.status_code == 200
    param = first.json()["scroll_param"]
    assert first.json()["data"]
    time.sleep(1.2)
    assert intercom.control("GET", "/status")["scroll_open"] is False
    stale = intercom.get("/companies/scroll", params={"scroll_param": param})
    assert stale.status_code == 404
    assert error_codes(stale) == ["scroll_param_not_found"]
    fresh = open_scroll(intercom)
    assert fresh.status_code == 200
    assert fresh.json()["scroll_param"] != param
    assert ids(fresh.json()["data"]) == ids(first.json()["data"])  # it starts from the top


def test_scroll_exists_fault_refuses_exactly_one_opening(
    intercom: SandboxClient, running_sandbox: RunningSandbox
) -> None:
    opened = open_scroll(intercom)
    param = opened.json()["scroll_param"]
    intercom.control("PUT", "/faults", {"scroll_exists": 1})
    # Continuing an open scroll is not an opening: the fault waits.
    following = intercom.get("/companies/scroll", params={"scroll_param": param})
    assert following.status_code == 200
    continued = 1
    # Finish the walk so no real scroll is open.
    while following.json()["data"]:
        following = intercom.get("/companies/scroll", params={"scroll_param": param})
        assert following.status_code == 200
        continued += 1
    companies = len(running_sandbox.sandbox.workspace.companies)
    assert continued == -(-companies // 50)  # the remaining pages and the empty last one
    assert intercom.control("GET", "/status")["scroll_open"] is False
    refused = open_scroll(intercom)
    assert refused.status_code == 400
    assert error_codes(refused) == ["scroll_exists"]
    assert intercom.control("GET", "/status")["faults"]["scroll_exists"] == 0
    reopened = open_scroll(intercom)
    assert reopened.status_code == 200
    assert ids(reopened.json()["data"]) == ids(opened.json()["data"])
    stats = intercom.control("GET", "/stats")
    assert stats["scroll_conflicts"] == 1
    assert stats["max_concurrent_scrolls"] == 1
    assert stats["calls"]["GET /companies/scroll"] == 3 + continued


def test_concurrent_openings_are_counted(intercom: SandboxClient) -> None:
    """Three clients open a scroll at once: one wins, two get scroll_exists."""
    intercom.control("PUT", "/faults", {"latency_ms": 300})
    try:
        with ThreadPoolExecutor(max_workers=3) as pool:
            responses = list(
                pool.map(
                    lambda _: requests.get(
                        f"{intercom.base_url}/companies/scroll",
                        headers=dict(intercom.session.headers),
                        timeout=30,
                    ),
                    range(3),
                )
            )
    finally:
        intercom.control("PUT", "/faults", {"latency_ms": 0})
    assert sorted(r.status_code for r in responses) == [200, 400, 400]
    stats = intercom.control("GET", "/stats")
    assert stats["max_concurrent_scrolls"] == 3
    assert stats["scroll_conflicts"] == 2
