"""One asset per audience of the audiences file: "Sync now" is materializing it."""

import dagster as dg

from intercom_pipeline.audiences.config import Audience, load_audiences
from intercom_pipeline.audiences.sync import sync_audience
from intercom_pipeline.defs.ingestion import WAREHOUSE_POOL
from intercom_pipeline.settings import duckdb_path
from intercom_pipeline.sources.intercom import connect

AUTO_SYNC_SCHEDULE = "audiences_auto_sync"


def audience_asset(audience: Audience) -> dg.AssetsDefinition:
    deps = [dg.AssetKey("contacts")]
    if audience.kind == "intercom_segment":
        deps.append(dg.AssetKey(["intercom", "segments"]))

    @dg.asset(
        key=["audiences", audience.id],
        group_name="audiences",
        deps=deps,
        kinds={"duckdb", "intercom"},
        pool=WAREHOUSE_POOL,
        description=f"Audience {audience.name!r} ({audience.kind}); auto-sync "
        f"{'on (daily)' if audience.auto_sync else 'off'}.",
        metadata={"name": audience.name, "type": audience.kind, "auto_sync": audience.auto_sync},
    )
    def _sync(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        report = sync_audience(duckdb_path(), audience, connect())
        if report.failed:
            context.log.warning(
                f"{report.failed} contacts failed; see audiences.audience_sync_failures"
            )
        failures = "\n".join(f"| {c} | {r} |" for c, r in report.failures[:50])
        return dg.MaterializeResult(
            metadata={
                "contacts": dg.MetadataValue.int(report.contacts),
                "new": dg.MetadataValue.int(report.new),
                "updated": dg.MetadataValue.int(report.updated),
                "unchanged": dg.MetadataValue.int(report.unchanged),
                "failed": dg.MetadataValue.int(report.failed),
                "removed": dg.MetadataValue.int(report.removed),
                "failures": dg.MetadataValue.md(
                    "| contact | reason |\n|---|---|\n" + failures if failures else "none"
                ),
            }
        )

    return _sync


@dg.definitions
def defs() -> dg.Definitions:
    audiences = load_audiences()
    assets = [audience_asset(a) for a in audiences]
    auto = [dg.AssetKey(["audiences", a.id]) for a in audiences if a.auto_sync]
    schedules = []
    if auto:
        job = dg.define_asset_job(
            "audiences_auto_sync_job", selection=auto, description="Audiences with auto-sync on."
        )
        schedules.append(
            dg.ScheduleDefinition(
                name=AUTO_SYNC_SCHEDULE,
                job=job,
                cron_schedule="0 4 * * *",
                default_status=dg.DefaultScheduleStatus.RUNNING,
                execution_timezone="UTC",
            )
        )
    return dg.Definitions(assets=assets, schedules=schedules)
