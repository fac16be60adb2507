"""Loading the external survey feed into the warehouse with dlt, without Dagster.

One pipeline (`survey_feed`), one dataset (`survey_feed_raw`), the same warehouse as Intercom,
so dbt reads both side by side.
"""

from __future__ import annotations

from pathlib import Path

import dlt

from intercom_pipeline.sources.survey_feed import COLUMN_TYPES, TABLE, survey_feed_source
from intercom_pipeline.warehouse import Warehouse
from intercom_pipeline.warehouse.load import LOAD_FORMAT, create_missing_tables, loading_pipeline
from intercom_pipeline.warehouse.settings import SURVEY_FEED_DATASET

PIPELINE_NAME = "survey_feed"


def load_survey_feed(warehouse: Warehouse, folder: Path) -> dict[str, int]:
    """Load the new and changed feed files; returns `rows_loaded` (this run) and `rows_total`.

    Raises:
        FileNotFoundError: The feed folder does not exist.
    """
    source = survey_feed_source(folder)
    with loading_pipeline(warehouse, PIPELINE_NAME, SURVEY_FEED_DATASET) as pipeline:
        pipeline.run(source, loader_file_format=LOAD_FORMAT).raise_on_failed_jobs()
        # dbt reads the table as a source, so it must exist before the first file arrives.
        create_missing_tables(pipeline, {TABLE: COLUMN_TYPES})
        return {"rows_loaded": _rows_loaded(pipeline), "rows_total": _rows_total(pipeline)}


def _rows_loaded(pipeline: dlt.Pipeline) -> int:
    normalized = pipeline.last_trace.last_normalize_info
    return normalized.row_counts.get(TABLE, 0) if normalized else 0


def _rows_total(pipeline: dlt.Pipeline) -> int:
    with pipeline.sql_client() as client:
        rows = client.execute_sql(f"select count(*) from {client.make_qualified_table_name(TABLE)}")
    return int(rows[0][0])
