"""Pausing the API syncs after a failure the next run cannot fix by itself, until its cause is gone.

A rejected token (401), a missing permission or plan module (403) and a core column's type
change in `INTERCOM_ON_TYPE_CHANGE=stop` mode fail every later run the same way: retrying each
hour only repeats the failure. `blocking_cause` tells them from the failures a later run may get
past (an outage, a 5xx, a rate limit, a custom attribute's type change, which is stored and
reported once). No Dagster here: the sensors of `defs/schedules.py` pause and resume, its
schedules skip their ticks while paused, and `intercom-pipeline auth check` resumes after a new
token.

Which schedules pause: every API sync reads every workspace with its token, so a token or
permission failure pauses all of them; a type change pauses the schedule of the failed job only.
A pause is one JSON value per schedule in the Dagster instance's key-value store (an empty value
is none: the store cannot delete). A manual launch is not a tick, so it still runs while paused.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Protocol

PAUSE_KEY_PREFIX = "intercom_pipeline/paused/"

TOKEN_REJECTED = "token rejected (401)"
PERMISSION_MISSING = "permission or plan missing (403)"
TYPE_CHANGE = "type change in stop mode"

# What to do to resume, per reason.
FIXES = {
    TOKEN_REJECTED: (
        "Set a valid INTERCOM_ACCESS_TOKEN (and INTERCOM_REGION), then run "
        "`intercom-pipeline auth check`: it verifies the token and resumes the schedules "
        "(a manual run of the job that succeeds resumes them too)."
    ),
    PERMISSION_MISSING: (
        "Grant the token the permission the error names (Developer Hub > your app > "
        "Authentication) or add the module to the workspace's plan, then launch the job by hand: "
        "its success resumes the schedules."
    ),
    TYPE_CHANGE: (
        "Accept the change: launch the job by hand once with INTERCOM_ON_TYPE_CHANGE=report "
        "(the new values go to a variant column); its success resumes the schedule."
    ),
}
# Reasons that lie with the workspace's token, shared by every sync: they pause them all.
SHARED_REASONS = frozenset({TOKEN_REJECTED, PERMISSION_MISSING})

# The error class a failure's text starts with (as `failure_text` gives it) -> its reason.
_BLOCKING_CLASSES = {
    "IntercomAuthError": TOKEN_REJECTED,
    "IntercomPermissionError": PERMISSION_MISSING,
    "CoreTypeChanged": TYPE_CHANGE,
}
# CoreTypeChanged's own words, for a text that lost the class name to a wrapper (dg.Failure).
_CORE_TYPE_CHANGE_WORDS = "every sync stops here until the change is accepted"


class CursorStore(Protocol):
    """The key-value store of a Dagster instance (`instance.run_storage`)."""

    def get_cursor_values(self, keys: set[str]) -> Mapping[str, str]: ...

    def set_cursor_values(self, pairs: Mapping[str, str]) -> None: ...


@dataclass(frozen=True)
class Pause:
    """Why a schedule is paused, how to resume it, and the run (and its job) that paused it."""

    reason: str
    fix: str
    run_id: str
    job: str
    since: str

    def skip_message(self) -> str:
        """What a skipped tick says in the UI."""
        return f"Paused: {self.reason} in run {self.run_id}. {self.fix}"


def blocking_cause(error_text: str) -> str | None:
    """The reason a failure will recur until someone acts, or None when a later run may pass.

    `error_text` is the failed run's error, `<ErrorClass>: <message>` as `failure_text` gives it.
    """
    error_class = error_text.split(":", 1)[0].strip()
    if error_class in _BLOCKING_CLASSES:
        return _BLOCKING_CLASSES[error_class]
    if _CORE_TYPE_CHANGE_WORDS in error_text:
        return TYPE_CHANGE
    return None


def fix_for(reason: str) -> str:
    """What to do to resume the schedules a reason paused."""
    return FIXES[reason]


def new_pause(reason: str, run_id: str, job: str, now: datetime | None = None) -> Pause:
    since = (now or datetime.now(UTC)).isoformat(timespec="seconds")
    return Pause(reason, fix_for(reason), run_id, job, since)


def schedules_to_pause(reason: str, job: str, schedule_jobs: Mapping[str, str]) -> list[str]:
    """The schedules (of `schedule_jobs`, schedule -> its job) a failure of `job` pauses."""
    if reason in SHARED_REASONS:
        return sorted(schedule_jobs)
    return [schedule for schedule, its_job in schedule_jobs.items() if its_job == job]


def schedules_to_resume(
    pauses: Mapping[str, Pause], job: str, schedule_jobs: Mapping[str, str]
) -> list[str]:
    """The paused schedules a success of `job` shows the cause of to be gone.

    Its own schedule's pause, the pauses its own failure set, and, when it is one of the syncs,
    every pause for a rejected token: it just read Intercom with the token.
    """
    reads_intercom = job in schedule_jobs.values()
    return sorted(
        schedule
        for schedule, pause in pauses.items()
        if schedule_jobs.get(schedule) == job
        or pause.job == job
        or (reads_intercom and pause.reason == TOKEN_REJECTED)
    )


def pause_key(schedule: str) -> str:
    return PAUSE_KEY_PREFIX + schedule


def read_pauses(store: CursorStore, schedules: Iterable[str]) -> dict[str, Pause]:
    """The schedules among `schedules` that are paused, with their pause."""
    keys = {schedule: pause_key(schedule) for schedule in schedules}
    values = store.get_cursor_values(set(keys.values()))
    return {
        schedule: Pause(**json.loads(values[key]))
        for schedule, key in keys.items()
        if values.get(key)
    }


def pause_schedules(store: CursorStore, schedules: Iterable[str], pause: Pause) -> None:
    """Pause the schedules (a later blocking failure replaces the pause: it is the news)."""
    value = json.dumps(asdict(pause), sort_keys=True)
    store.set_cursor_values({pause_key(schedule): value for schedule in schedules})


def resume_schedules(store: CursorStore, schedules: Iterable[str]) -> None:
    """Resume the schedules: their next tick runs."""
    if pairs := {pause_key(schedule): "" for schedule in schedules}:
        store.set_cursor_values(pairs)
