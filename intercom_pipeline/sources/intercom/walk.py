"""The guard every paginated walk runs under, so that no server can make a walk loop forever.

A walk (a cursor listing, a search, a page-number listing, the companies scroll) calls
`PageGuard.check` once per page it received, before asking for the next. The guard raises
`PaginationLoop` naming the endpoint when the server

- sends a page whose records were all already seen in this walk,
- hands back a cursor, scroll parameter or page number the walk already used,
- keeps paging past its own `total_count` / `total_pages` (the largest it reported, with slack
  for records created while the walk runs; records counted once however often they come back,
  as a record changed during a search moves to its end), or
- keeps paging past `max_pages`.

Plain Python: no HTTP here, so the rules are testable without a server.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from intercom_pipeline.sources.intercom.errors import PaginationLoop
from intercom_pipeline.sources.intercom.settings import MAX_WALK_PAGES

# Records created during a walk may add pages beyond what the first page announced.
SLACK_SHARE = 0.1
SLACK_PAGES = 2


class PageGuard:
    """One walk's memory: the ids, cursors and page numbers seen so far."""

    def __init__(self, method: str, path: str, *, max_pages: int = MAX_WALK_PAGES) -> None:
        self.endpoint = f"{method} {path}"
        self.max_pages = max_pages
        self.pages = 0
        self.records = 0
        self._ids: set[str] = set()
        self._tokens: dict[str, int] = {}  # cursor / scroll_param / page number -> first page
        self._total_count: int | None = None
        self._total_pages: int | None = None

    def first(self, token: str | int) -> None:
        """The token the walk sends for its first page (a page number: 1)."""
        self._tokens[str(token)] = 0

    def check(
        self,
        items: Iterable[dict[str, Any]],
        *,
        token: str | int | None = None,
        total_count: Any = None,
        total_pages: Any = None,
    ) -> None:
        """Account for one received page; `token` is what the walk will send for the next one."""
        self.pages += 1
        items = list(items)
        self._check_ids(items)
        self._note_totals(total_count, total_pages)
        self._check_totals()
        if self.pages > self.max_pages:
            self._stop(f"went past {self.max_pages:,} pages, the configured bound (MAX_WALK_PAGES)")
        if token is not None:
            self._check_token(str(token))

    def _check_ids(self, items: list[dict[str, Any]]) -> None:
        ids = [str(i["id"]) for i in items if isinstance(i, dict) and i.get("id") is not None]
        if ids and self.pages > 1 and self._ids.issuperset(ids):
            self._stop(f"page {self.pages} returned only ids already seen in this walk")
        self._ids.update(ids)
        self.records += len(items)

    def _note_totals(self, total_count: Any, total_pages: Any) -> None:
        """Keep the largest totals the server reported: a live workspace grows during a walk."""
        if isinstance(total_count, int):
            self._total_count = max(total_count, self._total_count or 0)
        if isinstance(total_pages, int):
            self._total_pages = max(total_pages, self._total_pages or 0)

    def _check_totals(self) -> None:
        if self._total_pages is not None:
            allowed = _with_slack(self._total_pages) + SLACK_PAGES
            if self.pages > allowed:
                self._stop(f"went past total_pages={self._total_pages} after {self.pages} pages")
        distinct = len(self._ids) or self.records  # records without ids count as they come
        if self._total_count is not None and self.pages > 1:
            if distinct > _with_slack(self._total_count) + 1:
                self._stop(
                    f"went past total_count={self._total_count} after {self.pages} pages "
                    f"({distinct:,} distinct records)"
                )

    def _check_token(self, token: str) -> None:
        if token in self._tokens:
            shown = token if len(token) <= 24 else f"{token[:24]}…"
            self._stop(
                f"page {self.pages} repeated the cursor of page {self._tokens[token]} ({shown})"
            )
        self._tokens[token] = self.pages

    def _stop(self, what: str) -> None:
        raise PaginationLoop(
            f"{self.endpoint}: the server's pagination does not end: {what}; the run stopped "
            "instead of looping"
        )


def _with_slack(total: int) -> int:
    return total + int(total * SLACK_SHARE)
