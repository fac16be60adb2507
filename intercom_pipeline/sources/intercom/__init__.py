"""The Intercom dlt source: one resource per raw table, for every configured workspace.

Runs on its own, without Dagster (`intercom-pipeline ingest`, or `intercom_pipeline.warehouse.load`).
Every row carries its `workspace_id` (the Intercom app id)
and every table is merged on keys that include it, so re-reading a record never duplicates it.

`tables` declares the raw tables family by family (a parent and the transformers it feeds);
`source` assembles the families' resources (`settings_tables`, `help_center`, `conversations`,
`tickets`, `contacts`, `companies`, `deletions`) into `intercom_source`, and names the dlt
settings the source needs (`SOURCE_DLT_SETTINGS`).
"""

from intercom_pipeline.sources.intercom.source import SOURCE_DLT_SETTINGS, intercom_source
from intercom_pipeline.sources.intercom.tables import (
    FAMILIES,
    RAW_TABLES,
    Family,
    whole_families,
)
from intercom_pipeline.sources.intercom.workspace import Workspace, connect

__all__ = [
    "FAMILIES",
    "RAW_TABLES",
    "SOURCE_DLT_SETTINGS",
    "Family",
    "Workspace",
    "connect",
    "intercom_source",
    "whole_families",
]
