"""What the operations share and change besides the workspace's objects, kept in one place."""

from __future__ import annotations

import random
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from intercom_sandbox.paging import SortedResult
from intercom_sandbox.workspace import Workspace


@dataclass
class ScrollState:
    """The app's one open companies scroll: its param and how far it has read."""

    param: str
    position: int
    last_used: float


class ApiState:
    """The workspace and the state around it: the scroll, plan restrictions, write ids, caches."""

    def __init__(self, workspace: Workspace, scroll_expiry_seconds: float = 60.0) -> None:
        self.ws = workspace
        self.scroll_expiry_seconds = scroll_expiry_seconds
        self.scroll: ScrollState | None = None
        self.scroll_lock = threading.Lock()
        self.restricted_modules: set[str] = set()  # Intercom modules answering 403
        # Seeded, so the ids that writes create are the same on every run of a seed.
        self.write_rng = random.Random(workspace.seed * 7_919 + 1)
        self.search_cache: OrderedDict[tuple[Any, ...], SortedResult] = OrderedDict()

    def live_scroll(self, now: float) -> ScrollState | None:
        """The open scroll, or None once it went unused too long. Hold `scroll_lock`."""
        scroll = self.scroll
        if scroll is not None and now - scroll.last_used > self.scroll_expiry_seconds:
            return None
        return scroll

    def scroll_is_open(self) -> bool:
        with self.scroll_lock:
            return self.live_scroll(time.monotonic()) is not None
