"""An Intercom REST client that behaves well: paced, retrying, and clear about failures.

- Paces itself on X-RateLimit-Remaining / X-RateLimit-Reset and, on 429, waits for the reset.
- Retries 5xx answers, timeouts, dropped connections and truncated bodies with backoff, up to a
  limit, then fails naming the endpoint.
- Turns 401 and 403 into messages that say what to do; never puts the token in a message.
- Walks every pagination style Intercom uses, and refuses a cursor that does not advance.

What happens on each kind of failure is one table, the retry policy below: `classify` maps an
answer or an exception to a row, and `IntercomClient.request` does what the row says.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import Enum
from typing import Any, overload

import requests
from urllib3.exceptions import NewConnectionError

from intercom_pipeline.settings import IntercomSettings
from intercom_pipeline.sources.intercom.errors import (
    IntercomAuthError,
    IntercomError,
    IntercomPermissionError,
    NotIntercom,
)
from intercom_pipeline.sources.intercom.settings import MAX_WALK_PAGES
from intercom_pipeline.sources.intercom.walk import PageGuard

log = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({500, 502, 503, 504})
MAX_PER_PAGE = 150
POOL_SIZE = 128
# A call is sent at most 11 times. Where a fifth of all calls fail (the fault benchmark), 6 tries
# gave up on one call in 21,000, so one faulty demo sync in four failed; 11 give up on one in
# 80 million. The backoff stops growing at 8 s: an outage still fails within a minute.
MAX_RETRIES = 10
MAX_BACKOFF_SECONDS = 8.0
# The share of each rate-limit window that bulk calls (one record each, many at once) leave to
# walks (a listing's next page, which brings more work), until the window's last second, when
# bulk calls may take it: the walks never wait for the window to reset, and no budget is lost.
WALK_RESERVE_SHARE = 0.05
WALK_RESERVE_RELEASE_SECONDS = 1.0


# IntercomError.code when Intercom cannot have acted on the request (refused, or rate limited
# throughout): a caller of a non-idempotent POST may send it again later.
NOT_SENT = "not_sent"


# --- the retry policy ----------------------------------------------------------------------


class Wait(Enum):
    """How the client waits before sending a failed request again, and how many times."""

    NEVER = "not retried: the error is raised at once"
    RESET = "until X-RateLimit-Reset, at most max_rate_limit_wait; max_rate_limit_waits times"
    BACKOFF = "backoff_seconds * 2**retries, at most MAX_BACKOFF_SECONDS; max_retries times"


@dataclass(frozen=True)
class Failure:
    """One kind of failure and what the client does about it.

    `may_have_acted`: Intercom may have acted on the request. Then a request that acts
    (`idempotent=False`) is not sent again, and the error raised on giving up has no code;
    otherwise it has code NOT_SENT, so a caller knows it may send the request later.
    `error` is the type raised on giving up; `hint` (403 only) says what the refusal means.
    """

    kind: str
    wait: Wait
    may_have_acted: bool
    error: type[IntercomError]
    hint: str = ""


_PLAN_HINT = "the workspace's plan does not include the module behind {path}"
_PERMISSION_HINT = "the token lacks the permission {path} needs; grant it in the app's settings"

# fmt: off
# name          = Failure(kind,             wait,         acted?, error on giving up[, hint])                 # when
RATE_LIMITED    = Failure("rate_limited",    Wait.RESET,   False, IntercomError)                              # 429
SERVER_ERROR    = Failure("server_error",    Wait.BACKOFF, True,  IntercomError)                              # 500 502 503 504
NOT_CONNECTED   = Failure("not_connected",   Wait.BACKOFF, False, IntercomError)                              # never connected: refused, no DNS, connect timeout
CONNECTION_LOST = Failure("connection_lost", Wait.BACKOFF, True,  IntercomError)                              # dropped or reset once connected
TIMED_OUT       = Failure("timed_out",       Wait.BACKOFF, True,  IntercomError)                              # no answer within timeout_seconds
TRUNCATED_BODY  = Failure("truncated_body",  Wait.BACKOFF, True,  IntercomError)                              # body cut short
MALFORMED_BODY  = Failure("malformed_body",  Wait.BACKOFF, True,  IntercomError)                              # a ValueError: a body not JSON, a bad header...
UNAUTHORIZED    = Failure("unauthorized",    Wait.NEVER,   False, IntercomAuthError)                          # 401
PLAN_RESTRICTED = Failure("plan_restricted", Wait.NEVER,   False, IntercomPermissionError, _PLAN_HINT)        # 403 api_plan_restricted
FORBIDDEN       = Failure("forbidden",       Wait.NEVER,   False, IntercomPermissionError, _PERMISSION_HINT)  # any other 403
NOT_FOUND       = Failure("not_found",       Wait.NEVER,   False, IntercomError)                              # 404
REJECTED        = Failure("rejected",        Wait.NEVER,   False, IntercomError)                              # any other status >= 400
# fmt: on

POLICY = (
    RATE_LIMITED,
    SERVER_ERROR,
    NOT_CONNECTED,
    CONNECTION_LOST,
    TIMED_OUT,
    TRUNCATED_BODY,
    MALFORMED_BODY,
    UNAUTHORIZED,
    PLAN_RESTRICTED,
    FORBIDDEN,
    NOT_FOUND,
    REJECTED,
)

# Which answer is which failure; a status under 400 is a success, any other one is REJECTED.
# A 403 whose error code is api_plan_restricted is PLAN_RESTRICTED (see classify).
_BY_STATUS: dict[int, Failure] = {
    429: RATE_LIMITED,
    **dict.fromkeys(RETRY_STATUSES, SERVER_ERROR),
    401: UNAUTHORIZED,
    403: FORBIDDEN,
    404: NOT_FOUND,
}

# Which exception is which failure, first match wins; any other exception propagates as is.
# A ConnectionError whose connection was never made is NOT_CONNECTED (see classify).
_BY_EXCEPTION: tuple[tuple[type[Exception], Failure], ...] = (
    (requests.ConnectTimeout, NOT_CONNECTED),  # also a ConnectionError and a Timeout
    (requests.ConnectionError, CONNECTION_LOST),
    (requests.Timeout, TIMED_OUT),
    (requests.exceptions.ChunkedEncodingError, TRUNCATED_BODY),
    (ValueError, MALFORMED_BODY),
)
RETRIED_EXCEPTIONS = tuple(kind for kind, _ in _BY_EXCEPTION)


@overload
def classify(outcome: requests.Response) -> Failure | None: ...
@overload
def classify(outcome: Exception) -> Failure: ...
def classify(outcome: requests.Response | Exception) -> Failure | None:
    """The policy's row for one attempt's outcome, an answer or an exception.

    None for an answer that succeeded. An exception must be one of RETRIED_EXCEPTIONS: the client
    lets any other propagate unclassified, so here it is a TypeError. Pure: it reads only what was
    already received, so the table can be tested without a server.
    """
    if isinstance(outcome, requests.Response):
        if outcome.status_code < 400:
            return None
        if outcome.status_code == 403 and _first_error(outcome)[0] == "api_plan_restricted":
            return PLAN_RESTRICTED
        return _BY_STATUS.get(outcome.status_code, REJECTED)
    if isinstance(outcome, requests.ConnectionError) and _never_made(outcome):
        return NOT_CONNECTED
    for kind, failure in _BY_EXCEPTION:
        if isinstance(outcome, kind):
            return failure
    raise TypeError(f"{type(outcome).__name__} is not a failure the retry policy handles")


# --- the client ----------------------------------------------------------------------------


class IntercomClient:
    """One workspace's API. Thread-safe: the pacing state is shared by all threads."""

    def __init__(
        self,
        settings: IntercomSettings,
        *,
        max_retries: int = MAX_RETRIES,
        backoff_seconds: float = 0.5,
        timeout_seconds: float = 60.0,
        max_rate_limit_wait: float = 15.0,
        max_rate_limit_waits: int = 100,
        sleep: Callable[[float], None] = time.sleep,
        max_walk_pages: int = MAX_WALK_PAGES,
    ) -> None:
        self.settings = settings
        self.max_walk_pages = max_walk_pages
        self.max_retries = max_retries
        self.backoff_seconds = backoff_seconds
        self.timeout_seconds = timeout_seconds
        self.max_rate_limit_wait = max_rate_limit_wait
        self.max_rate_limit_waits = max_rate_limit_waits
        self.sleep = sleep
        self.session = requests.Session()
        # Enough pooled connections for every concurrent worker (detail fetches, the push).
        adapter = requests.adapters.HTTPAdapter(pool_connections=4, pool_maxsize=POOL_SIZE)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self.session.headers.update(
            {
                "Authorization": f"Bearer {settings.access_token.reveal()}",
                "Accept": "application/json",
                "Intercom-Version": settings.api_version,
            }
        )
        self._pace_lock = threading.Lock()
        self._remaining: int | None = None
        self._reset_at: float = 0.0
        self._in_flight = 0
        # Counts for run metadata: every call sent, 429s waited out, retries after failures.
        self.stats = {"api_calls": 0, "rate_limited": 0, "retries": 0}
        # The same counts by endpoint (the path's first segment: "conversations"), for progress.
        self.endpoint_stats: dict[str, dict[str, int]] = {}
        self.rate_limit: int | None = None  # X-RateLimit-Limit: calls allowed per 10 s window

    # --- one request -----------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
        idempotent: bool = True,
        bulk: bool = False,
    ) -> Any:
        """Send one request and return its decoded JSON (None for an empty body).

        `bulk`: one of many calls for one record each (a conversation's parts); those leave a
        reserve of each rate-limit window to the walks (see WALK_RESERVE_SHARE).

        Each failure is handled as its row in the retry policy says. With `idempotent=False` (a
        POST that acts, such as POST /messages), a failure after the request may have reached
        Intercom (5xx, timeout, dropped connection, truncated body) is raised at once: a retry
        could act twice. Only a connection never made, or a 429, is retried.

        The whole attempt sits in the `try`, decoding included: a body or a rate-limit header
        that does not parse is a ValueError, retried like a truncated body.
        """
        url = f"{self.settings.base_url}{path}"
        failures = waits = 0
        while True:
            try:
                response = self._send(method, url, params, json, bulk)
                self._check_is_intercom(method, path, response)
                failure = classify(response)
                if failure is None:
                    return response.json() if response.content else None
                if failure.wait is Wait.RESET:
                    waits += 1
                    self._wait_out_rate_limit(method, path, failure, response, waits)
                    continue
                if failure.wait is Wait.NEVER:
                    raise self._refusal(method, path, failure, response)
                outcome: requests.Response | Exception = response
            except RETRIED_EXCEPTIONS as exc:
                failure, outcome = classify(exc), exc
            self._back_off(method, path, failure, outcome, failures, idempotent)
            failures += 1

    def _send(
        self, method: str, url: str, params: dict[str, Any] | None, json: Any, bulk: bool
    ) -> requests.Response:
        """One call, once the window's budget allows it; its answer's headers pace later calls."""
        self._wait_for_budget(bulk)
        self._count("api_calls", url[len(self.settings.base_url) :])
        try:
            response = self.session.request(
                method, url, params=params, json=json, timeout=self.timeout_seconds
            )
        finally:
            self._answered()
        self._note_limits(response)
        return response

    def _check_is_intercom(self, method: str, path: str, response: requests.Response) -> None:
        """An HTML answer comes from a web server that is not Intercom's API: say so, at once.

        Retrying cannot help and the token is not the cause: the base URL is. Only the page's
        title is quoted, never the page.
        """
        if "html" not in response.headers.get("Content-Type", "").lower():
            return
        title = _html_title(response.text)
        raise NotIntercom(
            f"{method} {path}: the server at {self.settings.base_url} is not Intercom's API (it "
            f"answered {response.status_code} with an HTML page{f' titled {title!r}' if title else ''}"
            "). Set INTERCOM_BASE_URL to Intercom's API (or unset it and set INTERCOM_REGION).",
            response.status_code,
        )

    def _wait_out_rate_limit(
        self, method: str, path: str, failure: Failure, response: requests.Response, waits: int
    ) -> None:
        """A 429 is not a failure: Intercom did not act, so wait for the reset, within a bound."""
        self._count("rate_limited", path)
        if waits > self.max_rate_limit_waits:
            raise failure.error(
                f"{method} {path}: still rate limited after {waits} waits for the "
                "window to reset; another app may be using this workspace's budget",
                response.status_code,
                _code(failure),
            )
        self._wait_for_reset(response)

    def _back_off(
        self,
        method: str,
        path: str,
        failure: Failure,
        outcome: requests.Response | Exception,
        failures: int,
        idempotent: bool,
    ) -> None:
        """Sleep before sending the request again, or raise if the policy says to stop.

        A request that acts is not sent again once Intercom may have seen it; any request gives
        up after max_retries retries, naming the endpoint. The token travels only in a header, so
        no exception text quoted here can hold it.
        """
        described = _describe(outcome)
        if failure.may_have_acted and not idempotent:
            raise failure.error(
                f"{method} {path}: {described}. Intercom may have acted on it, so it "
                "was not sent again."
            )
        if failures == self.max_retries:
            raise failure.error(
                f"{method} {path} failed {failures + 1} times, last: {described}. "
                "Intercom or the network is unavailable; the run can be retried safely.",
                code=_code(failure),
            )
        self._count("retries", path)
        delay = min(self.backoff_seconds * 2**failures, MAX_BACKOFF_SECONDS)
        log.warning("%s %s: %s; retrying in %.1fs", method, path, described, delay)
        self.sleep(delay)

    def _count(self, what: str, path: str) -> None:
        endpoint = endpoint_of(path)
        with self._pace_lock:
            self.stats[what] += 1
            counts = self.endpoint_stats.setdefault(endpoint, dict.fromkeys(self.stats, 0))
            counts[what] += 1

    def _note_limits(self, response: requests.Response) -> None:
        if limit := response.headers.get("X-RateLimit-Limit"):
            self.rate_limit = int(limit)
        remaining = response.headers.get("X-RateLimit-Remaining")
        reset = response.headers.get("X-RateLimit-Reset")
        if remaining is None or reset is None:
            return
        with self._pace_lock:
            if float(reset) > self._reset_at or self._remaining is None:
                self._remaining, self._reset_at = int(remaining), float(reset)
            else:  # answers arrive out of order: within a window, the lowest count is the latest
                self._remaining = min(self._remaining, int(remaining))

    def _wait_for_budget(self, bulk: bool = False) -> None:
        """Before a call: wait while the window's budget is spent by answered and in-flight calls.

        Counting the calls still in flight keeps many threads from overshooting the window. A
        bulk call also leaves the walks' reserve, until the window's last second.
        """
        while True:
            with self._pace_lock:
                now = time.time()
                if self._remaining is not None and now >= self._reset_at:
                    self._remaining = None  # a new window: learn it from answers
                kept = self._walk_reserve(now) if bulk else 0
                if self._remaining is None or self._remaining - self._in_flight > kept:
                    self._in_flight += 1
                    return
                until = self._reset_at - (WALK_RESERVE_RELEASE_SECONDS if kept else 0.0)
            self.sleep(min(max(until - now, 0.01), self.max_rate_limit_wait))

    def _walk_reserve(self, now: float) -> int:
        """Calls of this window bulk calls leave to the walks: none in its last second."""
        if not self.rate_limit or self._reset_at - now <= WALK_RESERVE_RELEASE_SECONDS:
            return 0
        return max(1, round(self.rate_limit * WALK_RESERVE_SHARE))

    def _answered(self) -> None:
        with self._pace_lock:
            self._in_flight -= 1

    def _wait_for_reset(self, response: requests.Response) -> None:
        reset = response.headers.get("X-RateLimit-Reset")
        wait = float(reset) - time.time() if reset else self.backoff_seconds
        log.info("rate limited by Intercom; waiting %.1fs for the window to reset", max(wait, 0))
        self.sleep(min(max(wait, 0.05), self.max_rate_limit_wait))

    def _refusal(
        self, method: str, path: str, failure: Failure, response: requests.Response
    ) -> IntercomError:
        """The error for an answer not worth retrying, saying what to do; never the token."""
        code, message = _first_error(response)
        status = response.status_code
        if failure is UNAUTHORIZED:
            return failure.error(
                f"Intercom rejected the access token (401 {code or 'unauthorized'}): it is missing, "
                "invalid or revoked, or the workspace is hosted in another region. Create a token in "
                "Intercom's Developer Hub, set INTERCOM_ACCESS_TOKEN, and check INTERCOM_REGION "
                f"(now {self.settings.region!r}).",
                status,
                code,
            )
        if failure.hint:
            hint = failure.hint.format(path=path)
            return failure.error(f"{method} {path}: 403 {code}: {message} ({hint}).", status, code)
        return failure.error(
            f"{method} {path}: {status} {code}: {message}",
            status,
            code,
            response.headers.get("Link"),
        )

    # --- pagination ------------------------------------------------------------------------

    def cursor_list(
        self, path: str, key: str, per_page: int = MAX_PER_PAGE
    ) -> Iterator[dict[str, Any]]:
        """GET lists paged by `starting_after` in the query string (contacts, conversations)."""

        def fetch(cursor: str | None) -> Any:
            params: dict[str, Any] = {"per_page": per_page}
            if cursor:
                params["starting_after"] = cursor
            return self.request("GET", path, params=params)

        return self._walk_cursor("GET", path, key, fetch)

    def search(
        self,
        path: str,
        query: dict[str, Any],
        key: str,
        *,
        per_page: int = MAX_PER_PAGE,
        sort: dict[str, str] | None = None,
    ) -> Iterator[dict[str, Any]]:
        """POST searches, paged by `starting_after` in the body (never the query string)."""

        def fetch(cursor: str | None) -> Any:
            pagination: dict[str, Any] = {"per_page": per_page}
            if cursor:
                pagination["starting_after"] = cursor
            body: dict[str, Any] = {"query": query, "pagination": pagination}
            if sort:
                body["sort"] = sort
            return self.request("POST", path, json=body)

        return self._walk_cursor("POST", path, key, fetch)

    def _walk_cursor(
        self, method: str, path: str, key: str, fetch: Callable[[str | None], Any]
    ) -> Iterator[dict[str, Any]]:
        """Follow `pages.next.starting_after` to the end, under a `PageGuard`."""
        guard = PageGuard(method, path, max_pages=self.max_walk_pages)
        cursor: str | None = None
        while True:
            page = fetch(cursor)
            items = page.get(key) or []
            cursor = _next_cursor(page)
            guard.check(
                items,
                token=cursor,
                total_count=page.get("total_count"),
                total_pages=(page.get("pages") or {}).get("total_pages"),
            )
            yield from items
            if cursor is None:
                return

    def numbered_pages(
        self,
        path: str,
        key: str = "data",
        *,
        method: str = "GET",
        per_page: int = 50,
        params: dict[str, Any] | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Page-number lists; paging (and `params`) go in the query string, even for POST."""
        guard = PageGuard(method, path, max_pages=self.max_walk_pages)
        guard.first(1)
        page_number = 1
        while True:
            query = {**(params or {}), "page": page_number, "per_page": per_page}
            page = self.request(method, path, params=query)
            items = page.get(key) or []
            pages = page.get("pages") or {}
            total_pages = pages.get("total_pages") or 1
            last = not items or page_number >= total_pages or not pages.get("next")
            page_number = _next_page_number(pages, page_number)
            guard.check(
                items,
                token=None if last else page_number,
                total_count=page.get("total_count"),
                total_pages=pages.get("total_pages"),
            )
            yield from items
            if last:
                return

    def scroll(self, path: str = "/companies/scroll") -> Iterator[dict[str, Any]]:
        """The companies scroll, to its end (the caller restarts it from scratch on failure).

        Every page moves the scroll on, even one whose answer is lost: sent again with the same
        scroll_param it would return the next page and skip this one. So a page is never
        retried (only a 429, which Intercom did not act on, is waited out): any failure ends
        the scroll. A scroll that never ends stops with `PaginationLoop` (see `PageGuard`): its
        scroll_param names the scroll and may stay the same throughout, so the guard watches the
        ids it returns and the page bound, not the parameter.
        """
        guard = PageGuard("GET", path, max_pages=self.max_walk_pages)
        params: dict[str, Any] = {}
        while True:
            page = self.request("GET", path, params=params, idempotent=False)
            items = page.get("data") or []
            if not items:
                return
            guard.check(items)  # the scroll_param stays the same throughout: not a cursor
            yield from items
            params = {"scroll_param": page["scroll_param"]}


def _next_cursor(page: dict[str, Any]) -> str | None:
    following = (page.get("pages") or {}).get("next")
    if isinstance(following, dict):
        return following.get("starting_after") or None
    return None


# Second path segments that name a listing of their own, not an object's id.
NAMED_LISTINGS = frozenset({"activity_logs", "collections", "help_centers", "deleted", "scroll"})


def endpoint_of(path: str) -> str:
    """What an API path reads: its first segment, with a named listing under it.

    "/conversations/123" -> "conversations"; "/conversations/deleted" -> "conversations/deleted".
    """
    segments = path.lstrip("/").split("?", 1)[0].split("/")
    if len(segments) > 1 and segments[1] in NAMED_LISTINGS:
        return "/".join(segments[:2])
    return segments[0]


def _next_page_number(pages: dict[str, Any], current: int) -> int:
    """The page the server says comes next (`next.page`), else the one after `current`."""
    following = pages.get("next")
    if isinstance(following, dict) and isinstance(following.get("page"), int):
        return int(following["page"])
    return current + 1


def _short(text: str, limit: int) -> str:
    """`text` on one line, cut at a word boundary (marked "...") if longer than `limit`."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    return text[:limit].rsplit(" ", 1)[0] + "..."


def _html_title(text: str) -> str:
    """The <title> of an HTML page, shortened to a few words; "" without one."""
    found = re.search(r"<title[^>]*>(.*?)</title>", text[:4096], re.IGNORECASE | re.DOTALL)
    title = " ".join(found.group(1).split()) if found else ""
    return _short(title, 80)


def _first_error(response: requests.Response) -> tuple[str | None, str]:
    try:
        errors = response.json().get("errors") or [{}]
        return errors[0].get("code"), errors[0].get("message") or ""
    except (ValueError, AttributeError):
        return None, _short(response.text, 200)


def _never_made(exc: requests.ConnectionError) -> bool:
    """The connection was refused or never made, so Intercom cannot have seen the request."""
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return isinstance(reason, NewConnectionError)


def _code(failure: Failure) -> str | None:
    """The IntercomError.code on giving up: NOT_SENT when Intercom cannot have acted."""
    return None if failure.may_have_acted else NOT_SENT


def _describe(outcome: requests.Response | Exception) -> str:
    """The failure, for messages and logs: its type and text, which never hold the token."""
    if isinstance(outcome, requests.Response):
        # A retried 5xx: the wording when it was raised as a `_Retryable`, kept for log searches.
        return f"_Retryable: HTTP {outcome.status_code}"
    if isinstance(outcome, ValueError):
        return "a truncated or malformed response body"
    text = _ADDRESS.sub("", str(outcome)).strip()
    if not text:
        return type(outcome).__name__
    cause = next((plain for pattern, plain in _CAUSES if re.search(pattern, text, re.I)), None)
    lead = f"{cause}: " if cause else ""
    return f"{lead}{type(outcome).__name__}: {text}"


# An exception's text, whole (never cut mid-word), without object addresses, led by its cause.
_ADDRESS = re.compile(r"<[\w.]+ object at 0x[0-9a-f]+>:? ?")
_CAUSES = (
    (r"connection refused", "connection refused"),
    (r"connection reset", "connection reset by the server"),
    (
        r"remote ?end closed|remotedisconnected",
        "the server closed the connection without answering",
    ),
    (r"broken pipe", "the server closed the connection (broken pipe)"),
    (
        r"name or service not known|nodename nor servname|getaddrinfo failed|failed to resolve",
        "the host name does not resolve",
    ),
)
