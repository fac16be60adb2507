"""The API syncs: jobs and schedules, on by default, each interval configurable.

A schedule only reads Intercom (the hourly one the survey feed too); the models, the BI copy and
the push back follow by themselves (`automation.py`).

| schedule | tables | default |
|---|---|---|
| intercom_conversations | conversations, parts, handling events, tickets, deleted conversations (+ contacts and companies of changed conversations) | hourly |
| intercom_contacts | contacts, their tags and companies, companies, deletions | daily |
| intercom_settings | admins, teams, tags, segments, data attributes, ticket types and states, admin activity logs, help center content | daily |
"""

import os
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import dagster as dg

from intercom_pipeline.defs.keys import raw_key
from intercom_pipeline.defs.survey_feed import survey_feed_responses
from intercom_pipeline.settings import ConfigurationError
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


def raw_freshness() -> dict[str, dg.FreshnessPolicy]:
    """Each raw table's freshness, from the most frequent sync that loads it.

    Late one hour past that sync's interval, failing a day past it.
    """
    hours: dict[str, int] = {}
    for sync in SYNCS:
        every = INTERVALS[sync.interval()][1]
        for table in sync.tables:
            hours[table] = min(hours.get(table, every), every)
    return {
        table: dg.FreshnessPolicy.time_window(
            warn_window=timedelta(hours=every + 1), fail_window=timedelta(hours=every + 24)
        )
        for table, every in hours.items()
    }


def build_schedules() -> list[dg.ScheduleDefinition]:
    """One running schedule per sync, its job selecting the sync's raw tables only."""
    schedules = []
    for sync in SYNCS:
        job = dg.define_asset_job(
            f"{sync.name}_job",
            selection=sync.selection(),
            config={"ops": {"intercom_raw": {"config": sync.op_config}}}
            if sync.op_config
            else None,
            description=f"Sync {', '.join(sync.tables)}; the models follow by themselves.",
        )
        schedules.append(
            dg.ScheduleDefinition(
                name=sync.name,
                job=job,
                cron_schedule=INTERVALS[sync.interval()][0],
                default_status=dg.DefaultScheduleStatus.RUNNING,
                execution_timezone="UTC",
            )
        )
    return schedules


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
    return dg.Definitions(schedules=build_schedules(), jobs=[ingest, everything])
