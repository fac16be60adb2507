"""Transport rules: authentication, headers, the rate limit, injected faults, determinism."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from intercom_sandbox import API_VERSION, RunningSandbox, Sandbox, SandboxConfig
from tests.conftest import SandboxClient
from tests.sandbox.helpers import error_codes

RATE_HEADERS = ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset")
NO_FAULTS = {"latency_ms": 0, "jitter_ms": 0, "error_rate": 0, "drop_rate": 0, "truncate_rate": 0}


@pytest.fixture
def sandbox_config() -> SandboxConfig:
    return SandboxConfig(seed=1, scale="tiny")


@pytest.fixture
def faulty(intercom: SandboxClient) -> Iterator[SandboxClient]:
    """The client; faults set during the test are cleared afterwards."""
    yield intercom
    intercom.control("PUT", "/faults", NO_FAULTS)


def raw_get(url: str, headers: dict[str, str]) -> requests.Response:
    return requests.get(url, headers=headers, timeout=30)


# --- authentication and headers -------------------------------------------------------------


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer wrong-token", "sandbox-token", "Basic c2FuZGJveC10b2tlbjo="],
    ids=["missing", "wrong", "no-scheme", "basic"],
)
def test_bad_credentials_are_401_without_rate_limit_headers(
    running_sandbox: RunningSandbox, authorization: str | None
) -> None:
    headers = {"Accept": "application/json", "Intercom-Version": API_VERSION}
    if authorization is not None:
        headers["Authorization"] = authorization
    response = raw_get(f"{running_sandbox.base_url}/admins", headers)
    assert response.status_code == 401
    assert error_codes(response) == ["unauthorized"]
    assert not any(h in response.headers for h in RATE_HEADERS)
    assert running_sandbox.sandbox.stats.calls == {}  # a refused call is not counted


@pytest.mark.parametrize("version", ["Unstable", "2.17", "0.9", "banana"])
def test_versions_outside_the_spec_enum_are_refused(intercom: SandboxClient, version: str) -> None:
    response = intercom.get("/admins", headers={"Intercom-Version": version})
    assert response.status_code == 400
    assert error_codes(response) == ["intercom_version_invalid"]


def test_the_version_header_defaults_to_2_16(intercom: SandboxClient) -> None:
    response = intercom.get("/admins", headers={"Intercom-Version": None})
    assert response.status_code == 200
    assert response.json()["type"] == "admin.list"


@pytest.mark.parametrize("accept", [None, "text/html", "application/xml"])
def test_a_missing_or_unacceptable_accept_is_406(
    intercom: SandboxClient, accept: str | None
) -> None:
    response = intercom.get("/admins", headers={"Accept": accept})
    assert response.status_code == 406
    assert response.json()["type"] == "error.list"


def test_unknown_path_and_unsupported_method_are_404(intercom: SandboxClient) -> None:
    assert error_codes(intercom.get("/nothing-here")) == ["not_found"]
    response = intercom.request("DELETE", "/admins")
    assert response.status_code == 404
    assert error_codes(response) == ["not_found"]


# --- rate limiting ---------------------------------------------------------------------------


def wait_for_fresh_window() -> None:
    """Leave at least 2 s of the current 10-second window, so a burst stays inside one."""
    if time.time() % 10 > 8:
        time.sleep(10 - time.time() % 10 + 0.05)


def test_rate_limit_headers_with_the_default_limit(intercom: SandboxClient) -> None:
    wait_for_fresh_window()
    first = intercom.get("/admins")
    second = intercom.get("/teams")
    limit = round(10_000 / 6)
    assert first.headers["X-RateLimit-Limit"] == str(limit)
    remaining = [int(r.headers["X-RateLimit-Remaining"]) for r in (first, second)]
    assert remaining == [limit - 1, limit - 2]
    reset = int(first.headers["X-RateLimit-Reset"])
    assert reset % 10 == 0
    assert 0 < reset - time.time() <= 10


def test_the_eleventh_call_in_a_window_is_429(
    intercom: SandboxClient, running_sandbox: RunningSandbox
) -> None:
    limits = intercom.control("PUT", "/rate_limit", {"per_minute": 60})
    assert limits == {"per_minute": 60, "per_10_seconds": 10}
    wait_for_fresh_window()
    responses = [intercom.get("/admins") for _ in range(11)]
    assert [r.status_code for r in responses] == [200] * 10 + [429]
    remaining = [int(r.headers["X-RateLimit-Remaining"]) for r in responses]
    assert remaining == [9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 0]
    limited = responses[-1]
    assert error_codes(limited) == ["rate_limit_exceeded"]
    assert limited.json()["errors"][0]["message"] == "Exceeded rate limit of 10 in 10_seconds"
    assert limited.headers["X-RateLimit-Limit"] == "10"
    reset = int(limited.headers["X-RateLimit-Reset"])
    assert reset % 10 == 0
    assert reset > time.time()
    assert {int(r.headers["X-RateLimit-Reset"]) for r in responses} == {reset}
    stats = intercom.control("GET", "/stats")
    assert stats["rate_limited"] == 1
    assert stats["statuses"] == {"200": 10, "429": 1}
    # A 401 in the same window has no rate-limit headers and is not limited.
    anonymous = raw_get(f"{running_sandbox.base_url}/admins", {"Accept": "application/json"})
    assert anonymous.status_code == 401
    assert not any(h in anonymous.headers for h in RATE_HEADERS)


def test_rate_limit_below_six_a_minute_is_refused(intercom: SandboxClient) -> None:
    with pytest.raises(requests.HTTPError):
        intercom.control("PUT", "/rate_limit", {"per_minute": 5})


# --- faults ----------------------------------------------------------------------------------


def test_error_rate_one_fails_every_call(faulty: SandboxClient) -> None:
    faulty.control("PUT", "/faults", {"error_rate": 1.0})
    statuses = set()
    for path in ("/admins", "/teams", "/contacts", "/tags") * 5:
        response = faulty.get(path)
        statuses.add(response.status_code)
        assert response.status_code in (500, 502, 503)
        assert error_codes(response) == ["server_error"]
        assert "X-RateLimit-Remaining" in response.headers
    assert len(statuses) >= 2  # a mix of 500, 502 and 503
    faulty.control("PUT", "/faults", {"error_rate": 0})
    assert faulty.get("/admins").status_code == 200


def test_drop_rate_one_closes_every_connection(faulty: SandboxClient) -> None:
    faulty.control("PUT", "/faults", {"drop_rate": 1.0})
    for _ in range(3):
        with pytest.raises(requests.ConnectionError):
            faulty.get("/admins")
    faulty.control("PUT", "/faults", {"drop_rate": 0})
    assert faulty.get("/admins").status_code == 200


def test_truncate_rate_one_cuts_every_body(faulty: SandboxClient) -> None:
    faulty.control("PUT", "/faults", {"truncate_rate": 1.0})
    for path in ("/admins", "/contacts"):
        try:
            response = faulty.get(path)
            body = response.content
        except (requests.exceptions.ChunkedEncodingError, requests.exceptions.ContentDecodingError):
            continue
        declared = int(response.headers["Content-Length"])
        assert len(body) < declared
        with pytest.raises(ValueError):
            json.loads(body)
    faulty.control("PUT", "/faults", {"truncate_rate": 0})
    assert faulty.get("/admins").json()["type"] == "admin.list"


def test_latency_slows_every_call(faulty: SandboxClient) -> None:
    faulty.control("PUT", "/faults", {"latency_ms": 200})
    for _ in range(2):
        started = time.perf_counter()
        assert faulty.get("/admins").status_code == 200
        assert time.perf_counter() - started >= 0.2
    faulty.control("PUT", "/faults", {"latency_ms": 0})
    started = time.perf_counter()
    faulty.get("/admins")
    assert time.perf_counter() - started < 0.2


def test_unknown_fault_is_refused(intercom: SandboxClient) -> None:
    with pytest.raises(requests.HTTPError):
        intercom.control("PUT", "/faults", {"gremlins": 1})


# --- determinism -----------------------------------------------------------------------------


def snapshot(config: SandboxConfig) -> list[bytes]:
    """Raw bytes of a conversation, two contact pages and a conversations page."""
    with RunningSandbox(Sandbox(config)) as running:
        client = SandboxClient(running)
        conversation_id = running.sandbox.workspace.conversations[17].id
        bodies = [client.get(f"/conversations/{conversation_id}").content]
        first = client.get("/contacts", params={"per_page": 50})
        cursor = first.json()["pages"]["next"]["starting_after"]
        second = client.get("/contacts", params={"per_page": 50, "starting_after": cursor})
        conversations = client.get("/conversations", params={"per_page": 20})
        bodies += [first.content, second.content, conversations.content]
    assert all(len(b) > 1_000 for b in bodies)
    return bodies


def test_same_seed_gives_byte_identical_responses() -> None:
    one = snapshot(SandboxConfig(seed=7, scale="tiny"))
    two = snapshot(SandboxConfig(seed=7, scale="tiny"))
    assert one == two
    other = snapshot(SandboxConfig(seed=8, scale="tiny"))
    assert all(a != b for a, b in zip(one, other, strict=True))


EVENT_IDS_SCRIPT = """
import json
from intercom_sandbox.http_types import Request
from intercom_sandbox import Sandbox, SandboxConfig
sandbox = Sandbox(SandboxConfig(seed=1, scale="tiny"))
ws = sandbox.workspace
recent = [e for events in ws.events.values() for e in events if e.created_at > ws.now - 80 * 86400]
contact_id = recent[0].contact_id
query = {"type": "user", "intercom_user_id": contact_id}
body = sandbox.router.handle(Request("GET", "/events", query)).body
print(json.dumps([e["id"] for e in body["events"]]))
"""


def test_event_ids_do_not_depend_on_the_process_hash_seed() -> None:
    """Ids must be the same in every run, not only within one Python process."""
    root = Path(__file__).resolve().parents[2]
    outputs = []
    for hash_seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        done = subprocess.run(
            [sys.executable, "-c", EVENT_IDS_SCRIPT],
            cwd=root,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        outputs.append(json.loads(done.stdout))
    assert outputs[0]
    assert outputs[0] == outputs[1]
