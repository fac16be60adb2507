"""The support lead's dashboard: a static page rebuilt from the published marts."""

import dagster as dg

from intercom_pipeline.dashboard import publish_dashboard
from intercom_pipeline.defs.automation import FOLLOW_UPSTREAMS
from intercom_pipeline.defs.resources import WarehouseResource


def build_dashboard_asset() -> dg.AssetsDefinition:
    @dg.asset(
        name="support_dashboard",
        group_name="serving",
        deps=["bi_warehouse"],
        kinds={"html"},
        automation_condition=FOLLOW_UPSTREAMS,
    )
    def support_dashboard(
        context: dg.AssetExecutionContext, warehouse: WarehouseResource
    ) -> dg.MaterializeResult:
        """One HTML page of support, survey and AI agent figures, nothing to install to open it.

        Read from what BI tools read (the BI copy, or the lake attached read-only) and written
        to `<DUCKDB_SERVING_DIR>/dashboard/index.html`: inline SVG charts, no script, no network.
        """
        dashboard = publish_dashboard(warehouse.get(context.log))
        context.log.info(f"wrote {dashboard.path} ({dashboard.charts} charts)")
        return dg.MaterializeResult(
            metadata={
                "path": dg.MetadataValue.path(str(dashboard.path)),
                "charts": dg.MetadataValue.int(dashboard.charts),
            }
        )

    return support_dashboard


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions(assets=[build_dashboard_asset()])
