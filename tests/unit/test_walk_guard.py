"""The pagination guard's rules, without a server."""

from __future__ import annotations

import pytest

from intercom_pipeline.sources.intercom.errors import IntercomError, PaginationLoop
from intercom_pipeline.sources.intercom.walk import PageGuard


def page(*ids: int) -> list[dict[str, str]]:
    return [{"id": str(i)} for i in ids]


def test_a_normal_walk_passes() -> None:
    guard = PageGuard("GET", "/contacts")
    guard.check(page(1, 2), token="a", total_count=5, total_pages=3)
    guard.check(page(3, 4), token="b", total_count=5, total_pages=3)
    guard.check(page(5), token=None, total_count=5, total_pages=3)
    assert (guard.pages, guard.records) == (3, 5)


def test_a_page_of_ids_already_seen_stops_the_walk() -> None:
    guard = PageGuard("POST", "/conversations/search")
    guard.check(page(1, 2), token="a")
    with pytest.raises(
        PaginationLoop, match=r"POST /conversations/search: .*page 2 returned only ids already seen"
    ) as caught:
        guard.check(page(2, 1), token="b")
    assert "stopped instead of looping" in str(caught.value)
    assert isinstance(caught.value, IntercomError)


def test_a_page_with_some_new_ids_goes_on() -> None:
    guard = PageGuard("GET", "/companies/scroll")
    guard.check(page(1, 2), token="a")
    guard.check(page(2, 3), token="b")  # the scroll may return a record twice


def test_a_repeated_cursor_stops_the_walk() -> None:
    guard = PageGuard("GET", "/contacts")
    guard.check(page(1), token="a")
    guard.check(page(2), token="b")
    with pytest.raises(
        PaginationLoop, match=r"GET /contacts: .*page 3 repeated the cursor of page 2 \(b\)"
    ):
        guard.check(page(3), token="b")


def test_a_repeated_page_number_stops_the_walk() -> None:
    guard = PageGuard("GET", "/articles")
    guard.first(1)
    guard.check(page(1), token=2)
    with pytest.raises(PaginationLoop, match="page 2 repeated the cursor of page 1"):
        guard.check(page(2), token=2)


def test_a_long_cursor_is_shortened_in_the_message() -> None:
    guard = PageGuard("GET", "/contacts")
    guard.check(page(1), token="W" * 200)
    with pytest.raises(PaginationLoop) as caught:
        guard.check(page(2), token="W" * 200)
    assert "W" * 25 not in str(caught.value)


def test_going_past_total_count_stops_the_walk() -> None:
    guard = PageGuard("POST", "/tickets/search")
    with pytest.raises(PaginationLoop, match=r"went past total_count=120 after \d+ pages"):
        for n in range(100):
            guard.check(page(*range(n * 10, n * 10 + 10)), token=str(n), total_count=120)
    assert guard.pages <= 15  # 120 plus 10% slack, 10 a page


def test_records_created_during_the_walk_are_allowed_for() -> None:
    guard = PageGuard("POST", "/tickets/search")
    for n in range(13):  # 130 records against a total_count of 120
        guard.check(page(*range(n * 10, n * 10 + 10)), token=str(n), total_count=120)


def test_records_changed_during_a_search_come_back_without_stopping_it() -> None:
    """A record updated mid-walk moves to the end of an updated_at search, and the workspace
    grows: the guard counts each record once, against the largest total the server reported."""
    guard = PageGuard("POST", "/conversations/search")
    for n in range(10):  # 100 distinct records, each page bringing back 5 already seen
        seen_again = range(max(0, n * 10 - 5), n * 10)
        guard.check(page(*seen_again, *range(n * 10, n * 10 + 10)), token=str(n), total_count=95)
    guard.check(page(*range(100, 115)), token="last", total_count=115)
    assert guard.records == 160


def test_going_past_total_pages_stops_the_walk() -> None:
    guard = PageGuard("GET", "/articles")
    with pytest.raises(PaginationLoop, match="went past total_pages=3"):
        for n in range(100):
            guard.check(page(n), token=n + 2, total_pages=3)
    assert guard.pages <= 6


def test_the_page_bound_stops_any_walk() -> None:
    guard = PageGuard("GET", "/companies/scroll", max_pages=20)
    with pytest.raises(PaginationLoop, match="went past 20 pages, the configured bound"):
        for n in range(1000):
            guard.check(page(n), token=f"s{n}")
    assert guard.pages == 21


def test_the_default_bound_allows_the_bench_scale() -> None:
    from intercom_pipeline.sources.intercom.settings import MAX_WALK_PAGES

    assert MAX_WALK_PAGES >= 5 * (100_000 // 150 + 1)
