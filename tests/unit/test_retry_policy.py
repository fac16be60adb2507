"""The client's retry policy as a table: which failure is which row, and what each row decides."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest
import requests
from requests.structures import CaseInsensitiveDict
from urllib3.exceptions import MaxRetryError, NewConnectionError, ProtocolError

from intercom_pipeline.settings import intercom_settings
from intercom_pipeline.sources.intercom.client import (
    CONNECTION_LOST,
    FORBIDDEN,
    MALFORMED_BODY,
    NOT_CONNECTED,
    NOT_FOUND,
    NOT_SENT,
    PLAN_RESTRICTED,
    POLICY,
    RATE_LIMITED,
    REJECTED,
    RETRIED_EXCEPTIONS,
    SERVER_ERROR,
    TIMED_OUT,
    TRUNCATED_BODY,
    UNAUTHORIZED,
    Failure,
    IntercomAuthError,
    IntercomClient,
    IntercomError,
    IntercomPermissionError,
    Wait,
    classify,
)

TOKEN = "tok_unit_test_secret"


def answer(status: int, body: bytes = b"", headers: dict[str, str] | None = None):
    response = requests.Response()
    response.status_code = status
    response._content = body
    response.headers = CaseInsensitiveDict(headers or {})
    response.encoding = "utf-8"
    return response


def error_body(code: str, message: str = "a message") -> bytes:
    return json.dumps(
        {"type": "error.list", "errors": [{"code": code, "message": message}]}
    ).encode()


def refused() -> requests.ConnectionError:
    reason = NewConnectionError(None, "Failed to establish a new connection: [Errno 111]")  # type: ignore[arg-type]
    return requests.ConnectionError(MaxRetryError(None, "/admins", reason))  # type: ignore[arg-type]


def reset_by_peer() -> requests.ConnectionError:
    cause = ProtocolError("Connection aborted.", ConnectionResetError(104, "reset by peer"))
    return requests.ConnectionError(cause)


# --- the table itself ----------------------------------------------------------------------


def test_the_table_decides_what_it_always_decided() -> None:
    decisions = {f.kind: (f.wait, f.may_have_acted, f.error) for f in POLICY}
    assert decisions == {
        "rate_limited": (Wait.RESET, False, IntercomError),
        "server_error": (Wait.BACKOFF, True, IntercomError),
        "not_connected": (Wait.BACKOFF, False, IntercomError),
        "connection_lost": (Wait.BACKOFF, True, IntercomError),
        "timed_out": (Wait.BACKOFF, True, IntercomError),
        "truncated_body": (Wait.BACKOFF, True, IntercomError),
        "malformed_body": (Wait.BACKOFF, True, IntercomError),
        "unauthorized": (Wait.NEVER, False, IntercomAuthError),
        "plan_restricted": (Wait.NEVER, False, IntercomPermissionError),
        "forbidden": (Wait.NEVER, False, IntercomPermissionError),
        "not_found": (Wait.NEVER, False, IntercomError),
        "rejected": (Wait.NEVER, False, IntercomError),
    }


def test_only_403s_carry_a_hint_naming_the_path() -> None:
    assert {f.kind for f in POLICY if f.hint} == {"plan_restricted", "forbidden"}
    assert PLAN_RESTRICTED.hint.format(path="/tickets") == (
        "the workspace's plan does not include the module behind /tickets"
    )
    assert FORBIDDEN.hint.format(path="/tickets") == (
        "the token lacks the permission /tickets needs; grant it in the app's settings"
    )


def test_rows_are_frozen() -> None:
    with pytest.raises(AttributeError):
        SERVER_ERROR.wait = Wait.NEVER  # type: ignore[misc]


# --- answers ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (200, b'{"type": "admin.list"}', None),
        (204, b"", None),
        (304, b"", None),
        (429, error_body("rate_limit_exceeded"), RATE_LIMITED),
        (500, b"", SERVER_ERROR),
        (502, b"<html>bad gateway</html>", SERVER_ERROR),
        (503, error_body("service_unavailable"), SERVER_ERROR),
        (504, b"", SERVER_ERROR),
        (501, b"", REJECTED),  # only 500, 502, 503 and 504 are worth another try
        (505, b"", REJECTED),
        (401, error_body("unauthorized", "Access Token Invalid"), UNAUTHORIZED),
        (403, error_body("api_plan_restricted", "Active subscription needed"), PLAN_RESTRICTED),
        (403, error_body("token_unauthorized", "Not authorized"), FORBIDDEN),
        (403, b"<html>Forbidden</html>", FORBIDDEN),  # no JSON, so no code to read
        (404, error_body("not_found"), NOT_FOUND),
        (400, error_body("parameter_invalid"), REJECTED),
        (409, error_body("conflict"), REJECTED),
        (410, error_body("gone"), REJECTED),
        (422, error_body("parameter_invalid"), REJECTED),
    ],
)
def test_answers(status: int, body: bytes, expected: Failure | None) -> None:
    assert classify(answer(status, body)) is expected


# --- exceptions ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("exception", "expected"),
    [
        (refused(), NOT_CONNECTED),
        (requests.ConnectTimeout("connect timed out"), NOT_CONNECTED),
        (reset_by_peer(), CONNECTION_LOST),
        (requests.ConnectionError(), CONNECTION_LOST),
        (requests.exceptions.SSLError("handshake"), CONNECTION_LOST),
        (requests.ReadTimeout("read timed out"), TIMED_OUT),
        (requests.exceptions.ChunkedEncodingError("IncompleteRead"), TRUNCATED_BODY),
        (requests.exceptions.JSONDecodeError("Expecting value", '{"a": ', 6), MALFORMED_BODY),
        (ValueError("invalid literal for int()"), MALFORMED_BODY),  # a bad rate-limit header
    ],
)
def test_exceptions(exception: Exception, expected: Failure) -> None:
    assert isinstance(exception, RETRIED_EXCEPTIONS)
    assert classify(exception) is expected


def test_any_other_exception_is_not_the_policy_s_to_classify() -> None:
    assert not isinstance(KeyError("x"), RETRIED_EXCEPTIONS)  # so request() lets it propagate
    with pytest.raises(TypeError, match="KeyError is not a failure"):
        classify(KeyError("x"))


def test_every_row_is_reachable() -> None:
    answers = [answer(s, error_body("x")) for s in (429, 500, 401, 403, 404, 400)]
    answers.append(answer(403, error_body("api_plan_restricted")))
    exceptions = [
        refused(),
        reset_by_peer(),
        requests.ReadTimeout(),
        requests.exceptions.ChunkedEncodingError(),
        ValueError(),
    ]
    assert {classify(a) for a in answers} | {classify(e) for e in exceptions} == set(POLICY)


# --- the loop doing what the table says ----------------------------------------------------


class Scripted:
    """A client whose session plays back outcomes instead of calling Intercom."""

    def __init__(self, *outcomes: requests.Response | Exception, **options: object) -> None:
        settings = intercom_settings(
            {"INTERCOM_BASE_URL": "http://127.0.0.1:9", "INTERCOM_ACCESS_TOKEN": TOKEN}
        )
        self.slept: list[float] = []
        self.client = IntercomClient(settings, sleep=self.slept.append, **options)  # type: ignore[arg-type]
        self.outcomes: Iterator[requests.Response | Exception] = iter(outcomes)
        self.client.session.request = self.play  # type: ignore[method-assign]

    def play(self, *args: object, **kwargs: object) -> requests.Response:
        outcome = next(self.outcomes)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome


def test_backoff_doubles_then_gives_up_naming_the_endpoint() -> None:
    run = Scripted(*[answer(503)] * 4, max_retries=3, backoff_seconds=0.5)
    with pytest.raises(IntercomError) as raised:
        run.client.request("GET", "/admins")
    assert str(raised.value) == (
        "GET /admins failed 4 times, last: _Retryable: HTTP 503. Intercom or the network is "
        "unavailable; the run can be retried safely."
    )
    assert (raised.value.status, raised.value.code) == (None, None)
    assert run.slept == [0.5, 1.0, 2.0]
    assert run.client.stats == {"api_calls": 4, "rate_limited": 0, "retries": 3}


def test_a_connection_never_made_gives_up_as_not_sent() -> None:
    run = Scripted(refused(), refused(), max_retries=1, backoff_seconds=0.25)
    with pytest.raises(IntercomError, match="POST /messages failed 2 times") as raised:
        run.client.request("POST", "/messages", json={}, idempotent=False)
    assert raised.value.code == NOT_SENT
    assert run.slept == [0.25]


def test_a_request_that_acts_is_not_sent_twice() -> None:
    run = Scripted(requests.ReadTimeout("read timed out"))
    with pytest.raises(IntercomError) as raised:
        run.client.request("POST", "/messages", json={}, idempotent=False)
    assert str(raised.value) == (
        "POST /messages: ReadTimeout: read timed out. Intercom may have acted on it, so it was "
        "not sent again."
    )
    assert raised.value.code is None
    assert run.client.stats == {"api_calls": 1, "rate_limited": 0, "retries": 0}


def test_a_truncated_body_is_retried_then_the_answer_returned() -> None:
    run = Scripted(answer(200, b'{"type": "adm'), answer(200, b'{"type": "admin.list"}'))
    assert run.client.request("GET", "/admins") == {"type": "admin.list"}
    assert run.client.stats["retries"] == 1


def test_429_waits_for_the_reset_within_bounds_and_is_not_a_failure() -> None:
    limited = answer(429, error_body("rate_limit_exceeded"), {"X-RateLimit-Reset": "1"})
    run = Scripted(limited, answer(429), answer(204), max_retries=0, backoff_seconds=0.3)
    assert run.client.request("POST", "/messages", json={}, idempotent=False) is None
    assert run.slept == [0.05, 0.3]  # a past reset: the floor; no reset header: the backoff
    assert run.client.stats == {"api_calls": 3, "rate_limited": 2, "retries": 0}


def test_429_throughout_gives_up_as_not_sent() -> None:
    far = {"X-RateLimit-Reset": "99999999999"}
    run = Scripted(*[answer(429, b"", far)] * 3, max_rate_limit_waits=2, max_rate_limit_wait=4.0)
    with pytest.raises(IntercomError) as raised:
        run.client.request("GET", "/contacts")
    assert str(raised.value) == (
        "GET /contacts: still rate limited after 3 waits for the window to reset; another app "
        "may be using this workspace's budget"
    )
    assert (raised.value.status, raised.value.code) == (429, NOT_SENT)
    assert run.slept == [4.0, 4.0]


def test_refusals_are_raised_at_once_with_what_to_do_and_never_the_token() -> None:
    cases = [
        (answer(401, error_body("unauthorized")), IntercomAuthError, "INTERCOM_ACCESS_TOKEN"),
        (
            answer(403, error_body("api_plan_restricted", "Upgrade")),
            IntercomPermissionError,
            "GET /tickets: 403 api_plan_restricted: Upgrade (the workspace's plan does not "
            "include the module behind /tickets).",
        ),
        (
            answer(404, error_body("not_found", "Gone")),
            IntercomError,
            "GET /tickets: 404 not_found",
        ),
    ]
    for response, error_type, expected in cases:
        run = Scripted(response)
        with pytest.raises(error_type) as raised:
            run.client.request("GET", "/tickets")
        assert type(raised.value) is error_type
        assert expected in str(raised.value) and TOKEN not in str(raised.value)
        assert raised.value.status == response.status_code
        assert run.client.stats == {"api_calls": 1, "rate_limited": 0, "retries": 0}


def test_a_gone_contact_keeps_its_link() -> None:
    link = "<https://api.intercom.io/contacts/9>; rel=canonical"
    run = Scripted(answer(410, error_body("gone", "merged"), {"Link": link}))
    with pytest.raises(IntercomError) as raised:
        run.client.request("GET", "/contacts/1")
    assert (str(raised.value), raised.value.code, raised.value.link) == (
        "GET /contacts/1: 410 gone: merged",
        "gone",
        link,
    )


def test_bulk_calls_leave_the_walks_a_reserve_until_the_window_s_last_second() -> None:
    """5% of a 200-call window is 10 calls: with 10 left, a walk goes and a bulk call waits."""
    ends_at = time.time() + 5
    window = {
        "X-RateLimit-Limit": "200",
        "X-RateLimit-Remaining": "10",
        "X-RateLimit-Reset": f"{ends_at:.3f}",
    }
    run = Scripted(*[answer(200, b"{}", window)] * 3)
    run.client.request("GET", "/admins")  # learns the window: 10 calls left, 5 s to go
    run.client.request("POST", "/contacts/search", json={})  # a walk: at once
    assert run.slept == []

    def last_second_comes(seconds: float) -> None:
        run.slept.append(seconds)
        run.client._reset_at = time.time() + 0.5  # the window's last second has come

    run.client.sleep = last_second_comes
    run.client.request("GET", "/conversations/1", bulk=True)
    assert len(run.slept) == 1
    assert 3.5 < run.slept[0] < 4.01  # until one second before the reset, then it went
    assert run.client.stats["api_calls"] == 3
