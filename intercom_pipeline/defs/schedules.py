"""Jobs and schedules, on by default, each interval configurable.

Each schedule syncs its raw tables, then rebuilds every model downstream of them and publishes
the BI copy. The hourly one also reads the survey feed.

| schedule | tables | default |
|---|---|---|
| intercom_conversations | conversations, parts, tickets (+ contacts and companies of changed conversations) | hourly |
| intercom_contacts | contacts, their tags and companies, companies, deletions | daily |
| intercom_settings | admins, teams, tags, segments, data attributes, help center content | daily |
"""

import os

import dagster as dg
from dagster_dbt import build_dbt_asset_selection

from intercom_pipeline.defs.audiences import AUDIENCE_ASSETS
from intercom_pipeline.defs.survey_feed import survey_feed_responses
from intercom_pipeline.defs.transform import intercom_dbt_assets
from intercom_pipeline.settings import ConfigurationError
from intercom_pipeline.sources.intercom import RAW_TABLES

INTERVALS = {
    "1h": "0 * * * *",
    "3h": "0 */3 * * *",
    "6h": "0 */6 * * *",
    "12h": "0 */12 * * *",
    "daily": "0 3 * * *",
}
CONVERSATION_TABLES = (
    "conversations",
    "conversation_parts",
    "conversation_contacts",
    "tickets",
    "ticket_parts",
)
CONTACT_TABLES = ("contacts", "contact_tags", "contact_companies", "companies")
# Everything the two schedules above do not sync: the small lists, read whole.
SETTINGS_TABLES = tuple(
    t for t in RAW_TABLES if t not in (*CONVERSATION_TABLES, *CONTACT_TABLES, "deletions")
)
# (name, tables, interval variable, default interval, run config for the dlt op, survey feed?)
SCHEDULES = (
    (
        "intercom_conversations",
        (*CONVERSATION_TABLES, *CONTACT_TABLES),
        "INTERCOM_CONVERSATIONS_SCHEDULE",
        "1h",
        {"related_only": True, "reconcile_deletions": False},
        True,
    ),
    (
        "intercom_contacts",
        (*CONTACT_TABLES, "deletions"),
        "INTERCOM_CONTACTS_SCHEDULE",
        "daily",
        {"related_only": False, "reconcile_deletions": True},
        False,
    ),
    ("intercom_settings", SETTINGS_TABLES, "INTERCOM_SETTINGS_SCHEDULE", "daily", {}, False),
)


def cron_for(variable: str, default: str) -> str:
    """The cron of a schedule's interval variable (1h, 3h, 6h, 12h or daily)."""
    value = os.environ.get(variable, default).strip().lower() or default
    if value not in INTERVALS:
        raise ConfigurationError(f"{variable}={value!r}: choose one of {', '.join(INTERVALS)}")
    return INTERVALS[value]


def sync_and_build(tables: tuple[str, ...], survey_feed: bool) -> dg.AssetSelection:
    """The raw tables, and everything downstream of them: models, tests, the BI copy.

    Seeds have no upstream, so they are selected too: a fresh warehouse has none yet. Audiences
    are left out: syncing one writes to Intercom, so only its own schedule or a manual run does.
    """
    raw = dg.AssetSelection.assets(*[dg.AssetKey(["intercom", t]) for t in tables])
    if survey_feed:
        raw |= dg.AssetSelection.assets(survey_feed_responses)
    seeds = build_dbt_asset_selection([intercom_dbt_assets()], dbt_select="resource_type:seed")
    return (raw | seeds).downstream() - AUDIENCE_ASSETS


def build_schedules() -> list[dg.ScheduleDefinition]:
    schedules = []
    for name, tables, variable, default, op_config, survey_feed in SCHEDULES:
        job = dg.define_asset_job(
            f"{name}_job",
            selection=sync_and_build(tables, survey_feed),
            config={"ops": {"intercom_raw": {"config": op_config}}} if op_config else None,
            description=f"Sync {', '.join(tables)}, then rebuild the models downstream.",
        )
        schedules.append(
            dg.ScheduleDefinition(
                name=name,
                job=job,
                cron_schedule=cron_for(variable, default),
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
