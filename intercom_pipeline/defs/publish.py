"""The read-only copy of the warehouse for BI tools, published after every build."""

import dagster as dg

from intercom_pipeline.defs.automation import FOLLOW_UPSTREAMS
from intercom_pipeline.defs.resources import WarehouseResource
from intercom_pipeline.defs.transform import intercom_dbt_assets
from intercom_pipeline.warehouse.publish import LakeSnapshot, publish_warehouse


def mart_keys() -> list[dg.AssetKey]:
    """Every dbt model and seed in `analytics` and `ops`: what BI tools read, what the copy follows."""
    return sorted(
        (key for key in intercom_dbt_assets().keys if key.path[0] in ("analytics", "ops")),
        key=lambda key: key.to_user_string(),
    )


def build_publish_asset() -> dg.AssetsDefinition:
    @dg.asset(
        name="bi_warehouse",
        group_name="serving",
        deps=mart_keys(),
        kinds={"duckdb"},
        automation_condition=FOLLOW_UPSTREAMS,
    )
    def bi_warehouse(
        context: dg.AssetExecutionContext, warehouse: WarehouseResource
    ) -> dg.MaterializeResult:
        """A read-only copy of the warehouse (DUCKDB_SERVING_DIR) that BI tools can keep open.

        Replaced atomically after each build, in a storage format DuckDB 1.x clients read: a tool
        holding the old copy keeps reading it, and neither side ever waits for the other. In the
        lake mode, the lake's snapshot that readers now see (they attach the lake itself).
        """
        published = publish_warehouse(warehouse.get(context.log))
        if isinstance(published, LakeSnapshot):
            context.log.info(
                f"readers of the {published.location} see snapshot {published.snapshot_id} "
                f"({published.tables} tables): a lake needs no copy"
            )
            return dg.MaterializeResult(
                metadata={
                    "lake_snapshot_id": dg.MetadataValue.int(published.snapshot_id),
                    "tables": dg.MetadataValue.int(published.tables),
                }
            )
        context.log.info(
            f"published {published.path} ({published.tables} tables, storage "
            f"{published.storage_version})"
        )
        return dg.MaterializeResult(
            metadata={
                "path": dg.MetadataValue.path(str(published.path)),
                "size_bytes": dg.MetadataValue.int(published.size_bytes),
                "tables": dg.MetadataValue.int(published.tables),
                "storage_version": published.storage_version,
            }
        )

    return bi_warehouse


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions(assets=[build_publish_asset()])
