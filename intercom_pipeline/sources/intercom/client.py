"""An Intercom REST client that behaves well: paced, retrying, and clear about failures.

- Paces itself on X-RateLimit-Remaining / X-RateLimit-Reset and, on 429, waits for the reset.
- Retries 5xx answers, timeouts, dropped connections and truncated bodies with backoff, up to a
  limit, then fails naming the endpoint.
- Turns 401 and 403 into messages that say what to do; never puts the token in a message.
- Walks every pagination style Intercom uses, and refuses a cursor that does not advance.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import requests
from urllib3.exceptions import NewConnectionError

from intercom_pipeline.settings import IntercomSettings

log = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({500, 502, 503, 504})
MAX_PER_PAGE = 150
POOL_SIZE = 128


# IntercomError.code when Intercom cannot have acted on the request (refused, or rate limited
# throughout): a caller of a non-idempotent POST may send it again later.
NOT_SENT = "not_sent"


class IntercomError(RuntimeError):
    """A request Intercom answered with an error the client will not retry."""

    def __init__(
        self,
        message: str,
        status: int | None = None,
        code: str | None = None,
        link: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.link = link  # the Link header: a merged contact's canonical address (410)


class IntercomAuthError(IntercomError):
    """401: the token is missing, invalid or revoked, or belongs to another region."""


class IntercomPermissionError(IntercomError):
    """403: the token lacks a permission or the workspace's plan lacks the module."""


class IntercomClient:
    """One workspace's API. Thread-safe: the pacing state is shared by all threads."""

    def __init__(
        self,
        settings: IntercomSettings,
        *,
        max_retries: int = 5,
        backoff_seconds: float = 0.5,
        timeout_seconds: float = 60.0,
        max_rate_limit_wait: float = 15.0,
        max_rate_limit_waits: int = 100,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.settings = settings
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

    # --- one request -----------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
        idempotent: bool = True,
    ) -> Any:
        """Send one request and return its decoded JSON (None for an empty body).

        With `idempotent=False` (a POST that acts, such as POST /messages), a failure after the
        request may have reached Intercom (5xx, timeout, dropped connection, truncated body) is
        raised at once: a retry could act twice. Only a connection never made is retried.
        """
        url = f"{self.settings.base_url}{path}"
        failures = waits = 0
        while True:
            self._wait_for_budget()
            self._count("api_calls")
            try:
                try:
                    response = self.session.request(
                        method, url, params=params, json=json, timeout=self.timeout_seconds
                    )
                finally:
                    self._answered()
                self._note_limits(response)
                if response.status_code == 429:
                    # A 429 is not a failure: wait for the window to reset, within a bound.
                    waits += 1
                    self._count("rate_limited")
                    if waits > self.max_rate_limit_waits:
                        raise IntercomError(
                            f"{method} {path}: still rate limited after {waits} waits for the "
                            "window to reset; another app may be using this workspace's budget",
                            429,
                            NOT_SENT,
                        )
                    self._wait_for_reset(response)
                    continue
                if response.status_code in RETRY_STATUSES:
                    raise _Retryable(f"HTTP {response.status_code}")
                if response.status_code >= 400:
                    raise self._error(method, path, response)
                return response.json() if response.content else None
            except (
                requests.ConnectionError,
                requests.Timeout,
                requests.exceptions.ChunkedEncodingError,
                ValueError,
                _Retryable,
            ) as exc:
                if not idempotent and not _never_sent(exc):
                    raise IntercomError(
                        f"{method} {path}: {_describe(exc)}. Intercom may have acted on it, so it "
                        "was not sent again."
                    ) from None
                if failures == self.max_retries:
                    raise IntercomError(
                        f"{method} {path} failed {failures + 1} times, last: {_describe(exc)}. "
                        "Intercom or the network is unavailable; the run can be retried safely.",
                        code=NOT_SENT if _never_sent(exc) else None,
                    ) from None
                self._count("retries")
                delay = self.backoff_seconds * 2**failures
                failures += 1
                log.warning("%s %s: %s; retrying in %.1fs", method, path, _describe(exc), delay)
                self.sleep(delay)

    def _count(self, what: str) -> None:
        with self._pace_lock:
            self.stats[what] += 1

    def _note_limits(self, response: requests.Response) -> None:
        remaining = response.headers.get("X-RateLimit-Remaining")
        reset = response.headers.get("X-RateLimit-Reset")
        if remaining is None or reset is None:
            return
        with self._pace_lock:
            if float(reset) > self._reset_at or self._remaining is None:
                self._remaining, self._reset_at = int(remaining), float(reset)
            else:  # answers arrive out of order: within a window, the lowest count is the latest
                self._remaining = min(self._remaining, int(remaining))

    def _wait_for_budget(self) -> None:
        """Before a call: wait while the window's budget is spent by answered and in-flight calls.

        Counting the calls still in flight keeps many threads from overshooting the window.
        """
        while True:
            with self._pace_lock:
                spent = self._remaining is not None and self._remaining <= self._in_flight
                if spent and time.time() >= self._reset_at:
                    self._remaining, spent = None, False  # a new window: learn it from answers
                if not spent:
                    self._in_flight += 1
                    return
                wait = self._reset_at - time.time()
            self.sleep(min(max(wait, 0.01), self.max_rate_limit_wait))

    def _answered(self) -> None:
        with self._pace_lock:
            self._in_flight -= 1

    def _wait_for_reset(self, response: requests.Response) -> None:
        reset = response.headers.get("X-RateLimit-Reset")
        wait = float(reset) - time.time() if reset else self.backoff_seconds
        log.info("rate limited by Intercom; waiting %.1fs for the window to reset", max(wait, 0))
        self.sleep(min(max(wait, 0.05), self.max_rate_limit_wait))

    def _error(self, method: str, path: str, response: requests.Response) -> IntercomError:
        code, message = _first_error(response)
        status = response.status_code
        if status == 401:
            return IntercomAuthError(
                f"Intercom rejected the access token (401 {code or 'unauthorized'}): it is missing, "
                "invalid or revoked, or the workspace is hosted in another region. Create a token in "
                "Intercom's Developer Hub, set INTERCOM_ACCESS_TOKEN, and check INTERCOM_REGION "
                f"(now {self.settings.region!r}).",
                status,
                code,
            )
        if status == 403:
            if code == "api_plan_restricted":
                hint = f"the workspace's plan does not include the module behind {path}"
            else:
                hint = (
                    f"the token lacks the permission {path} needs; grant it in the app's settings"
                )
            return IntercomPermissionError(
                f"{method} {path}: 403 {code}: {message} ({hint}).", status, code
            )
        return IntercomError(
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

        return self._walk_cursor(path, key, fetch)

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

        return self._walk_cursor(path, key, fetch)

    def _walk_cursor(
        self, path: str, key: str, fetch: Callable[[str | None], Any]
    ) -> Iterator[dict[str, Any]]:
        """Follow `pages.next.starting_after` to the end; a repeated cursor is an error."""
        seen: set[str] = set()
        cursor: str | None = None
        while True:
            page = fetch(cursor)
            yield from page.get(key) or []
            cursor = _next_cursor(page)
            if cursor is None:
                return
            _check_advances(path, cursor, seen)

    def numbered_pages(
        self, path: str, key: str = "data", *, method: str = "GET", per_page: int = 50
    ) -> Iterator[dict[str, Any]]:
        """Page-number lists; paging parameters go in the query string, even for POST."""
        page_number = 1
        while True:
            page = self.request(method, path, params={"page": page_number, "per_page": per_page})
            items = page.get(key) or []
            yield from items
            pages = page.get("pages") or {}
            total_pages = pages.get("total_pages") or 1
            if not items or page_number >= total_pages or not pages.get("next"):
                return
            page_number += 1

    def scroll(self, path: str = "/companies/scroll") -> Iterator[dict[str, Any]]:
        """The companies scroll, to its end (the caller restarts it from scratch on failure).

        Every page moves the scroll on, even one whose answer is lost: sent again with the same
        scroll_param it would return the next page and skip this one. So a page is never
        retried (only a 429, which Intercom did not act on, is waited out): any failure ends
        the scroll.
        """
        params: dict[str, Any] = {}
        while True:
            page = self.request("GET", path, params=params, idempotent=False)
            items = page.get("data") or []
            if not items:
                return
            yield from items
            params = {"scroll_param": page["scroll_param"]}


class _Retryable(Exception):
    """An answer worth trying again (5xx)."""


def _next_cursor(page: dict[str, Any]) -> str | None:
    following = (page.get("pages") or {}).get("next")
    if isinstance(following, dict):
        return following.get("starting_after") or None
    return None


def _check_advances(path: str, cursor: str, seen: set[str]) -> None:
    if cursor in seen:
        raise IntercomError(
            f"{path}: the pagination cursor did not advance ({cursor[:16]}... came back twice); "
            "stopping instead of looping"
        )
    seen.add(cursor)


def _first_error(response: requests.Response) -> tuple[str | None, str]:
    try:
        errors = response.json().get("errors") or [{}]
        return errors[0].get("code"), errors[0].get("message") or ""
    except (ValueError, AttributeError):
        return None, response.text[:200]


def _never_sent(exc: BaseException) -> bool:
    """The connection was refused or never made, so Intercom cannot have seen the request."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return isinstance(exc, requests.ConnectionError) and isinstance(reason, NewConnectionError)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, ValueError):
        return "a truncated or malformed response body"
    return type(exc).__name__ if not str(exc) else f"{type(exc).__name__}: {str(exc)[:200]}"
