"""Raw Intercom tables as Dagster assets: one asset per dlt resource, keyed ["intercom", table]."""

import os
from collections.abc import Iterator
from functools import cache
from typing import Any

import dagster as dg
from dagster_dlt import DagsterDltResource, DagsterDltTranslator, dlt_assets
from dagster_dlt.translator import DltResourceTranslatorData

from intercom_pipeline import quality
from intercom_pipeline.ingest import LOAD_FORMAT, client_stats, ensure_raw_tables, make_pipeline
from intercom_pipeline.settings import duckdb_path
from intercom_pipeline.sources.intercom import connect, intercom_source

RAW_GROUP = "intercom_raw"
WAREHOUSE_POOL = "duckdb"  # one writer at a time: every asset that writes the warehouse uses it


class IntercomDltTranslator(DagsterDltTranslator):
    """Keys equal to the dbt source `intercom`'s tables, and no phantom upstream asset."""

    def get_asset_spec(self, data: DltResourceTranslatorData) -> dg.AssetSpec:
        spec = super().get_asset_spec(data)
        return spec.replace_attributes(
            key=dg.AssetKey(["intercom", data.resource.name]),
            deps=[],
            group_name=RAW_GROUP,
            kinds={"dlt", "duckdb"},
        )


class IntercomSyncConfig(dg.Config):
    """Run options; the schedules set them, and "Materialize" in the UI uses the defaults."""

    related_only: bool = False  # contacts and companies of recently changed conversations only
    reconcile_deletions: bool = True


def stop_on_type_change() -> bool:
    """INTERCOM_ON_TYPE_CHANGE=stop fails the sync when a type changed (the default: report it)."""
    value = os.environ.get("INTERCOM_ON_TYPE_CHANGE", "report").strip().lower()
    if value not in ("report", "stop"):
        raise dg.Failure(f"INTERCOM_ON_TYPE_CHANGE={value!r}: use report (default) or stop")
    return value == "stop"


@cache
def intercom_raw_assets() -> dg.AssetsDefinition:
    """Built once, lazily: the definition-time source has no workspace and makes no call."""

    @dlt_assets(
        dlt_source=intercom_source(workspaces=[]),
        dlt_pipeline=make_pipeline(create_directory=False),
        name="intercom_raw",
        dagster_dlt_translator=IntercomDltTranslator(),
        pool=WAREHOUSE_POOL,
    )
    def _assets(
        context: dg.AssetExecutionContext, config: IntercomSyncConfig, dlt: DagsterDltResource
    ) -> Iterator[Any]:
        workspaces = connect()
        source = intercom_source(
            workspaces,
            related_only=config.related_only,
            reconcile_deletions=config.reconcile_deletions,
        )
        pipeline = make_pipeline()
        results = list(
            dlt.run(
                context=context,
                dlt_source=source,
                dlt_pipeline=pipeline,
                loader_file_format=LOAD_FORMAT,
            )
        )
        ensure_raw_tables(pipeline)
        api = client_stats(workspaces)
        findings = quality.type_findings(duckdb_path())
        if findings and stop_on_type_change():
            raise dg.Failure(
                "A field's type changed upstream (INTERCOM_ON_TYPE_CHANGE=stop): "
                + "; ".join(f.describe() for f in findings),
            )
        for result in results:
            metadata = dict(result.metadata or {})
            metadata.setdefault("rows_loaded", dg.MetadataValue.int(0))
            metadata.update(
                {
                    "run_api_calls": dg.MetadataValue.int(api.get("api_calls", 0)),
                    "run_rate_limited_429": dg.MetadataValue.int(api.get("rate_limited", 0)),
                    "run_retries": dg.MetadataValue.int(api.get("retries", 0)),
                    "run_duration_seconds": dg.MetadataValue.float(
                        round(
                            pipeline.last_trace.finished_at.timestamp()
                            - pipeline.last_trace.started_at.timestamp(),
                            3,
                        )
                    ),
                }
            )
            yield dg.MaterializeResult(asset_key=result.asset_key, metadata=metadata)

    return _assets


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions(
        assets=[intercom_raw_assets()],
        resources={"dlt": DagsterDltResource()},
    )
