"""The external survey feed (a folder of CSV / JSON Lines files) as the asset ["survey_feed", "responses"]."""

import dagster as dg

from intercom_pipeline.defs.resources import SurveyFeedResource, WarehouseResource
from intercom_pipeline.warehouse.survey_feed import load_survey_feed


@dg.asset(
    key=["survey_feed", "responses"],
    group_name="survey_feed",
    kinds={"dlt", "duckdb"},
)
def survey_feed_responses(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, survey_feed: SurveyFeedResource
) -> dg.MaterializeResult:
    """Survey answers from outside Intercom: the new or changed files of SURVEY_FEED_DIR, as text.

    The default folder is created when missing (a project without a feed loads nothing); a folder
    set explicitly must exist. A file that is not UTF-8 CSV / JSON Lines at all is quarantined
    whole (a warning names it, the reason and the fix) and the other files still load.
    """
    folder = survey_feed.path()
    if not survey_feed.folder:
        folder.mkdir(parents=True, exist_ok=True)
    # A file that is not UTF-8 CSV / JSON Lines is quarantined whole with a warning; the run goes on.
    counts = load_survey_feed(warehouse.get(context.log), folder, context.log)
    context.log.info(
        f"survey feed {folder}: {counts['rows_loaded']} rows loaded, "
        f"{counts['files_quarantined']} files quarantined whole"
    )
    return dg.MaterializeResult(
        metadata={
            "rows_loaded": dg.MetadataValue.int(counts["rows_loaded"]),
            "rows_total": dg.MetadataValue.int(counts["rows_total"]),
            "files_quarantined": dg.MetadataValue.int(counts["files_quarantined"]),
            "folder": dg.MetadataValue.path(str(folder)),
        }
    )


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions(assets=[survey_feed_responses])
