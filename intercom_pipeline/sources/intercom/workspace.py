"""The connected workspaces: a client each, and what the current run found about each."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

import dlt

from intercom_pipeline.settings import IntercomSettings, Secret
from intercom_pipeline.sources.intercom.client import IntercomClient
from intercom_pipeline.sources.intercom.settings import DEFAULT_PART_FETCH_WORKERS

T = TypeVar("T")
R = TypeVar("R")


@dataclass
class Workspace:
    """One Intercom workspace: its client, its app id (asked of GET /me once).

    Also what the current run found about it (see `start_run`).
    """

    client: IntercomClient
    name: str = "default"
    # Tables skipped because the workspace's plan lacks their module (403 api_plan_restricted).
    modules_unavailable: set[str] = field(default_factory=set)
    # Tables whose deletions were refused as implausible: table -> {"missing", "stored"}.
    deletions_refused: dict[str, dict[str, int]] = field(default_factory=dict)
    # Marker rows yielded per link table (`helpers.with_parent_markers`): never stored.
    parent_markers: Counter[str] = field(default_factory=Counter)
    # Concurrent calls for one record each (a conversation's parts, its handling events), shared
    # by every resource of the run: pages read side by side never multiply the workers.
    fetch_workers: int = DEFAULT_PART_FETCH_WORKERS
    _pool: ThreadPoolExecutor | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _queued: int = field(default=0, repr=False)  # fetches submitted and not yet done
    _fetched: threading.Condition = field(default_factory=threading.Condition, repr=False)
    # Modules whose first call of the run succeeded, and the locks those first calls go under.
    modules_available: set[str] = field(default_factory=set)
    _probes: dict[str, threading.Lock] = field(default_factory=dict, repr=False)

    # The app's id_code when known; else asked of GET /me once (`workspace_id`).
    app_id: str | None = None
    _id_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def workspace_id(self) -> str:
        """The app id, asked once however many resources want it at the same moment."""
        with self._id_lock:
            if self.app_id is None:
                self.app_id = str(self.client.request("GET", "/me")["app"]["id_code"])
            return self.app_id

    def start_run(self) -> None:
        """Forget what an earlier run found: each run reports its own."""
        self.end_run()
        self.modules_unavailable.clear()
        self.deletions_refused.clear()
        self.parent_markers.clear()
        self.modules_available.clear()
        self._probes.clear()

    def end_run(self) -> None:
        """Stop the run's fetch workers."""
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True)

    def fetch_all(self, fetch: Callable[[T], R], items: Iterable[T]) -> Iterator[R]:
        """`fetch` of each item, `fetch_workers` at a time across the whole run, in order."""
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self.fetch_workers, thread_name_prefix="fetch")
            pool = self._pool
        items = list(items)
        with self._fetched:
            self._queued += len(items)

        def counted(item: T) -> R:
            try:
                return fetch(item)
            finally:
                with self._fetched:
                    self._queued -= 1
                    self._fetched.notify_all()

        return pool.map(counted, items)

    def wait_for_fetches(self, at_most: int) -> None:
        """Block until no more than `at_most` fetches wait or run: a listing stays just ahead."""
        with self._fetched:
            self._fetched.wait_for(lambda: self._queued <= at_most)

    def count_markers(self, table: str, count: int) -> None:
        with self._lock:
            self.parent_markers[table] += count

    def probe(self, module: str) -> threading.Lock:
        """The lock under which a module's first call of the run goes alone.

        A plan without the module refuses that call, and the rest of the run asks no more.
        """
        with self._lock:
            return self._probes.setdefault(module, threading.Lock())


def connect(workspaces: list[IntercomSettings], **client_options: Any) -> list[Workspace]:
    """Clients for the configured workspaces (the token may also come from dlt secrets)."""
    connected = []
    for configured in workspaces:
        settings = configured
        if not settings.access_token and settings.name == "default":
            token = dlt.secrets.get("sources.intercom.access_token")
            if token:
                settings = replace(settings, access_token=Secret(token))
        connected.append(Workspace(IntercomClient(settings, **client_options), settings.name))
    return connected


def workspace_of(connected: list[Workspace], workspace_id: str) -> Workspace:
    """The connected workspace a row came from, by the row's `workspace_id`."""
    return next(ws for ws in connected if ws.workspace_id == workspace_id)
