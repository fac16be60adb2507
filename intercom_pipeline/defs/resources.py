"""The Dagster resources every asset, check, sensor and schedule receives.

Values come from the environment as `EnvVar`s (the UI's resource page shows which variable set
each one); what is unset keeps the default of the code that uses it. The CLI builds the same
objects with `resources_from_environment`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import dagster as dg
from pydantic import Field

from intercom_pipeline.defs.notifications import NOTIFY_VARIABLES, NotificationsResource
from intercom_pipeline.operations.instance import OPERATIONS_VARIABLES, OperationsResource
from intercom_pipeline.settings import (
    DEFAULT_API_VERSION,
    DEFAULT_SURVEY_FEED_DIR,
    ConfigurationError,
    IntercomSettings,
    Secret,
    absolute_path,
    intercom_settings,
)
from intercom_pipeline.sources.intercom import Workspace, connect
from intercom_pipeline.sources.intercom.selection import SetupSelection, excluded_fields_setting
from intercom_pipeline.warehouse import Warehouse, open_warehouse, warehouse_settings
from intercom_pipeline.warehouse.lake import (
    DEFAULT_DATA_PATH,
    DEFAULT_MODE,
    LakeSettings,
    S3Settings,
    lake_settings,
    warehouse_mode,
)
from intercom_pipeline.warehouse.lock import Log
from intercom_pipeline.warehouse.settings import (
    DEFAULT_LOAD_MEMORY_LIMIT,
    DEFAULT_LOCK_TIMEOUT_SECONDS,
    DEFAULT_PATH,
    DEFAULT_SERVING_DIR,
    DEFAULT_SERVING_STORAGE_VERSION,
)


class WarehouseResource(dg.ConfigurableResource):
    """The warehouse: a DuckDB file (its BI copy, how long writers wait) or a DuckLake."""

    mode: str = Field(default=DEFAULT_MODE, description="WAREHOUSE: duckdb (a file) or ducklake")
    lake_catalog: str = Field(
        default="", description="DUCKLAKE_CATALOG: the lake's catalog, a PostgreSQL database"
    )
    lake_data_path: str = Field(
        default=DEFAULT_DATA_PATH, description="DUCKLAKE_DATA_PATH: the lake's files (or s3://)"
    )
    s3_key_id: str = Field(default="", description="AWS_ACCESS_KEY_ID: for an s3:// data path")
    s3_secret: str = Field(default="", description="AWS_SECRET_ACCESS_KEY")
    s3_region: str = Field(default="", description="AWS_REGION")
    s3_endpoint_url: str = Field(
        default="", description="AWS_ENDPOINT_URL: an S3-compatible store (MinIO, R2, ...)"
    )
    path: str = Field(default=DEFAULT_PATH, description="DUCKDB_PATH: the warehouse file")
    serving_dir: str = Field(
        default=DEFAULT_SERVING_DIR, description="DUCKDB_SERVING_DIR: folder of the BI copy"
    )
    memory_limit: str = Field(
        default="",
        description="DUCKDB_MEMORY_LIMIT: DuckDB's budget for dbt and the Python writers "
        "(unset: half the machine's memory)",
    )
    load_memory_limit: str = Field(
        default="",
        description="DUCKDB_LOAD_MEMORY_LIMIT: DuckDB's budget while dlt loads, spilling beyond "
        f"(unset: {DEFAULT_LOAD_MEMORY_LIMIT})",
    )
    lock_timeout_seconds: int = Field(
        default=DEFAULT_LOCK_TIMEOUT_SECONDS,
        description="DUCKDB_LOCK_TIMEOUT_SECONDS: how long a writer waits for the warehouse",
    )
    serving_storage_version: str = Field(
        default=DEFAULT_SERVING_STORAGE_VERSION,
        description="DUCKDB_SERVING_STORAGE_VERSION: the oldest DuckDB that opens the BI copy",
    )

    def get(self, log: Log | None = None) -> Warehouse:
        """The warehouse; `log` (a step's `context.log`) hears about waits."""
        return open_warehouse(
            warehouse_settings(
                self.path,
                self.serving_dir,
                self.memory_limit,
                self.load_memory_limit,
                self.lock_timeout_seconds,
                self.serving_storage_version,
                self._lake(),
            ),
            log,
        )

    def _lake(self) -> LakeSettings | None:
        if warehouse_mode(self.mode) != "ducklake":
            return None
        s3 = S3Settings(
            self.s3_key_id, Secret(self.s3_secret), self.s3_region, self.s3_endpoint_url
        )
        return lake_settings(self.lake_catalog, self.lake_data_path, s3)


class IntercomWorkspaceConfig(dg.Config):
    name: str = "default"
    access_token: str = ""
    region: str = "us"
    base_url: str = ""
    api_version: str = DEFAULT_API_VERSION


class IntercomResource(dg.ConfigurableResource):
    """The Intercom workspaces to sync (INTERCOM_WORKSPACES, INTERCOM_[<NAME>_]*)."""

    workspaces: list[IntercomWorkspaceConfig] = Field(
        default=[], description="one entry per workspace; none: one from INTERCOM_*"
    )
    exclude_fields: str = Field(
        default="",
        description="INTERCOM_EXCLUDE_FIELDS: table.field entries kept out of the warehouse",
    )

    def excluded_fields(self) -> dict[str, list[str]]:
        """Table -> the fields kept out of it (validated: a key or typo names the fix)."""
        return SetupSelection((), excluded_fields_setting(self.exclude_fields)).excluded_by_table()

    def settings(self) -> list[IntercomSettings]:
        """Validated settings; a wrong region or address names the variable and the fix."""
        configured = self.workspaces or [IntercomWorkspaceConfig()]
        return [
            intercom_settings(
                {
                    "INTERCOM_ACCESS_TOKEN": ws.access_token,
                    "INTERCOM_REGION": ws.region,
                    "INTERCOM_BASE_URL": ws.base_url,
                    "INTERCOM_API_VERSION": ws.api_version,
                },
                name=ws.name,
            )
            for ws in configured
        ]

    def connect(self, **client_options: Any) -> list[Workspace]:
        """Clients for the workspaces (the token may also come from dlt secrets)."""
        return connect(self.settings(), **client_options)


class SurveyFeedResource(dg.ConfigurableResource):
    """The survey answers from outside Intercom, and how they are matched to contacts."""

    folder: str = Field(
        default="", description=f"SURVEY_FEED_DIR (unset: {DEFAULT_SURVEY_FEED_DIR}, created)"
    )
    match_by_email: bool = Field(
        default=False,
        description="SURVEY_MATCH_BY_EMAIL: match rows that name a contact by email only",
    )

    def path(self) -> Path:
        return absolute_path(self.folder or DEFAULT_SURVEY_FEED_DIR)

    def dbt_vars(self) -> dict[str, Any]:
        return {"survey_match_by_email": self.match_by_email}


_WAREHOUSE_VARIABLES = {
    "mode": "WAREHOUSE",
    "lake_catalog": "DUCKLAKE_CATALOG",
    "lake_data_path": "DUCKLAKE_DATA_PATH",
    "s3_key_id": "AWS_ACCESS_KEY_ID",
    "s3_secret": "AWS_SECRET_ACCESS_KEY",
    "s3_region": "AWS_REGION",
    "s3_endpoint_url": "AWS_ENDPOINT_URL",
    "path": "DUCKDB_PATH",
    "serving_dir": "DUCKDB_SERVING_DIR",
    "memory_limit": "DUCKDB_MEMORY_LIMIT",
    "load_memory_limit": "DUCKDB_LOAD_MEMORY_LIMIT",
    "lock_timeout_seconds": "DUCKDB_LOCK_TIMEOUT_SECONDS",
    "serving_storage_version": "DUCKDB_SERVING_STORAGE_VERSION",
}
_WORKSPACE_VARIABLES = {
    "access_token": "ACCESS_TOKEN",
    "region": "REGION",
    "base_url": "BASE_URL",
    "api_version": "API_VERSION",
}


def _from_env(
    variables: Mapping[str, str], env: Mapping[str, str], resolved: bool
) -> dict[str, Any]:
    """Field -> EnvVar (or its value) for each variable that is set; the unset keep defaults."""
    values: dict[str, Any] = {}
    for name, variable in variables.items():
        value = env.get(variable, "").strip()
        if not value:
            continue
        as_int = name.endswith("seconds")
        if resolved:
            values[name] = _int(variable, value) if as_int else value
        else:
            values[name] = dg.EnvVar.int(variable) if as_int else dg.EnvVar(variable)
    return values


def _int(variable: str, value: str) -> int:
    if not (value.isascii() and value.isdigit()):
        raise ConfigurationError(f"{variable}={value!r}: use a whole number of seconds.")
    return int(value)


def _workspaces_from_env(env: Mapping[str, str], resolved: bool) -> list[IntercomWorkspaceConfig]:
    """INTERCOM_WORKSPACES=acme,globex: each reads INTERCOM_ACME_*, falling back to INTERCOM_*."""
    names = [n.strip() for n in env.get("INTERCOM_WORKSPACES", "").split(",") if n.strip()]
    for name in names:
        if not name.replace("_", "").isalnum():
            raise ConfigurationError(
                f"INTERCOM_WORKSPACES has {name!r}: use letters, digits and underscores only."
            )
    return [
        IntercomWorkspaceConfig(
            name=name,
            **_from_env(
                {
                    field: (
                        f"INTERCOM_{name.upper()}_{suffix}"
                        if env.get(f"INTERCOM_{name.upper()}_{suffix}", "").strip()
                        else f"INTERCOM_{suffix}"
                    )
                    for field, suffix in _WORKSPACE_VARIABLES.items()
                },
                env,
                resolved,
            ),
        )
        for name in names or ["default"]
    ]


def resources_from_environment(
    env: Mapping[str, str] | None = None, *, resolved: bool = False
) -> dict[str, Any]:
    """The resources, keyed as the assets ask for them, filled from `env` (default: os.environ).

    For Dagster each set variable becomes an `EnvVar`, read when a run starts; `resolved` puts
    the values themselves, for use outside Dagster (the CLI).
    """
    env = os.environ if env is None else env
    survey_feed = _from_env({"folder": "SURVEY_FEED_DIR"}, env, resolved)
    if match := env.get("SURVEY_MATCH_BY_EMAIL", "").strip().lower():
        if match not in ("true", "false"):
            raise ConfigurationError(f"SURVEY_MATCH_BY_EMAIL={match!r}: use true or false.")
        survey_feed["match_by_email"] = match == "true"
    return {
        "warehouse": WarehouseResource(**_from_env(_WAREHOUSE_VARIABLES, env, resolved)),
        "intercom": IntercomResource(
            workspaces=_workspaces_from_env(env, resolved),
            **_from_env({"exclude_fields": "INTERCOM_EXCLUDE_FIELDS"}, env, resolved),
        ),
        "survey_feed": SurveyFeedResource(**survey_feed),
        "notifications": NotificationsResource(**_from_env(NOTIFY_VARIABLES, env, resolved)),
        "operations": OperationsResource(**_from_env(OPERATIONS_VARIABLES, env, resolved)),
    }
