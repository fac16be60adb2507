"""One writer at a time, whatever Dagster's instance says, and nothing held by the dead.

DuckDB lets one process open a file for writing, and a read-only reader in another process
blocks it too. Every connection the pipeline opens first takes this lock: an `flock` on a file
in the warehouse's working folder. The kernel releases it when its process dies (`kill -9`
included), so a killed run never blocks the next one. Within a process it is re-entrant.

Waiting is bounded and says who it waits for at least every 30 seconds; a signal (SIGTERM,
Ctrl-C) ends it at once, since the wait is a sleep.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, ClassVar, Protocol, TypeVar

REPORT_EVERY_SECONDS = 30.0
POLL_SECONDS = 0.25
T = TypeVar("T")


class Log(Protocol):
    def info(self, msg: str) -> object: ...

    def warning(self, msg: str) -> object: ...


class WarehouseError(RuntimeError):
    """The warehouse cannot be used; the message names the cause and the fix."""


class WarehouseBusy(WarehouseError):
    """Another process kept the warehouse longer than the configured wait."""


@dataclass(frozen=True)
class Holder:
    """Who holds the warehouse: a process and, when it is ours, what it is doing."""

    pid: int | None
    command: str
    purpose: str = ""

    def describe(self) -> str:
        who = f"PID {self.pid} ({self.command})" if self.pid else self.command
        return f"{who}, {self.purpose}" if self.purpose else who


def process_command(pid: int) -> str:
    """The command line of a process on this host, as `ps` shows it."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return "a process that has ended or is not visible from here"
    return " ".join(raw.replace(b"\0", b" ").decode(errors="replace").split())[:200] or "unknown"


def wait_for(
    attempt: Callable[[], T | None],
    holder: Callable[[], Holder],
    *,
    timeout: float,
    log: Log,
    what: str,
    fix: str,
) -> T:
    """Call `attempt` until it returns a value; log the holder while waiting, fail on timeout."""
    started = time.monotonic()
    next_report = 0.0
    while (result := attempt()) is None:
        waited = time.monotonic() - started
        if waited >= timeout:
            raise WarehouseBusy(
                f"{what} is held by {holder().describe()}; gave up after {waited:.0f} s. {fix}"
            )
        if waited >= next_report:
            log.warning(
                f"Waiting for {what}: held by {holder().describe()} ({waited:.0f} s so far)"
            )
            next_report = waited + REPORT_EVERY_SECONDS
        time.sleep(POLL_SECONDS)
    return result


class WriterLock:
    """The warehouse's writer lock (`flock` on `<work dir>/writer.lock`)."""

    _held: ClassVar[dict[Path, tuple[IO[str], int]]] = {}
    _guard: ClassVar[threading.RLock] = threading.RLock()

    def __init__(self, path: Path, timeout: float, log: Log | None = None) -> None:
        self.path = path
        self.timeout = timeout
        self.log = log or logging.getLogger(__name__)

    @contextmanager
    def held(self, purpose: str) -> Iterator[None]:
        """Hold the lock for `purpose` (shown to whoever waits), re-entrant in this process."""
        with self._guard:
            entry = self._held.get(self.path)
            if entry is None:
                entry = (self._acquire(purpose), 0)
            self._held[self.path] = (entry[0], entry[1] + 1)
        try:
            yield
        finally:
            with self._guard:
                handle, depth = self._held[self.path]
                if depth == 1:
                    del self._held[self.path]
                    handle.close()  # closing the file releases the flock
                else:
                    self._held[self.path] = (handle, depth - 1)

    def _acquire(self, purpose: str) -> IO[str]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = self.path.open("a+")

        def attempt() -> bool | None:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return None
            return True

        try:
            wait_for(
                attempt,
                self.holder,
                timeout=self.timeout,
                log=self.log,
                what=f"the warehouse's writer lock ({self.path})",
                fix="Wait for that run to finish, or stop it; DUCKDB_LOCK_TIMEOUT_SECONDS sets "
                "how long a writer waits.",
            )
        except BaseException:
            handle.close()
            raise
        handle.seek(0)
        handle.truncate()
        handle.write(
            json.dumps(
                {
                    "pid": os.getpid(),
                    "command": process_command(os.getpid()),
                    "purpose": purpose,
                    "since": datetime.now(UTC).isoformat(timespec="seconds"),
                }
            )
        )
        handle.flush()
        return handle

    def holder(self) -> Holder:
        """Who holds the lock now, as the holder wrote it."""
        try:
            found = json.loads(self.path.read_text() or "{}")
        except (OSError, ValueError):
            found = {}
        if not found.get("pid"):
            return Holder(None, "another process of this pipeline")
        return Holder(
            int(found["pid"]),
            found.get("command", "unknown"),
            f"{found.get('purpose', 'writing')} since {found.get('since', '?')}",
        )
