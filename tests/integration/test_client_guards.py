"""Servers that misbehave: each makes the client, or a whole ingestion, fail within seconds.

A small HTTP server (http.server in a thread) plays the misbehaving Intercom; each case asserts
the endpoint is named and the message says what the server did. Then progress lines, against
the in-process sandbox.
"""

from __future__ import annotations

import http.server
import itertools
import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from intercom_pipeline.settings import intercom_settings
from intercom_pipeline.sources.intercom import connect
from intercom_pipeline.sources.intercom.client import IntercomClient
from intercom_pipeline.sources.intercom.errors import IntercomError, NotIntercom, PaginationLoop
from intercom_pipeline.warehouse import Warehouse
from intercom_pipeline.warehouse.load import run_ingestion
from intercom_sandbox import RunningSandbox, SandboxConfig
from intercom_sandbox.server import Faults, Sandbox

Handler = Callable[["FakeIntercom", str, str, dict[str, Any]], Any]


class FakeIntercom(http.server.BaseHTTPRequestHandler):
    """Answers GET /me; every other request goes to the test's `answer` function."""

    answer: Handler
    calls: Iterator[int]

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def _handle(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length)) if length else {}
        if self.path == "/me":
            self.send_json({"type": "admin", "app": {"id_code": "fake"}})
            return
        type(self).answer(self, method, self.path, body)

    def send_json(self, payload: Any, status: int = 200) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


class Fake:
    def __init__(self, answer: Handler) -> None:
        handler = type("Handler", (FakeIntercom,), {"answer": answer, "calls": itertools.count(1)})
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True
        self.handler = handler
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def next_call(self) -> int:
        return next(self.handler.calls)

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fake() -> Iterator[Callable[[Handler], Fake]]:
    started: list[Fake] = []

    def start(answer: Handler) -> Fake:
        started.append(Fake(answer))
        return started[-1]

    yield start
    for server in started:
        if server.thread.is_alive():
            server.stop()


def client_for(base_url: str, **options: Any) -> IntercomClient:
    settings = intercom_settings(
        {"INTERCOM_BASE_URL": base_url, "INTERCOM_ACCESS_TOKEN": "secret-token-1234"}
    )
    return IntercomClient(settings, backoff_seconds=0.01, **options)


def ingest(
    base_url: str,
    tmp_path: Path,
    tables: list[str],
    token: str = "secret-token-1234",
    **options: Any,
) -> Any:
    settings = intercom_settings({"INTERCOM_BASE_URL": base_url, "INTERCOM_ACCESS_TOKEN": token})
    workspaces = connect([settings], backoff_seconds=0.01)
    return run_ingestion(
        Warehouse.at(tmp_path / "warehouse.duckdb"),
        workspaces,
        tables,
        scroll_conflict_wait=0.01,
        **options,
    )


def cause(exc: BaseException) -> BaseException:
    """The Intercom error behind what dlt raised (it wraps a resource's error twice)."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, IntercomError):
            return seen
        seen = seen.__cause__ or seen.__context__
    return exc


def conversations(ids: range) -> list[dict[str, Any]]:
    return [{"type": "conversation", "id": str(i), "updated_at": 1_700_000_000} for i in ids]


def search_page(ids: range, cursor: str | None, total: int | None = None) -> dict[str, Any]:
    pages: dict[str, Any] = {"type": "pages", "per_page": len(ids)}
    if cursor:
        pages["next"] = {"starting_after": cursor}
    page: dict[str, Any] = {"type": "conversation.list", "conversations": conversations(ids)}
    page["pages"] = pages
    if total is not None:
        page["total_count"] = total
    return page


# --- (a) the same page forever ------------------------------------------------------------


def test_a_search_repeating_the_same_page_stops_the_ingestion(fake, tmp_path: Path) -> None:
    def answer(h: FakeIntercom, method: str, path: str, body: dict[str, Any]) -> None:
        h.send_json(search_page(range(1, 11), f"cursor-{fake_server.next_call()}"))

    fake_server = fake(answer)
    started = time.monotonic()
    with pytest.raises(Exception) as caught:
        ingest(fake_server.base_url, tmp_path, ["conversations"])
    error = cause(caught.value)
    assert isinstance(error, PaginationLoop)
    assert "POST /conversations/search" in str(error)
    assert "page 2 returned only ids already seen" in str(error)
    assert "stopped instead of looping" in str(error)
    assert "secret-token" not in str(caught.value)
    assert time.monotonic() - started < 30


# --- (b) a repeated cursor ----------------------------------------------------------------


def test_a_listing_repeating_a_cursor_stops_the_walk(fake) -> None:
    def answer(h: FakeIntercom, method: str, path: str, body: dict[str, Any]) -> None:
        n = fake_server.next_call()
        page = search_page(range(n * 10, n * 10 + 10), "WzE3MDAwMDAwMDAsIjQyIl0=")
        h.send_json({"type": "list", "data": page["conversations"], "pages": page["pages"]})

    fake_server = fake(answer)
    with pytest.raises(PaginationLoop) as caught:
        list(client_for(fake_server.base_url).cursor_list("/contacts", "data"))
    assert str(caught.value).startswith("GET /contacts: ")
    assert "page 2 repeated the cursor of page 1 (WzE3MDAwMDAwMDAsIjQyIl0=)" in str(caught.value)


# --- (c) a scroll that never ends -----------------------------------------------------------


def test_a_scroll_repeating_its_page_stops_the_ingestion(fake, tmp_path: Path) -> None:
    def answer(h: FakeIntercom, method: str, path: str, body: dict[str, Any]) -> None:
        fake_server.next_call()
        companies = [{"type": "company", "id": f"c{i}"} for i in range(5)]
        h.send_json({"type": "list", "data": companies, "pages": None, "scroll_param": "same"})

    fake_server = fake(answer)
    started = time.monotonic()
    with pytest.raises(Exception) as caught:
        ingest(fake_server.base_url, tmp_path, ["companies"])
    error = cause(caught.value)
    assert isinstance(error, PaginationLoop)  # not restarted, as a broken scroll would be
    assert "GET /companies/scroll" in str(error)
    assert "page 2 returned only ids already seen" in str(error)
    assert time.monotonic() - started < 30


def test_a_scroll_that_never_ends_stops_at_the_page_bound(fake) -> None:
    def answer(h: FakeIntercom, method: str, path: str, body: dict[str, Any]) -> None:
        n = fake_server.next_call()
        companies = [{"type": "company", "id": f"c{n}"}]
        h.send_json({"type": "list", "data": companies, "pages": None, "scroll_param": f"s{n}"})

    fake_server = fake(answer)
    started = time.monotonic()
    with pytest.raises(PaginationLoop) as caught:
        list(client_for(fake_server.base_url, max_walk_pages=50).scroll())
    assert "GET /companies/scroll" in str(caught.value)
    assert "went past 50 pages, the configured bound" in str(caught.value)
    assert time.monotonic() - started < 10


# --- (d) past total_count -----------------------------------------------------------------


def test_a_search_running_past_total_count_stops(fake) -> None:
    def answer(h: FakeIntercom, method: str, path: str, body: dict[str, Any]) -> None:
        n = fake_server.next_call()
        h.send_json(search_page(range(n * 10, n * 10 + 10), f"c{n}", total=120))

    fake_server = fake(answer)
    with pytest.raises(PaginationLoop) as caught:
        list(client_for(fake_server.base_url).search("/tickets/search", {}, "conversations"))
    message = str(caught.value)
    assert message.startswith("POST /tickets/search: ")
    assert "went past total_count=120 after 14 pages" in message
    assert "stopped instead of looping" in message


# --- (e) HTML pages -------------------------------------------------------------------------


def html_404(h: FakeIntercom, *_: Any) -> None:
    page = b"<html><head><title>404 Not Found</title></head><body>" + b"x" * 5000 + b"</body>"
    h.send_response(404)
    h.send_header("Content-Type", "text/html; charset=utf-8")
    h.send_header("Content-Length", str(len(page)))
    h.end_headers()
    h.wfile.write(page)


def test_a_base_url_answering_html_is_not_intercom(fake, tmp_path: Path) -> None:
    def answer(h: FakeIntercom, method: str, path: str, body: dict[str, Any]) -> None:
        fake_server.next_call()
        html_404(h)

    fake_server = fake(answer)
    started = time.monotonic()
    with pytest.raises(Exception) as caught:
        ingest(fake_server.base_url, tmp_path, ["conversations"])
    error = cause(caught.value)
    assert isinstance(error, NotIntercom)
    message = str(error)
    assert message.startswith("POST /conversations/search: ")
    assert f"the server at {fake_server.base_url} is not Intercom's API" in message
    assert "HTML page titled '404 Not Found'" in message
    assert "INTERCOM_BASE_URL" in message
    assert "xxxx" not in message and "token" not in message.lower()
    assert next(fake_server.handler.calls) == 2  # not retried
    assert time.monotonic() - started < 30


def test_an_html_answer_to_me_is_not_intercom(fake) -> None:
    fake_server = fake(html_404)
    client = client_for(fake_server.base_url)
    with pytest.raises(NotIntercom, match=r"GET /articles: the server at .* is not Intercom's API"):
        list(client.numbered_pages("/articles"))


# --- (f) a server that goes away -------------------------------------------------------------


def test_a_server_closing_the_socket_is_named_whole(fake) -> None:
    def answer(h: FakeIntercom, method: str, path: str, body: dict[str, Any]) -> None:
        n = fake_server.next_call()
        if n > 2:
            h.close_connection = True
            h.connection.close()  # no answer at all
            return
        h.send_json(search_page(range(n * 10, n * 10 + 10), f"c{n}"))

    fake_server = fake(answer)
    client = client_for(fake_server.base_url)
    with pytest.raises(IntercomError) as caught:
        list(client.search("/conversations/search", {}, "conversations"))
    message = str(caught.value)
    assert message.startswith("POST /conversations/search failed 11 times")
    assert "the server closed the connection without answering" in message
    assert message.rstrip().endswith("the run can be retried safely.")
    assert "token" not in message.lower()


def test_a_server_gone_mid_run_says_connection_refused(fake, tmp_path: Path) -> None:
    def answer(h: FakeIntercom, method: str, path: str, body: dict[str, Any]) -> None:
        n = fake_server.next_call()
        h.send_json(search_page(range(n * 10, n * 10 + 10), f"c{n}"))
        if n == 2:
            threading.Thread(target=fake_server.stop, daemon=True).start()

    fake_server = fake(answer)
    started = time.monotonic()
    with pytest.raises(Exception) as caught:
        ingest(fake_server.base_url, tmp_path, ["conversations"])
    message = str(cause(caught.value))
    assert message.startswith("POST /conversations/search failed 11 times")
    assert "connection refused" in message
    # The whole cause, not cut mid-word, then the advice.
    assert re.search(
        r"Connection refused['\"]\)\)\. Intercom or the network is unavailable", message
    )
    assert "token" not in message.lower()
    assert time.monotonic() - started < 30


# --- progress --------------------------------------------------------------------------------


def test_progress_lines_appear_and_agree_with_the_final_counts(tmp_path: Path) -> None:
    with RunningSandbox(
        Sandbox(SandboxConfig(seed=3, scale="tiny", faults=Faults(latency_ms=5)))
    ) as running:
        lines: list[str] = []
        result = ingest(
            running.base_url,
            tmp_path,
            ["conversations"],
            token="sandbox-token",
            progress_log=lines.append,
            progress_interval=0.2,
        )
        quiet: list[str] = []
        ingest(
            running.base_url,
            tmp_path / "short",
            ["tags"],
            token="sandbox-token",
            progress_log=quiet.append,
            progress_interval=60,
        )
    # A run shorter than one interval says nothing: its summary says it all.
    assert quiet == []
    assert not [line for line in lines if line.startswith("progress other")]
    conversation_lines = [line for line in lines if line.startswith("progress conversations: ")]
    assert len(conversation_lines) >= 2  # during the run, and the final one
    final = conversation_lines[-1]
    assert f"{result.rows_loaded['conversations']:,} rows" in final
    assert f"conversation_parts {result.rows_loaded['conversation_parts']:,}" in final
    assert f"conversation_contacts {result.rows_loaded['conversation_contacts']:,}" in final
    calls = result.api["api_calls"] - 1  # GET /me serves no table: left out
    assert f" {calls:,} calls, " in final
    assert " x 429, " in final and " retries" in final
    assert "calls/s (" in final and " of " in final
