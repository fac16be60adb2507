"""The sync history and the setup's audit log, from plain records of the Dagster instance.

Two tables BI tools read (the marts `ops.sync_history` and `ops.audit_log`):

- one row per raw table per sync run (`history_rows`): when, how it ended, the rows it loaded,
  the run's API calls and 429s, and the reason of a failure;
- one row per setup change (`setup_events`, comparing two `SetupSnapshot`s: modules and fields,
  schedule intervals, the token, pauses and resumes) and per manual sync or retry
  (`run_events`).

No Dagster here: `operations/instance.py` turns the instance's runs into `SyncRun`s,
`defs/operations.py` takes the snapshots and writes the tables, and `status_text` is what
`intercom-pipeline status` prints.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta

from intercom_pipeline.settings import ConfigurationError

DEFAULT_SYNC_HISTORY_DAYS = 45
DEFAULT_AUDIT_LOG_DAYS = 180

# Dagster's run tags that tell how a run started.
SCHEDULE_TAG = "dagster/schedule_name"
PARENT_RUN_TAG = "dagster/parent_run_id"

RUN_KINDS = ("schedule", "manual", "retry")
STATUSES = ("success", "failure", "canceled")
EVENT_TYPES = (
    "module_added",
    "module_removed",
    "field_excluded",
    "field_included",
    "schedule_changed",
    "token_replaced",
    "manual_sync",
    "retry",
    "paused",
    "resumed",
)
ARROW = " → "


@dataclass(frozen=True)
class TableLoad:
    """What a run's materialization of one raw table says (None: not recorded)."""

    rows_loaded: int | None = None
    run_api_calls: int | None = None
    run_rate_limited_429: int | None = None


@dataclass(frozen=True)
class SyncRun:
    """One ended run that selected raw Intercom tables, as the instance recorded it."""

    run_id: str
    job_name: str
    status: str  # one of STATUSES
    kind: str  # one of RUN_KINDS
    started_at: datetime | None
    ended_at: datetime | None
    tables: tuple[str, ...]  # the raw tables it selected
    loads: Mapping[str, TableLoad] = field(default_factory=dict)  # table -> what it loaded
    failure_reason: str = ""
    schedule_name: str | None = None
    parent_run_id: str | None = None


@dataclass(frozen=True)
class HistoryRow:
    """One row of `ops_raw.sync_runs`: a raw table in a sync run."""

    run_id: str
    table_name: str
    job_name: str
    run_kind: str
    schedule_name: str | None
    parent_run_id: str | None
    status: str
    started_at: datetime | None
    ended_at: datetime | None
    rows_loaded: int | None
    run_api_calls: int | None
    run_rate_limited_429: int | None
    failure_reason: str | None


@dataclass(frozen=True)
class AuditEvent:
    """One row of `ops_raw.setup_events`: a change of the setup, a manual sync or a retry."""

    event_id: str
    occurred_at: datetime
    event_type: str  # one of EVENT_TYPES
    subject: str  # the module, field, schedule, workspace or job
    detail: str
    run_id: str | None = None


@dataclass(frozen=True)
class SetupSnapshot:
    """The setup at one refresh; only its differences from the previous one are recorded.

    `tokens` holds a fingerprint per workspace (`token_fingerprint`), never a token; the
    snapshot lives in the Dagster instance, not in the warehouse.
    """

    modules: tuple[str, ...] = ()
    excluded_fields: tuple[str, ...] = ()
    intervals: Mapping[str, str] = field(default_factory=dict)  # schedule -> interval
    tokens: Mapping[str, str] = field(default_factory=dict)  # workspace -> fingerprint
    pauses: Mapping[str, Mapping[str, str]] = field(default_factory=dict)  # schedule -> pause

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> SetupSnapshot:
        values = json.loads(text)
        return cls(
            modules=tuple(values.get("modules", ())),
            excluded_fields=tuple(values.get("excluded_fields", ())),
            intervals=values.get("intervals", {}),
            tokens=values.get("tokens", {}),
            pauses=values.get("pauses", {}),
        )


def token_fingerprint(token: str) -> str:
    """SHA-256 of a token (empty for none): tells a replaced token without keeping it."""
    return hashlib.sha256(token.encode()).hexdigest() if token else ""


def retention_days(value: str, variable: str, default: int) -> int:
    """A retention setting in whole days (unset: `default`); anything else names the fix."""
    raw = value.strip()
    if not raw:
        return default
    if not (raw.isascii() and raw.isdigit()) or int(raw) < 1:
        raise ConfigurationError(
            f"{variable}={raw!r}: use a whole number of days, 1 or more (default {default})."
        )
    return int(raw)


def cutoff(now: datetime, days: int) -> datetime:
    """The oldest moment a table keeps `days` days of."""
    return now - timedelta(days=days)


def run_kind(tags: Mapping[str, str], parent_run_id: str | None = None) -> str:
    """How a run started: a re-execution is a retry, a tick a schedule, anything else by hand.

    A re-execution names its parent in the run itself, and in a tag when launched from the UI.
    """
    if parent_run_id or tags.get(PARENT_RUN_TAG):
        return "retry"
    if tags.get(SCHEDULE_TAG):
        return "schedule"
    return "manual"


def history_rows(runs: Iterable[SyncRun], since: datetime | None = None) -> list[HistoryRow]:
    """One row per table per run that started at `since` or later (a run never started: kept).

    A table the run loaded is a success with its counts (also in a run that failed later); a
    selected table it did not load takes the run's status and failure reason.
    """
    rows = []
    for run in runs:
        if since is not None and run.started_at is not None and run.started_at < since:
            continue
        loaded = [t for t in run.loads if t not in run.tables]
        rows.extend(_history_row(run, table) for table in (*run.tables, *loaded))
    return rows


def _history_row(run: SyncRun, table: str) -> HistoryRow:
    load = run.loads.get(table)
    status = "success" if load is not None else run.status
    return HistoryRow(
        run_id=run.run_id,
        table_name=table,
        job_name=run.job_name,
        run_kind=run.kind,
        schedule_name=run.schedule_name,
        parent_run_id=run.parent_run_id,
        status=status,
        started_at=run.started_at,
        ended_at=run.ended_at,
        rows_loaded=load.rows_loaded if load else None,
        run_api_calls=load.run_api_calls if load else None,
        run_rate_limited_429=load.run_rate_limited_429 if load else None,
        failure_reason=None if status == "success" else (run.failure_reason or run.status),
    )


def event(
    occurred_at: datetime, event_type: str, subject: str, detail: str, run_id: str | None = None
) -> AuditEvent:
    """An audit event; its id is a digest of what it says, so finding it again adds nothing."""
    key = "|".join((occurred_at.isoformat(), event_type, subject, detail, run_id or ""))
    return AuditEvent(
        hashlib.sha256(key.encode()).hexdigest()[:20],
        occurred_at,
        event_type,
        subject,
        detail,
        run_id,
    )


def run_events(runs: Iterable[SyncRun]) -> list[AuditEvent]:
    """A 'manual_sync' event per sync launched by hand, a 'retry' per re-execution."""
    found = []
    for run in runs:
        if run.kind == "schedule" or run.started_at is None:
            continue
        tables = ", ".join(run.tables)
        if run.kind == "retry":
            detail = f"re-execution of run {run.parent_run_id} ({tables}): {run.status}"
        else:
            detail = f"launched by hand ({tables}): {run.status}"
        kind = "retry" if run.kind == "retry" else "manual_sync"
        found.append(event(run.started_at, kind, run.job_name, detail, run.run_id))
    return found


def setup_events(
    previous: SetupSnapshot | None, current: SetupSnapshot, now: datetime
) -> list[AuditEvent]:
    """What changed from `previous` to `current`, found at `now` (nothing before a first one).

    A pause is dated by its own start; the other changes by `now`, the refresh that found them.
    """
    if previous is None:
        return []
    found = [
        *_set_events(now, previous.modules, current.modules, "module_added", "module_removed"),
        *_set_events(
            now,
            previous.excluded_fields,
            current.excluded_fields,
            "field_excluded",
            "field_included",
        ),
        *_interval_events(now, previous.intervals, current.intervals),
        *_token_events(now, previous.tokens, current.tokens),
        *_pause_events(now, previous.pauses, current.pauses),
    ]
    return sorted(found, key=lambda e: (e.occurred_at, e.event_type, e.subject))


def _set_events(
    now: datetime, before: Sequence[str], after: Sequence[str], added: str, removed: str
) -> list[AuditEvent]:
    words = {
        "module_added": "turned on",
        "module_removed": "turned off",
        "field_excluded": "left out of the sync",
        "field_included": "synced again",
    }
    return [
        *(event(now, added, name, words[added]) for name in sorted(set(after) - set(before))),
        *(event(now, removed, name, words[removed]) for name in sorted(set(before) - set(after))),
    ]


def _interval_events(
    now: datetime, before: Mapping[str, str], after: Mapping[str, str]
) -> list[AuditEvent]:
    return [
        event(
            now,
            "schedule_changed",
            name,
            f"{before.get(name, '(none)')}{ARROW}{after.get(name, '(none)')}",
        )
        for name in sorted(set(before) | set(after))
        if before.get(name) != after.get(name)
    ]


def _token_events(
    now: datetime, before: Mapping[str, str], after: Mapping[str, str]
) -> list[AuditEvent]:
    found = []
    for workspace in sorted(set(before) | set(after)):
        old, new = before.get(workspace, ""), after.get(workspace, "")
        if old == new:
            continue
        what = "replaced" if old and new else ("set" if new else "removed")
        detail = f"access token {what} (the token itself is never recorded)"
        found.append(event(now, "token_replaced", workspace, detail))
    return found


def _pause_events(
    now: datetime,
    before: Mapping[str, Mapping[str, str]],
    after: Mapping[str, Mapping[str, str]],
) -> list[AuditEvent]:
    found = []
    for schedule in sorted(set(before) | set(after)):
        old, new = before.get(schedule), after.get(schedule)
        if new is not None and new != old:
            since = datetime.fromisoformat(new["since"]) if new.get("since") else now
            since = since.replace(tzinfo=None) if now.tzinfo is None else since
            found.append(event(since, "paused", schedule, new["reason"], new.get("run_id")))
        elif new is None and old is not None:
            detail = f"{old['reason']} no longer blocks it (paused since {old.get('since', '?')})"
            found.append(event(now, "resumed", schedule, detail))
    return found


@dataclass(frozen=True)
class ScheduleStatus:
    """A sync schedule as `status` shows it: its interval, or why it will not tick."""

    name: str
    interval: str
    cron: str
    pause: str | None = None  # "<reason> in run <id>. <fix>"
    stopped: bool = False


def next_tick(cron: str, now: datetime) -> datetime:
    """The first time after `now` that a `<minute> <hour> * * *` cron names (hour: *, */n, h)."""
    minute, hour, *days = cron.split()
    if days != ["*", "*", "*"] or not minute.isdigit():
        raise ValueError(f"unsupported cron {cron!r}: expected '<minute> <hour> * * *'")
    start = now.replace(minute=int(minute), second=0, microsecond=0)
    for step in range(49):
        candidate = start + timedelta(hours=step)
        if candidate > now and _hour_matches(hour, candidate.hour):
            return candidate
    raise ValueError(f"cron {cron!r} names no hour")


def _hour_matches(field: str, hour: int) -> bool:
    if field == "*":
        return True
    if field.startswith("*/"):
        return hour % int(field[2:]) == 0
    return hour == int(field)


def status_text(
    rows: Sequence[HistoryRow],
    families: Mapping[str, Sequence[str]],
    schedules: Sequence[ScheduleStatus],
    now: datetime,
    days: int,
) -> str:
    """What `intercom-pipeline status` prints: each module's last sync, then each schedule."""
    lines = [f"Last sync of each module (the last {days} days):"]
    if not rows:
        lines.append("  no sync has run yet (or none in that time)")
    width = max(map(len, families), default=0)
    lines += [f"  {m:<{width}}  {_last_sync(rows, set(t))}" for m, t in families.items()]
    lines.append("Next scheduled syncs:")
    width = max((len(s.name) for s in schedules), default=0)
    lines += [f"  {s.name:<{width}}  {_next_sync(s, now)}" for s in schedules]
    return "\n".join(lines)


def _last_sync(rows: Sequence[HistoryRow], tables: set[str]) -> str:
    """The module's last run: when it ended, how, the rows it loaded and how it started."""
    mine = [r for r in rows if r.table_name in tables]
    if not mine:
        return "never synced"
    last = max(mine, key=lambda r: (_seconds(r.ended_at or r.started_at), r.run_id))
    run_rows = [r for r in mine if r.run_id == last.run_id]
    failed = [r for r in run_rows if r.status != "success"]
    when = _time(last.ended_at or last.started_at)
    if not failed:
        loaded = sum(r.rows_loaded or 0 for r in run_rows)
        return f"{when}  success  {loaded} rows  {last.run_kind}  run {last.run_id}"
    reason = (failed[0].failure_reason or "").strip().splitlines()
    because = f"  ({reason[0]})" if reason else ""
    return f"{when}  {failed[0].status}  {last.run_kind}{because}  run {last.run_id}"


def _next_sync(schedule: ScheduleStatus, now: datetime) -> str:
    if schedule.stopped:
        return "stopped (start it in the Dagster UI: Automation > Schedules)"
    if schedule.pause:
        return f"paused: {schedule.pause}"
    every = "daily" if schedule.interval == "daily" else f"every {schedule.interval}"
    return f"next {_time(next_tick(schedule.cron, now))} ({every})"


def _seconds(moment: datetime | None) -> float:
    return moment.timestamp() if moment else 0.0


def _time(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else "?"
