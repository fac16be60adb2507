"""Raw Intercom tables as Dagster assets: one asset per dlt resource, keyed ["intercom", table]."""

import logging
from collections.abc import Iterator
from functools import cache
from typing import Any

import dagster as dg
from dagster_dlt import DagsterDltResource, DagsterDltTranslator, dlt_assets
from dagster_dlt.translator import DltResourceTranslatorData
from dlt.extract.resource import DltResource
from pydantic import Field

from intercom_pipeline.defs.keys import raw_key
from intercom_pipeline.defs.resources import IntercomResource, WarehouseResource
from intercom_pipeline.defs.schedules import raw_freshness
from intercom_pipeline.settings import lookback_seconds, stop_on_type_change
from intercom_pipeline.sources.intercom import Workspace, intercom_source, whole_families
from intercom_pipeline.sources.intercom.progress import PROGRESS_LOGGER
from intercom_pipeline.sources.intercom.selection import setup_selection
from intercom_pipeline.warehouse import quality
from intercom_pipeline.warehouse.load import (
    CoreTypeChanged,
    IngestionResult,
    definition_pipeline,
    deletions_refused,
    modules_unavailable,
    run_ingestion,
)

RAW_GROUP = "intercom_raw"
PROGRESS_LOG = logging.getLogger(PROGRESS_LOGGER)


class IntercomDltTranslator(DagsterDltTranslator):
    """Keys equal to the dbt source's tables, no phantom upstream, its schedule's freshness."""

    def get_asset_spec(self, data: DltResourceTranslatorData) -> dg.AssetSpec:
        spec = super().get_asset_spec(data)
        return spec.replace_attributes(
            key=raw_key(data.resource.name),
            deps=[],
            group_name=RAW_GROUP,
            kinds={"dlt", "duckdb"},
            freshness_policy=raw_freshness().get(data.resource.name),
        )


class IntercomSyncConfig(dg.Config):
    """Run options; the schedules set them, and "Materialize" in the UI uses the defaults."""

    related_only: bool = False  # contacts and companies of recently changed conversations only
    reconcile_deletions: bool = True
    accept_mass_deletions: bool = Field(
        default=False,
        description="For this run only, mark every contact and company missing from Intercom "
        "deleted, however many: after a genuine mass deletion the reconciliation refused.",
    )
    lookback_seconds: int | None = Field(
        default=None,
        ge=0,
        description="Overlap of incremental conversation and ticket reads, in seconds "
        "(contacts keep at least a day); unset: INTERCOM_LOOKBACK_SECONDS.",
    )


def intercom_raw_assets() -> dg.AssetsDefinition:
    """The raw tables of the modules turned on (INTERCOM_MODULES)."""
    return _raw_assets(setup_selection().tables)


@cache
def _raw_assets(tables: tuple[str, ...]) -> dg.AssetsDefinition:
    """Built once per set of tables: the definition-time source has no workspace, makes no call."""
    definition_source = intercom_source(workspaces=[]).with_resources(*tables)

    @dlt_assets(
        dlt_source=definition_source,
        dlt_pipeline=definition_pipeline(),
        name="intercom_raw",
        dagster_dlt_translator=IntercomDltTranslator(),
    )
    def _assets(
        context: dg.AssetExecutionContext,
        config: IntercomSyncConfig,
        dlt: DagsterDltResource,
        warehouse: WarehouseResource,
        intercom: IntercomResource,
    ) -> Iterator[Any]:
        # Not dlt.run: it would load the selected tables alone, and a parent's cursor would move
        # past children never fetched. run_ingestion loads each selected table's whole family.
        selected = [key.path[-1] for key in context.selected_asset_keys]
        tables = whole_families(selected)
        family = ", ".join(t for t in tables if t not in selected)
        if family:
            context.log.info(
                f"Also loading {family}: a table loads with its whole family (parent and "
                "children), so no cursor moves past rows left unread; each is recorded as "
                "materialized too."
            )
        result = _ingest(context, config, warehouse, intercom, tables)
        for table in tables:
            key = raw_key(table)
            resource = definition_source.resources[table]
            metadata = _table_metadata(context, dlt, resource, result, family)
            if table in selected:
                yield dg.MaterializeResult(asset_key=key, metadata=metadata)
            else:  # loaded with its family: Dagster must know this table changed too
                context.log_event(dg.AssetMaterialization(asset_key=key, metadata=metadata))

    return _assets


def _progress(context: dg.AssetExecutionContext, line: str) -> None:
    """A progress line to the run log, and to the `intercom_pipeline.progress` logger.

    That logger has no handler unless a caller adds one (the demo prints it to the console,
    whose Dagster logger is quiet).
    """
    context.log.info(line)
    PROGRESS_LOG.info(line)


def _ingest(
    context: dg.AssetExecutionContext,
    config: IntercomSyncConfig,
    warehouse: WarehouseResource,
    intercom: IntercomResource,
    tables: list[str],
) -> IngestionResult:
    """Load the tables (whole families) as the run config says; a type change fails the run."""
    workspaces = intercom.connect()
    try:
        return run_ingestion(
            warehouse.get(context.log),
            workspaces,
            tables,
            stop_on_type_change=stop_on_type_change(),
            accept_mass_deletions=config.accept_mass_deletions,
            excluded_fields=intercom.excluded_fields(),
            progress_log=lambda line: _progress(context, line),
            related_only=config.related_only,
            reconcile_deletions=config.reconcile_deletions,
            lookback_seconds=(
                lookback_seconds() if config.lookback_seconds is None else config.lookback_seconds
            ),
        )
    except (quality.TypeChanged, CoreTypeChanged) as exc:
        raise dg.Failure(str(exc)) from exc
    finally:  # also when the run stops on a type change: what it skipped is still news
        _warn_about_skips(context, workspaces)


def _table_metadata(
    context: dg.AssetExecutionContext,
    dlt: DagsterDltResource,
    resource: DltResource,
    result: IngestionResult,
    family: str,
) -> dict[str, Any]:
    """A loaded table's materialization metadata: dlt's, and the run's counts and findings."""
    values = dict(
        dlt.extract_resource_metadata(
            context, resource, result.load_info, result.load_info.pipeline
        )
    )
    values.update(
        {
            "rows_loaded": dg.MetadataValue.int(result.rows_loaded.get(resource.name, 0)),
            "loaded_with_family": dg.MetadataValue.text(family or "nothing else"),
            "modules_unavailable": dg.MetadataValue.json(result.modules_unavailable),
            "deletions_refused": dg.MetadataValue.json(result.deletions_refused),
            "run_api_calls": dg.MetadataValue.int(result.api.get("api_calls", 0)),
            "run_rate_limited_429": dg.MetadataValue.int(result.api.get("rate_limited", 0)),
            "run_retries": dg.MetadataValue.int(result.api.get("retries", 0)),
            "run_duration_seconds": dg.MetadataValue.float(round(result.seconds, 3)),
        }
    )
    return values


def _warn_about_skips(context: dg.AssetExecutionContext, workspaces: list[Workspace]) -> None:
    """Name the tables a plan lacks and the deletions refused as implausible, per workspace."""
    for workspace, missing in modules_unavailable(workspaces).items():
        context.log.warning(
            f"Workspace {workspace}: its Intercom plan does not include {', '.join(missing)}; "
            "skipped (the tables stay as they were)."
        )
    for workspace, refused in deletions_refused(workspaces).items():
        for table, counts in refused.items():
            context.log.warning(
                f"Workspace {workspace}: {counts['missing']} of the {counts['stored']} {table} "
                "stored are missing from Intercom's full listing, too many to be likely; none "
                "was marked deleted. If they really were deleted, materialize deletions once "
                "with the run config accept_mass_deletions: true."
            )


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions(
        assets=[intercom_raw_assets()],
        resources={"dlt": DagsterDltResource()},
    )
