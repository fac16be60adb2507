"""Progress of a long extraction: one log line per table family, every `interval` seconds.

    progress conversations: 12,450 rows (conversation_parts 80,210), 1,830 calls,
        160.2 calls/s (0.96 of 166.7), 0 x 429, 3 retries

Rows are counted as the resources yield them (`counter`); calls, 429s and retries come from the
clients' per-endpoint counts, an endpoint going to the family whose table it serves (a call no
family claims, such as GET /me, is left out). calls/s is the rate since the last report,
against the ceiling the rate-limit headers announce (X-RateLimit-Limit per 10 s); a family
that has not moved since its last line is not repeated. The final counts of the families still
moving, with their rate over the whole run, are reported only after a run long enough to have
reported during it: a shorter run's summary says the same.
Plain Python: a thread and a callable to log with (a `logging.Logger`, Dagster's `context.log`,
or any function taking one string).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from typing import Any, Protocol

from intercom_pipeline.sources.intercom.tables import family_of

DEFAULT_INTERVAL_SECONDS = 30.0
# Where the Dagster asset also sends its lines; no handler unless a caller adds one (the demo).
PROGRESS_LOGGER = "intercom_pipeline.progress"
RATE_LIMIT_WINDOW_SECONDS = 10.0
OTHER = "other"

# The first segment of an API path -> the table its calls serve.
ENDPOINT_TABLE = {
    "help_center/help_centers": "help_centers",
    "help_center/collections": "collections",
    "companies": "companies",
    "companies/scroll": "companies",
    "contacts": "contacts",
    "conversations": "conversations",
    "conversations/deleted": "deletions",
    "tickets": "tickets",
    "ticket_types": "ticket_types",
    "ticket_states": "ticket_states",
    "admins": "admins",
    "admins/activity_logs": "admin_activity_logs",
    "teams": "teams",
    "tags": "tags",
    "segments": "segments",
    "data_attributes": "data_attributes",
    "articles": "articles",
}


class CountingClient(Protocol):
    endpoint_stats: dict[str, dict[str, int]]
    rate_limit: int | None


class Progress:
    """Counts rows per table and reports them with the clients' counts, from a thread."""

    def __init__(
        self,
        log: Any,
        clients: Iterable[CountingClient],
        tables: Iterable[str],
        *,
        interval: float = DEFAULT_INTERVAL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        markers: Callable[[], dict[str, int]] = dict,
    ) -> None:
        self._emit: Callable[[str], Any] = log.info if hasattr(log, "info") else log
        self.clients = list(clients)
        self.tables = list(tables)
        self.interval = interval
        self.clock = clock
        self.markers = markers  # marker rows per link table so far: yielded, never stored
        self.rows: dict[str, int] = dict.fromkeys(self.tables, 0)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._started_at = self._last_at = clock()
        self._last_counts: dict[str, tuple[int, int]] = {}  # family -> (calls, rows) last said
        self._reported = False  # whether a report went out while the extraction ran

    def counter(self, table: str) -> Callable[[Any], Any]:
        """A dlt map step for `table`'s resource: counts what passes, changes nothing."""

        def count(item: Any) -> Any:
            data = getattr(item, "data", item)  # dlt.mark.with_table_name wraps the page
            rows = len(data) if isinstance(data, list) else 1
            with self._lock:
                self.rows[table] = self.rows.get(table, 0) + rows
            return item

        return count

    def __enter__(self) -> Progress:
        self._thread = threading.Thread(target=self._run, name="intercom-progress", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        if self._reported:  # a shorter run's summary already says it all
            self.report(final=True)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.report()
            self._reported = True

    def report(self, final: bool = False) -> None:
        for line in self.lines(final):
            self._emit(line)

    def lines(self, final: bool = False) -> list[str]:
        """One line per family that moved since its last line.

        The rate is since the last report, or over the whole run when `final`.
        """
        now = self.clock()
        since = self._started_at if final else self._last_at
        elapsed = max(now - since, 1e-9)
        calls = self._calls_by_family()
        with self._lock:
            rows = dict(self.rows)
        for table, count in dict(self.markers()).items():
            if table in rows:
                rows[table] = max(rows[table] - count, 0)
        lines = []
        for family in self._families():
            counts = calls.get(family, {})
            tables = [t for t in self.tables if family_or_other(t) == family]
            now_counts = (counts.get("api_calls", 0), sum(rows.get(t, 0) for t in tables))
            last_counts = self._last_counts.get(family, (0, 0))
            if now_counts in ((0, 0), last_counts):
                continue
            rate = (now_counts[0] - (0 if final else last_counts[0])) / elapsed
            self._last_counts[family] = now_counts
            lines.append(self._line(family, tables, rows, counts, rate))
        self._last_at = now
        return lines

    def _line(
        self,
        family: str,
        tables: list[str],
        rows: dict[str, int],
        counts: dict[str, int],
        rate: float,
    ) -> str:
        own = f"{rows.get(family, 0):,} rows" if family in tables else "no rows"
        children = ", ".join(f"{t} {rows.get(t, 0):,}" for t in tables if t != family)
        ceiling = self.ceiling()
        share = f"{rate / ceiling:.2f} of {ceiling:,.1f}" if ceiling else "ceiling unknown"
        return (
            f"progress {family}: {own}{f' ({children})' if children else ''}, "
            f"{counts.get('api_calls', 0):,} calls, {rate:,.1f} calls/s ({share}), "
            f"{counts.get('rate_limited', 0):,} x 429, {counts.get('retries', 0):,} retries"
        )

    def ceiling(self) -> float | None:
        """Calls a second the rate-limit headers allow, summed over the workspaces."""
        limits = [c.rate_limit for c in self.clients if c.rate_limit]
        return sum(limits) / RATE_LIMIT_WINDOW_SECONDS if limits else None

    def _families(self) -> list[str]:
        return list(dict.fromkeys(family_or_other(t) for t in self.tables))

    def _calls_by_family(self) -> dict[str, dict[str, int]]:
        totals: dict[str, dict[str, int]] = {}
        for client in self.clients:
            for endpoint, counts in list(client.endpoint_stats.items()):
                table = ENDPOINT_TABLE.get(endpoint)
                family = family_or_other(table) if table else OTHER
                into = totals.setdefault(family, {})
                for key, value in counts.items():
                    into[key] = into.get(key, 0) + value
        return totals


def family_or_other(table: str) -> str:
    """The name of the family `table` belongs to (its parent table), or OTHER."""
    try:
        return family_of(table).parent
    except KeyError:
        return OTHER
