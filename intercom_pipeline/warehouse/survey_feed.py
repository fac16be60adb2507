"""Loading the external survey feed into the warehouse with dlt, without Dagster.

One pipeline (`survey_feed`), one dataset (`survey_feed_raw`), the same warehouse as Intercom,
so dbt reads both side by side.
"""

from __future__ import annotations

import logging
from pathlib import Path

import dlt

from intercom_pipeline.sources.survey_feed import (
    COLUMN_TYPES,
    TABLE,
    WHOLE_FILE_LINE,
    quarantined_files,
    survey_feed_source,
)
from intercom_pipeline.warehouse import Warehouse
from intercom_pipeline.warehouse.load import LOAD_FORMAT, create_missing_tables, loading_pipeline
from intercom_pipeline.warehouse.settings import SURVEY_FEED_DATASET

PIPELINE_NAME = "survey_feed"


def load_survey_feed(
    warehouse: Warehouse, folder: Path, logger: logging.Logger | None = None
) -> dict[str, int]:
    """Load the new and changed feed files.

    A file that is not UTF-8 CSV / JSON Lines at all does not stop the others: it is loaded as
    one quarantine row with the reason, `logger` gets a warning naming it, and the run goes on.

    Returns:
        `rows_loaded` (this run), `rows_total`, and `files_quarantined`: the files quarantined
        whole right now (found this run or earlier, not fixed since).

    Raises:
        FileNotFoundError: The feed folder does not exist.
    """
    source = survey_feed_source(folder, logger)
    with loading_pipeline(warehouse, PIPELINE_NAME, SURVEY_FEED_DATASET) as pipeline:
        pipeline.run(source, loader_file_format=LOAD_FORMAT).raise_on_failed_jobs()
        # dbt reads the table as a source, so it must exist before the first file arrives.
        create_missing_tables(pipeline, {TABLE: COLUMN_TYPES})
        quarantined = quarantined_files(_resource_state(pipeline))
        _drop_fixed_file_rows(pipeline, quarantined)
        return {
            "rows_loaded": _rows_loaded(pipeline),
            "rows_total": _rows_total(pipeline),
            "files_quarantined": len(quarantined),
        }


def _resource_state(pipeline: dlt.Pipeline) -> dict:
    sources = pipeline.state.get("sources", {})
    return sources.get("survey_feed", {}).get("resources", {}).get(TABLE, {})


def _drop_fixed_file_rows(pipeline: dlt.Pipeline, quarantined: dict[str, str]) -> None:
    """Delete the whole-file rows of files read cleanly since (no longer quarantined)."""
    with pipeline.sql_client() as client:
        table = client.make_qualified_table_name(TABLE)
        names = sorted(quarantined)
        keep = f"and source_file not in ({', '.join('%s' for _ in names)})" if names else ""
        client.execute_sql(
            f"delete from {table} where source_line = {WHOLE_FILE_LINE} {keep}", *names
        )


def _rows_loaded(pipeline: dlt.Pipeline) -> int:
    normalized = pipeline.last_trace.last_normalize_info
    return normalized.row_counts.get(TABLE, 0) if normalized else 0


def _rows_total(pipeline: dlt.Pipeline) -> int:
    with pipeline.sql_client() as client:
        rows = client.execute_sql(f"select count(*) from {client.make_qualified_table_name(TABLE)}")
    return int(rows[0][0])
