"""The audiences as assets: one per audience of the file, and one for every other Intercom segment.

"Sync now" is materializing an audience's asset (for an Intercom segment not in the file, the
segments asset with `segment` set in its run config). No ingestion job selects these assets: they
write to Intercom (tags, events), so only a manual run or the auto-sync schedule syncs them.
"""

import dagster as dg

from intercom_pipeline.activation.audiences.config import Audience, load_audiences
from intercom_pipeline.activation.audiences.sync import (
    SyncReport,
    intercom_segment_audiences,
    sync_audience,
)
from intercom_pipeline.defs.keys import mart_key, raw_key
from intercom_pipeline.defs.modules import keys_off, reads_on
from intercom_pipeline.defs.resources import IntercomResource, WarehouseResource

AUTO_SYNC_SCHEDULE = "audiences_auto_sync"
AUTO_SYNC_CRON = "0 4 * * *"  # every 24 hours
# Every audience asset: the scheduled ingestion jobs leave them out.
AUDIENCE_ASSETS = dg.AssetSelection.key_prefixes(["audiences"])
SEGMENTS_KEY = dg.AssetKey(["audiences", "intercom_segments"])
_COUNTS = ("contacts", "new", "updated", "unchanged", "skipped", "failed", "removed")


def audience_asset_keys() -> list[dg.AssetKey]:
    """Every audience asset: they all write the members table (the dbt source `audiences`)."""
    audiences, segments_on = audiences_on()
    keys = [dg.AssetKey(["audiences", a.id]) for a in audiences]
    return [*keys, SEGMENTS_KEY] if segments_on else keys


def audiences_on() -> tuple[list[Audience], bool]:
    """The audiences whose reads are on (INTERCOM_MODULES), and whether Intercom's segments are.

    Every audience reads the contacts mart; one of an Intercom segment, the segments table too.
    """
    off = keys_off()
    if not reads_on([mart_key("contacts")], off):
        return [], False
    segments_on = reads_on([raw_key("segments")], off)
    audiences = [a for a in load_audiences() if segments_on or a.kind != "intercom_segment"]
    return audiences, segments_on


def report_metadata(report: SyncReport) -> dict[str, dg.MetadataValue]:
    """One sync's numbers, and the reason of each failure (the first 50)."""
    failures = "\n".join(f"| {c} | {r} |" for c, r in report.failures[:50])
    return {
        **{name: dg.MetadataValue.int(getattr(report, name)) for name in _COUNTS},
        "failures": dg.MetadataValue.md(
            "| contact | reason |\n|---|---|\n" + failures if failures else "none"
        ),
    }


def audience_asset(audience: Audience) -> dg.AssetsDefinition:
    deps = [mart_key("contacts")]
    if audience.kind == "intercom_segment":
        deps.append(raw_key("segments"))

    @dg.asset(
        key=["audiences", audience.id],
        group_name="audiences",
        deps=deps,
        kinds={"duckdb", "intercom"},
        description=f"Audience {audience.name!r} ({audience.kind}); auto-sync "
        f"{'on (every 24 hours)' if audience.auto_sync else 'off'}.",
        metadata={"name": audience.name, "type": audience.kind, "auto_sync": audience.auto_sync},
    )
    def _sync(
        context: dg.AssetExecutionContext,
        warehouse: WarehouseResource,
        intercom: IntercomResource,
    ) -> dg.MaterializeResult:
        report = sync_audience(warehouse.get(context.log), audience, intercom.connect())
        if report.failed:
            context.log.warning(
                f"{report.failed} contacts failed; see audiences.audience_sync_failures"
            )
        return dg.MaterializeResult(metadata=report_metadata(report))

    return _sync


class SegmentsConfig(dg.Config):
    segment: str | None = None  # one segment's name or id ("Sync now" for it); unset: all


def segments_asset(configured: list[Audience]) -> dg.AssetsDefinition:
    """Every Intercom segment the file does not configure, each synced as its own audience."""

    @dg.asset(
        key=SEGMENTS_KEY,
        group_name="audiences",
        deps=[mart_key("contacts"), raw_key("segments")],
        kinds={"duckdb", "intercom"},
        description="Every segment saved in Intercom and not in the audiences file, each an "
        "audience `segment_<id>` with the defaults; auto-sync off.",
    )
    def _sync(
        context: dg.AssetExecutionContext,
        config: SegmentsConfig,
        warehouse: WarehouseResource,
        intercom: IntercomResource,
    ) -> dg.MaterializeResult:
        store = warehouse.get(context.log)
        audiences = intercom_segment_audiences(store, configured)
        if config.segment is not None:
            audiences = [a for a in audiences if config.segment in (a.segment, a.name, a.id)]
            if not audiences:
                raise dg.Failure(
                    f"no Intercom segment outside the audiences file is {config.segment!r}"
                )
        workspaces = intercom.connect()
        rows, failed = [], 0
        for audience in audiences:
            report = sync_audience(store, audience, workspaces)
            failed += report.failed
            counts = " | ".join(str(getattr(report, n)) for n in _COUNTS)
            rows.append(f"| {audience.id} | {audience.name} | {counts} |")
        if failed:
            context.log.warning(f"{failed} contacts failed; see audiences.audience_sync_failures")
        header = "| audience | name | " + " | ".join(_COUNTS) + " |\n"
        return dg.MaterializeResult(
            metadata={
                "segments": dg.MetadataValue.int(len(audiences)),
                "reports": dg.MetadataValue.md(
                    header + "|---" * (len(_COUNTS) + 2) + "|\n" + "\n".join(rows)
                ),
            }
        )

    return _sync


@dg.definitions
def defs() -> dg.Definitions:
    audiences, segments_on = audiences_on()
    assets = [audience_asset(a) for a in audiences]
    if segments_on:
        assets.append(segments_asset(audiences))
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
                cron_schedule=AUTO_SYNC_CRON,
                default_status=dg.DefaultScheduleStatus.RUNNING,
                execution_timezone="UTC",
            )
        )
    return dg.Definitions(assets=assets, schedules=schedules)
