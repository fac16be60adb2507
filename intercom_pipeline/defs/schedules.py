"""The API syncs: jobs and schedules, on by default, each interval configurable.

A schedule only reads Intercom (the hourly one the survey feed too); the models, the BI copy and
the push back follow by themselves (`automation.py`).

| schedule | tables | default |
|---|---|---|
| intercom_conversations | conversations, parts, handling events, tickets, deleted conversations (+ contacts and companies of changed conversations) | hourly |
| intercom_contacts | contacts, their tags and companies, companies, deletions | daily |
| intercom_settings | admins, teams, tags, segments, data attributes, ticket types and states, admin activity logs, help center content | daily |

A failure the next run cannot fix (a rejected token, a missing permission, a core type change
in stop mode: `operations/pause.py`) pauses the schedules it would fail again
(`pause_on_blocking_failure`): their ticks skip, each saying why and how to resume, while a
manual launch of a job still runs. A success that shows the cause gone resumes them
(`resume_on_success`), as `intercom-pipeline auth check` does for a new token.
"""

import os
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any

import dagster as dg

from intercom_pipeline.defs.keys import raw_key
from intercom_pipeline.defs.notifications import failure_text
from intercom_pipeline.defs.survey_feed import survey_feed_responses
from intercom_pipeline.operations.pause import (
    blocking_cause,
    new_pause,
    pause_schedules,
    read_pauses,
    resume_schedules,
    schedules_to_pause,
    schedules_to_resume,
)
from intercom_pipeline.settings import ConfigurationError
from intercom_pipeline.sources.intercom.selection import setup_selection
from intercom_pipeline.sources.intercom.tables import (
    ADMIN_ACTIVITY,
    COMPANIES,
    CONTACTS,
    CONVERSATIONS,
    DELETIONS,
    HELP_CENTER,
    SETTINGS,
    TICKETS,
    tables_of,
)

# Interval name -> (cron, hours between runs).
INTERVALS = {
    "1h": ("0 * * * *", 1),
    "3h": ("0 */3 * * *", 3),
    "6h": ("0 */6 * * *", 6),
    "12h": ("0 */12 * * *", 12),
    "daily": ("0 3 * * *", 24),
}


@dataclass(frozen=True)
class Sync:
    """One scheduled sync: its tables, how often it runs, and the options of the raw op.

    The tables are whole families (see `sources.intercom.tables`); the interval is read from its
    variable, else the default.
    """

    name: str
    tables: tuple[str, ...]
    interval_variable: str
    default_interval: str
    op_config: dict[str, Any] = field(default_factory=dict)
    survey_feed: bool = False

    def interval(self) -> str:
        """The configured interval name (1h, 3h, 6h, 12h or daily)."""
        value = os.environ.get(self.interval_variable, "").strip().lower()
        value = value or self.default_interval
        if value not in INTERVALS:
            raise ConfigurationError(
                f"{self.interval_variable}={value!r}: choose one of {', '.join(INTERVALS)}"
            )
        return value

    def selection(self) -> dg.AssetSelection:
        """The raw tables (and the survey feed): nothing downstream, the models follow."""
        selection = dg.AssetSelection.assets(*[raw_key(t) for t in self.tables])
        if self.survey_feed:
            selection |= dg.AssetSelection.assets(survey_feed_responses)
        return selection


CONVERSATION_TABLES = tables_of(CONVERSATIONS, TICKETS)
CONTACT_TABLES = tables_of(CONTACTS, COMPANIES)
SYNCS = (
    Sync(
        "intercom_conversations",
        (*CONVERSATION_TABLES, *CONTACT_TABLES, *tables_of(DELETIONS)),
        "INTERCOM_CONVERSATIONS_SCHEDULE",
        "1h",
        {"related_only": True, "reconcile_deletions": False},
        survey_feed=True,
    ),
    Sync(
        "intercom_contacts",
        (*CONTACT_TABLES, *tables_of(DELETIONS)),
        "INTERCOM_CONTACTS_SCHEDULE",
        "daily",
        {"related_only": False, "reconcile_deletions": True},
    ),
    Sync(
        "intercom_settings",
        tables_of(*SETTINGS, ADMIN_ACTIVITY, *HELP_CENTER),
        "INTERCOM_SETTINGS_SCHEDULE",
        "daily",
    ),
)


def active_syncs() -> tuple[Sync, ...]:
    """The syncs, each with the tables of the modules turned on (INTERCOM_MODULES).

    A sync left with nothing to read (no table, no survey feed) has no job and no schedule.
    """
    enabled = set(setup_selection().tables)
    syncs = (replace(s, tables=tuple(t for t in s.tables if t in enabled)) for s in SYNCS)
    return tuple(sync for sync in syncs if sync.tables or sync.survey_feed)


def raw_freshness() -> dict[str, dg.FreshnessPolicy]:
    """Each raw table's freshness, from the most frequent sync that loads it.

    Late one hour past that sync's interval, failing a day past it.
    """
    hours: dict[str, int] = {}
    for sync in active_syncs():
        every = INTERVALS[sync.interval()][1]
        for table in sync.tables:
            hours[table] = min(hours.get(table, every), every)
    return {
        table: dg.FreshnessPolicy.time_window(
            warn_window=timedelta(hours=every + 1), fail_window=timedelta(hours=every + 24)
        )
        for table, every in hours.items()
    }


def schedule_jobs() -> dict[str, str]:
    """Each API sync schedule's name -> its job's name."""
    return {sync.name: sync_job_name(sync) for sync in active_syncs()}


def sync_job_name(sync: Sync) -> str:
    return f"{sync.name}_job"


def build_schedules() -> list[dg.ScheduleDefinition]:
    """One running schedule per sync, its job selecting the sync's raw tables only."""
    return [_schedule(sync) for sync in active_syncs()]


def _schedule(sync: Sync) -> dg.ScheduleDefinition:
    """The sync's job and schedule: a run each tick, unless a blocking failure paused it."""
    job = dg.define_asset_job(
        sync_job_name(sync),
        selection=sync.selection(),
        config={"ops": {"intercom_raw": {"config": sync.op_config}}} if sync.op_config else None,
        description=f"Sync {', '.join(sync.tables)}; the models follow by themselves.",
    )

    @dg.schedule(
        name=sync.name,
        job=job,
        cron_schedule=INTERVALS[sync.interval()][0],
        default_status=dg.DefaultScheduleStatus.RUNNING,
        execution_timezone="UTC",
    )
    def _tick(context: dg.ScheduleEvaluationContext) -> dg.RunRequest | dg.SkipReason:
        pause = read_pauses(context.instance.run_storage, [sync.name]).get(sync.name)
        if pause is not None:
            return dg.SkipReason(pause.skip_message())
        return dg.RunRequest()

    return _tick


@dg.run_failure_sensor(minimum_interval_seconds=30, default_status=dg.DefaultSensorStatus.RUNNING)
def pause_on_blocking_failure(context: dg.RunFailureSensorContext) -> None:
    """Pauses the schedules a failure the next run cannot fix would fail again, saying why.

    A token or permission failure pauses every API sync (they share the token); a type change
    in stop mode, the failed job's own schedule. Other failures leave the schedules alone.
    """
    run = context.dagster_run
    reason = blocking_cause(failure_text(context))
    if reason is None:
        return
    if paused := schedules_to_pause(reason, run.job_name, schedule_jobs()):
        pause = new_pause(reason, run.run_id, run.job_name)
        pause_schedules(context.instance.run_storage, paused, pause)
        context.log.info(f"Paused {', '.join(paused)}: {reason} in run {run.run_id}")


@dg.run_status_sensor(
    run_status=dg.DagsterRunStatus.SUCCESS,
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
)
def resume_on_success(context: dg.RunStatusSensorContext) -> None:
    """Resumes the paused schedules a succeeded run shows the cause of gone.

    Its job's own schedule, whatever paused it (a manual run accepted the change, the permission
    was granted); what its own failure paused; and, when it is a sync, a rejected token's pause.
    """
    storage, job_name = context.instance.run_storage, context.dagster_run.job_name
    jobs = schedule_jobs()
    if resumed := schedules_to_resume(read_pauses(storage, jobs), job_name, jobs):
        resume_schedules(storage, resumed)
        context.log.info(f"Resumed {', '.join(resumed)}: {job_name} succeeded")


@dg.definitions
def defs() -> dg.Definitions:
    ingest = dg.define_asset_job(
        "intercom_ingest_all",
        selection=dg.AssetSelection.groups("intercom_raw"),
        description="Every raw Intercom table, and nothing else.",
    )
    everything = dg.define_asset_job(
        "intercom_build_all",
        selection=dg.AssetSelection.all(),
        description="Every raw table, the survey feed, every model and the BI copy: the demo.",
    )
    return dg.Definitions(
        schedules=build_schedules(),
        jobs=[ingest, everything],
        sensors=[pause_on_blocking_failure, resume_on_success],
    )
