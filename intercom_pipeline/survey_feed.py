"""Loading the external survey feed into the warehouse with dlt, without Dagster.

One pipeline (`survey_feed`), one dataset (`survey_feed_raw`), the same DuckDB file as Intercom
(`DUCKDB_PATH`), so dbt reads both side by side.
"""

from __future__ import annotations

from pathlib import Path

import dlt

from intercom_pipeline.ingest import LOAD_FORMAT, create_missing_tables, make_pipeline
from intercom_pipeline.settings import survey_feed_dir
from intercom_pipeline.sources.survey_feed import COLUMN_TYPES, TABLE, survey_feed_source

PIPELINE_NAME = "survey_feed"
RAW_DATASET = "survey_feed_raw"


def load_survey_feed(
    folder: Path | None = None,
    warehouse: Path | None = None,
    pipelines_dir: Path | None = None,
) -> dict[str, int]:
    """Load the new and changed feed files; returns `rows_loaded` (this run) and `rows_total`.

    Args:
        folder: The feed folder (default: SURVEY_FEED_DIR).
        warehouse: The DuckDB file (default: DUCKDB_PATH).
        pipelines_dir: Where dlt keeps its working files (default: DLT_DATA_DIR).

    Raises:
        FileNotFoundError: The feed folder does not exist.
    """
    source = survey_feed_source(folder or survey_feed_dir())
    pipeline = make_pipeline(
        warehouse, pipelines_dir, pipeline_name=PIPELINE_NAME, dataset_name=RAW_DATASET
    )
    # The state that counts (which files were read) lives in the warehouse: dropping local
    # leftovers of a killed run makes dlt restore it from there, as `run_ingestion` does.
    pipeline.drop()
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
