"""The wall clock: history ends at the machine's clock, and activity follows it at a steady rate.

The rate and the once-a-second moves are checked with an injected time source; the sandbox itself
with real time, at 3,600 busy hours an hour (a busy hour each second), in a few seconds.
"""

from __future__ import annotations

import argparse
import random
import time
from collections import Counter

import pytest
import requests

from intercom_pipeline.demo import add_sandbox_arguments
from intercom_sandbox import SandboxConfig
from intercom_sandbox.activity import COUNTS, Activity, Changes
from intercom_sandbox.clock import HOUR, ActivityRate, ChangeLog, WallClock
from intercom_sandbox.generator import DEFAULT_NOW, build_workspace
from intercom_sandbox.workspace import Workspace
from tests.conftest import SandboxClient
from tests.sandbox.helpers import ids, walk_search

CONVERSATION_KINDS = ("new_conversations", "replied", "closed", "reopened", "tagged")


def counts(activity: Activity) -> Counter[str]:
    return Counter({name: getattr(activity, name) for name in COUNTS})


# --- the rate and the moves, with an injected time source ---------------------------------------


def test_one_second_moves_add_up_to_the_hour_exactly() -> None:
    hour = Activity(new_conversations=7, replies=5, closes=3, merges=1, activity_logs=4)
    rate = ActivityRate(1.0)
    totals: Counter[str] = Counter()
    for _ in range(3_600):
        totals.update(counts(rate.for_seconds(hour, 1)))
    assert totals == counts(hour)


def test_the_speed_scales_uneven_moves_and_carries_what_is_left() -> None:
    hour = Activity(new_conversations=1, replies=10)
    rate = ActivityRate(2.5)  # 1,440 s at 2.5 is one busy hour
    totals: Counter[str] = Counter()
    for seconds in [1, 2, 3] * 239 + [1, 2]:  # 1,437 s
        totals.update(counts(rate.for_seconds(hour, seconds)))
    assert (totals["new_conversations"], totals["replies"]) == (0, 9)
    totals.update(counts(rate.for_seconds(hour, 3)))
    assert totals == counts(hour)
    assert counts(ActivityRate(0).for_seconds(hour, 3_600)) == Counter()


class FakeTime:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_the_clock_moves_once_to_each_whole_second() -> None:
    ws = build_workspace(1, "tiny", DEFAULT_NOW)
    fake = FakeTime(DEFAULT_NOW + 0.9)
    log = ChangeLog()
    clock = WallClock(ws, 3_600.0, random.Random(1), log, fake)
    clock.catch_up()
    assert (ws.now, log.move_count) == (DEFAULT_NOW, 0)

    fake.now = DEFAULT_NOW + 1.5
    hour = Activity.default_for(ws)
    clock.catch_up()
    clock.catch_up()
    assert (ws.now, log.move_count) == (DEFAULT_NOW + 1, 1)
    first = log.between(DEFAULT_NOW, ws.now)
    assert len(first.new_conversations) == hour.new_conversations  # a busy hour in one second
    assert len(first.activity_logs) == hour.activity_logs

    fake.now = DEFAULT_NOW + 4
    three_hours = 3 * Activity.default_for(ws).new_conversations
    clock.catch_up()
    assert (ws.now, log.move_count) == (DEFAULT_NOW + 4, 2)
    second = log.between(DEFAULT_NOW + 1, DEFAULT_NOW + 4)
    assert len(second.new_conversations) == three_hours
    assert not set(second.new_conversations) & set(first.new_conversations)
    both = log.between(DEFAULT_NOW, DEFAULT_NOW + 4).new_conversations
    assert both == first.new_conversations + second.new_conversations
    assert log.between(DEFAULT_NOW + 4, DEFAULT_NOW + 9) == Changes()


def test_the_clock_mode_is_fixed_or_wall() -> None:
    with pytest.raises(ValueError, match="'fixed' or 'wall'"):
        SandboxConfig(clock="sundial")
    with pytest.raises(ValueError, match="activity_speed"):
        SandboxConfig(clock="wall", activity_speed=-1)


def test_the_sandbox_command_takes_the_clock_and_the_speed() -> None:
    parser = argparse.ArgumentParser()
    add_sandbox_arguments(parser)
    args = parser.parse_args(["--clock", "wall", "--activity-speed", "60"])
    assert (args.clock, args.activity_speed) == ("wall", 60.0)
    assert parser.parse_args([]).clock == "fixed"


# --- a sandbox on the machine's clock ------------------------------------------------------------


@pytest.fixture
def sandbox_config() -> SandboxConfig:
    return SandboxConfig(seed=1, scale="tiny", clock="wall", activity_speed=3_600)


def test_history_ends_at_the_wall_clock(intercom: SandboxClient, ws: Workspace) -> None:
    status = intercom.control("GET", "/status")  # the control API leaves the clock alone
    now = status["workspace"]["now"]
    assert status["clock"] == {"mode": "wall", "activity_speed": 3_600, "moves": 0, "changed": {}}
    assert time.time() - 10 < now <= time.time()
    newest = max(c.created_at for c in ws.conversations)
    assert now - HOUR < newest <= now
    assert max(c.updated_at for c in ws.conversations) <= now
    assert max(log["created_at"] for log in ws.activity_logs) < now


def test_a_search_after_time_passes_finds_exactly_what_changed(
    intercom: SandboxClient, ws: Workspace
) -> None:
    t0 = intercom.control("GET", "/status")["workspace"]["now"]
    older = max(int(c.id) for c in ws.conversations)
    time.sleep(1.2)
    query = {"field": "updated_at", "operator": ">", "value": t0}
    found = walk_search(intercom, "/conversations/search", "conversations", query, per_page=150)
    answer = intercom.control("GET", f"/changes?since={t0}")
    until, changes = answer["until"], answer["changes"]
    assert t0 + 1 <= until <= time.time()
    assert until == intercom.control("GET", "/status")["workspace"]["now"]

    changed = {i for kind in CONVERSATION_KINDS for i in changes[kind]}
    changed -= set(changes["deleted_conversations"])
    assert changes["new_conversations"] and changes["replied"]
    assert set(ids(found)) == changed
    assert all(t0 < c["updated_at"] <= until for c in found)
    assert min(int(i) for i in changes["new_conversations"]) > older
    for conversation_id in changes["deleted_conversations"]:
        assert intercom.get(f"/conversations/{conversation_id}").status_code == 404


def test_the_wall_clock_cannot_be_moved_by_hand(intercom: SandboxClient, ws: Workspace) -> None:
    before = ws.now
    response = requests.post(
        f"{intercom.base_url}/_sandbox/clock/advance", json={"seconds": 60}, timeout=30
    )
    assert response.status_code == 409
    error = response.json()["error"]
    assert "follows the machine's clock" in error
    assert "clock fixed" in error
    assert ws.now == before
