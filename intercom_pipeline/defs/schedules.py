"""Jobs and schedules for the raw tables, on by default, each interval configurable.

| schedule | tables | default |
|---|---|---|
| intercom_conversations | conversations, parts, tickets (+ contacts and companies of changed conversations) | hourly |
| intercom_contacts | contacts, their tags and companies, companies, deletions | daily |
| intercom_settings | admins, teams, tags, segments, data attributes, help center content | daily |
"""

import os

import dagster as dg

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
# (name, tables, interval variable, default interval, run config for the dlt op)
SCHEDULES = (
    (
        "intercom_conversations",
        (*CONVERSATION_TABLES, *CONTACT_TABLES),
        "INTERCOM_CONVERSATIONS_SCHEDULE",
        "1h",
        {"related_only": True, "reconcile_deletions": False},
    ),
    (
        "intercom_contacts",
        (*CONTACT_TABLES, "deletions"),
        "INTERCOM_CONTACTS_SCHEDULE",
        "daily",
        {"related_only": False, "reconcile_deletions": True},
    ),
    ("intercom_settings", SETTINGS_TABLES, "INTERCOM_SETTINGS_SCHEDULE", "daily", {}),
)


def cron_for(variable: str, default: str) -> str:
    """The cron of a schedule's interval variable (1h, 3h, 6h, 12h or daily)."""
    value = os.environ.get(variable, default).strip().lower() or default
    if value not in INTERVALS:
        raise ConfigurationError(f"{variable}={value!r}: choose one of {', '.join(INTERVALS)}")
    return INTERVALS[value]


def build_schedules() -> list[dg.ScheduleDefinition]:
    schedules = []
    for name, tables, variable, default, op_config in SCHEDULES:
        job = dg.define_asset_job(
            f"{name}_job",
            selection=dg.AssetSelection.assets(*[dg.AssetKey(["intercom", t]) for t in tables]),
            config={"ops": {"intercom_raw": {"config": op_config}}} if op_config else None,
            description=f"Sync {', '.join(tables)}.",
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
    everything = dg.define_asset_job(
        "intercom_ingest_all",
        selection=dg.AssetSelection.groups("intercom_raw"),
        description="Every raw Intercom table: what `intercom-pipeline demo` runs.",
    )
    return dg.Definitions(schedules=build_schedules(), jobs=[everything])
