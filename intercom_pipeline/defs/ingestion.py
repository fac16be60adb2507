"""Raw Intercom tables as Dagster assets: one asset per dlt resource, keyed ["intercom", table]."""

from collections.abc import Iterator
from functools import cache
from typing import Any

import dagster as dg
from dagster_dlt import DagsterDltResource, DagsterDltTranslator, dlt_assets
from dagster_dlt.translator import DltResourceTranslatorData
from pydantic import Field

from intercom_pipeline import quality
from intercom_pipeline.ingest import make_pipeline, run_ingestion, whole_families
from intercom_pipeline.settings import lookback_seconds, stop_on_type_change
from intercom_pipeline.sources.intercom import intercom_source

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
    lookback_seconds: int | None = Field(
        default=None,
        ge=0,
        description="Overlap of incremental conversation and ticket reads, in seconds "
        "(contacts keep at least a day); unset: INTERCOM_LOOKBACK_SECONDS.",
    )


@cache
def intercom_raw_assets() -> dg.AssetsDefinition:
    """Built once, lazily: the definition-time source has no workspace and makes no call."""
    definition_source = intercom_source(workspaces=[])

    @dlt_assets(
        dlt_source=definition_source,
        dlt_pipeline=make_pipeline(create_directory=False),
        name="intercom_raw",
        dagster_dlt_translator=IntercomDltTranslator(),
        pool=WAREHOUSE_POOL,
    )
    def _assets(
        context: dg.AssetExecutionContext, config: IntercomSyncConfig, dlt: DagsterDltResource
    ) -> Iterator[Any]:
        # Not dlt.run: it would load the selected tables alone, and a parent's cursor would move
        # past children never fetched. run_ingestion loads each selected table's whole family.
        selected = [key.path[-1] for key in context.selected_asset_keys]
        tables = whole_families(selected)
        family = ", ".join(t for t in tables if t not in selected)
        if family:
            context.log.info(
                f"Also loading {family}: a table loads with its whole family (parent and "
                "children), so no cursor moves past rows left unread."
            )
        try:
            result = run_ingestion(
                tables,
                stop_on_type_change=stop_on_type_change(),
                related_only=config.related_only,
                reconcile_deletions=config.reconcile_deletions,
                lookback_seconds=(
                    lookback_seconds()
                    if config.lookback_seconds is None
                    else config.lookback_seconds
                ),
            )
        except quality.TypeChanged as exc:
            raise dg.Failure(str(exc)) from exc
        for workspace, missing in result.modules_unavailable.items():
            context.log.warning(
                f"Workspace {workspace}: its Intercom plan does not include {', '.join(missing)}; "
                "skipped (the tables stay as they were)."
            )
        pipeline = result.load_info.pipeline
        for table in selected:
            metadata = dict(
                dlt.extract_resource_metadata(
                    context, definition_source.resources[table], result.load_info, pipeline
                )
            )
            metadata.update(
                {
                    "rows_loaded": dg.MetadataValue.int(result.rows_loaded.get(table, 0)),
                    "loaded_with_family": dg.MetadataValue.text(family or "nothing else"),
                    "modules_unavailable": dg.MetadataValue.json(result.modules_unavailable),
                    "run_api_calls": dg.MetadataValue.int(result.api.get("api_calls", 0)),
                    "run_rate_limited_429": dg.MetadataValue.int(result.api.get("rate_limited", 0)),
                    "run_retries": dg.MetadataValue.int(result.api.get("retries", 0)),
                    "run_duration_seconds": dg.MetadataValue.float(round(result.seconds, 3)),
                }
            )
            yield dg.MaterializeResult(
                asset_key=dg.AssetKey(["intercom", table]), metadata=metadata
            )

    return _assets


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions(
        assets=[intercom_raw_assets()],
        resources={"dlt": DagsterDltResource()},
    )
