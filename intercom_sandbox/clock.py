"""The sandbox clock's two modes, and the record of what every clock move changed.

With `clock: fixed` the workspace's clock stands still (at 2026-11-01 by default) until the control
API moves it. With `clock: wall` it follows the machine's clock: before an Intercom request is
answered, a `WallClock` moves the workspace to the current second, at most once a second, with
`Activity.default_for(ws)` (a busy hour) scaled to the seconds that passed and `activity_speed`.
An `ActivityRate` carries the fractions of events from move to move, so that many one-second
moves add up to the rate. Every move's changes go to a `ChangeLog`, which tells exactly what
changed between two moments of the clock.
"""

from __future__ import annotations

import bisect
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, fields
from fractions import Fraction
from typing import Any

from intercom_sandbox import activity
from intercom_sandbox.activity import COUNTS, Activity, Changes
from intercom_sandbox.workspace import Workspace

HOUR = 3_600
CLOCK_MODES = ("fixed", "wall")
# The `Changes` fields that list ids (every one but `retyped_attribute`).
ID_KINDS: tuple[str, ...] = tuple(f.name for f in fields(Changes) if f.name != "retyped_attribute")


class ActivityRate:
    """A busy hour's activity scaled to some seconds; what is left of an event waits for the next.

    Exact fractions, not floats: 3,600 one-second moves at speed 1 give exactly the hour's counts.
    """

    def __init__(self, speed: float) -> None:
        self.speed = Fraction(speed)
        self.carried = dict.fromkeys(COUNTS, Fraction(0))

    def for_seconds(self, hour: Activity, seconds: int) -> Activity:
        """The whole events due in `seconds`, keeping the fractions for the next call."""
        counts = {}
        for name in COUNTS:
            exact = getattr(hour, name) * seconds * self.speed / HOUR + self.carried[name]
            counts[name] = int(exact)
            self.carried[name] = exact - counts[name]
        return Activity(**counts)


@dataclass(frozen=True)
class Move:
    """One clock move: every change it made is timestamped in (start, end]."""

    start: int
    end: int
    changes: Changes


class ChangeLog:
    """The changes of every clock move, by the move's end; moves that changed nothing are counted."""

    def __init__(self) -> None:
        self.moves: list[Move] = []  # in clock order, only those that changed something
        self.move_count = 0
        self.totals: Counter[str] = Counter()

    def advance(self, ws: Workspace, seconds: int, spec: Activity, rng: random.Random) -> Changes:
        """Move the clock (`activity.advance`) and record what changed. Hold the workspace lock."""
        start = ws.now
        changes = activity.advance(ws, seconds, spec, rng)
        self.move_count += 1
        sizes = {kind: len(getattr(changes, kind)) for kind in ID_KINDS}
        self.totals.update(sizes)
        if any(sizes.values()) or changes.retyped_attribute:
            self.moves.append(Move(start, ws.now, changes))
        return changes

    def between(self, since: int, until: int) -> Changes:
        """What the moves that ended in (since, until] changed: each kind's ids, once each.

        Every move starts where the one before ended, so with `since` and `until` read from the
        clock (`now` of /_sandbox/status), these are exactly the changes timestamped in between.
        """
        first = bisect.bisect_right(self.moves, since, key=lambda move: move.end)
        last = bisect.bisect_right(self.moves, until, key=lambda move: move.end)
        merged: dict[str, dict[str, None]] = {kind: {} for kind in ID_KINDS}
        retyped = None
        for move in self.moves[first:last]:
            for kind in ID_KINDS:
                merged[kind].update(dict.fromkeys(getattr(move.changes, kind)))
            retyped = move.changes.retyped_attribute or retyped
        return Changes(
            **{kind: list(ids) for kind, ids in merged.items()}, retyped_attribute=retyped
        )

    def summary(self) -> dict[str, Any]:
        return {"moves": self.move_count, "changed": dict(self.totals)}


class WallClock:
    """Keeps a workspace at the machine's current second, with activity at a steady rate."""

    def __init__(
        self,
        ws: Workspace,
        speed: float,
        rng: random.Random,
        log: ChangeLog,
        time_source: Callable[[], float] = time.time,
    ) -> None:
        self.ws = ws
        self.rate = ActivityRate(speed)
        self.rng = rng
        self.log = log
        self.time_source = time_source

    def catch_up(self) -> None:
        """Move the workspace to the current second if at least one whole second has passed.

        The check is repeated under the workspace lock, so concurrent requests move it once.
        """
        if int(self.time_source()) <= self.ws.now:
            return
        with self.ws.lock:
            start, now = self.ws.now, int(self.time_source())
            if now <= start:
                return
            spec = self.rate.for_seconds(Activity.default_for(self.ws), now - start)
            self.log.advance(self.ws, now - start, spec, self.rng)
