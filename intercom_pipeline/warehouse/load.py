"""Loading Intercom into the warehouse with dlt, without Dagster: used by the CLI and by `defs/`.

One pipeline (`intercom`), one dataset (`intercom_raw`), in the warehouse it is given.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import dlt
from dlt.common.pipeline import LoadInfo
from dlt.common.schema.exceptions import DataValidationError
from dlt.extract.source import DltSource
from dlt.pipeline.exceptions import PipelineStepFailed

from intercom_pipeline.settings import lookback_seconds
from intercom_pipeline.sources.intercom import (
    RAW_TABLES,
    SOURCE_DLT_SETTINGS,
    Workspace,
    intercom_source,
    whole_families,
)
from intercom_pipeline.sources.intercom.progress import DEFAULT_INTERVAL_SECONDS, Progress
from intercom_pipeline.sources.intercom.settings import COLUMNS, TIMESTAMPS
from intercom_pipeline.sources.intercom.source import leave_out_fields
from intercom_pipeline.warehouse import Warehouse, quality
from intercom_pipeline.warehouse.settings import RAW_DATASET

PIPELINE_NAME = "intercom"
# Rows per table that extract and normalize hold before writing them out. dlt's 5,000 wide
# conversations took 150 MB to read back in normalize; the count, not the workspace, sets memory.
WRITER_BUFFER_ROWS = 1000
# Parquet load files: DuckDB reads them in bounded memory, where INSERT statements of a big
# batch (the dlt default for DuckDB) took gigabytes to parse.
LOAD_FORMAT = "parquet"

log = logging.getLogger(__name__)

# dlt settings the loads need, set once in dlt's own configuration (a variable of the same name
# in the environment still wins): those the source needs, with their reasons there (its
# resources are read side by side), and the loading's own. Load jobs share one DuckDB budget: side by
# side they only compete for it, so they run one at a time.
DLT_SETTINGS = {
    "runtime.dlthub_telemetry": False,
    **SOURCE_DLT_SETTINGS,
    "data_writer.buffer_max_items": WRITER_BUFFER_ROWS,
    "load.workers": 1,
}


def definition_pipeline() -> dlt.Pipeline:
    """The pipeline as the Dagster definitions describe it: no warehouse, no connection."""
    _configure_dlt()
    return dlt.pipeline(PIPELINE_NAME, destination="duckdb", dataset_name=RAW_DATASET)


def _configure_dlt() -> None:
    for key, value in DLT_SETTINGS.items():
        dlt.config[key] = value
    dlt_logger = logging.getLogger("dlt")
    if not any(isinstance(f, _NoEmptyColumnHints) for f in dlt_logger.filters):
        dlt_logger.addFilter(_NoEmptyColumnHints())


class _NoEmptyColumnHints(logging.Filter):
    """Drops dlt's hint that columns without data in a load were not created.

    Most loads leave some optional Intercom field empty, so the hint says nothing the user can
    act on; a column appears with its first value, and the staging models read it only then.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return "did not receive any data" not in record.getMessage()


@contextmanager
def loading_pipeline(
    warehouse: Warehouse, pipeline_name: str = PIPELINE_NAME, dataset_name: str = RAW_DATASET
) -> Iterator[dlt.Pipeline]:
    """A dlt pipeline into the warehouse, holding it (and its load memory budget) throughout.

    dlt loads through the warehouse's own connection, opened once, so neither another process
    nor a reader can take the file between dlt's steps. Its working folder is the warehouse's
    own, and a killed run's leftovers there are dropped: the state that counts (incremental
    cursors) lives in the warehouse, and dlt restores it from there, as dagster-dlt does.
    """
    _configure_dlt()
    with warehouse.connect(
        f"loading {pipeline_name}", memory_limit=warehouse.settings.load_memory_limit
    ) as conn:
        pipeline = dlt.pipeline(
            pipeline_name=pipeline_name,
            destination=warehouse.dlt_destination(conn),
            dataset_name=dataset_name,
            pipelines_dir=str(warehouse.pipelines_dir),
            progress=dlt.progress.log(logger="dlt_logger", dump_system_stats=False),
        )
        pipeline.drop()
        yield pipeline


@dataclass
class IngestionResult:
    load_info: LoadInfo
    rows_loaded: dict[str, int]
    api: dict[str, int]
    seconds: float
    tables: list[str] = field(default_factory=list)
    # Workspace name -> tables skipped because its plan lacks their module.
    modules_unavailable: dict[str, list[str]] = field(default_factory=dict)
    # Workspace name -> table -> {"missing", "stored"}: deletions refused as implausible.
    deletions_refused: dict[str, dict[str, dict[str, int]]] = field(default_factory=dict)


class CoreTypeChanged(RuntimeError):
    """A core column's type changed with INTERCOM_ON_TYPE_CHANGE=stop.

    dlt refuses the run in normalize, before anything is stored.
    """


def modules_unavailable(workspaces: list[Workspace]) -> dict[str, list[str]]:
    """Workspace name -> the tables its plan lacks, as the last run found."""
    return {ws.name: sorted(ws.modules_unavailable) for ws in workspaces if ws.modules_unavailable}


def deletions_refused(workspaces: list[Workspace]) -> dict[str, dict[str, dict[str, int]]]:
    """Workspace name -> the tables whose deletions the last run refused, with the counts."""
    return {ws.name: dict(ws.deletions_refused) for ws in workspaces if ws.deletions_refused}


def client_stats(workspaces: list[Workspace]) -> dict[str, int]:
    """API calls, 429s and retries summed over the workspaces' clients."""
    totals: dict[str, int] = {}
    for ws in workspaces:
        for key, value in ws.client.stats.items():
            totals[key] = totals.get(key, 0) + value
    return totals


def run_ingestion(
    warehouse: Warehouse,
    workspaces: list[Workspace],
    tables: list[str] | None = None,
    *,
    stop_on_type_change: bool = False,
    accept_mass_deletions: bool = False,
    excluded_fields: dict[str, list[str]] | None = None,
    progress_log: Any = None,
    progress_interval: float = DEFAULT_INTERVAL_SECONDS,
    **source_options: Any,
) -> IngestionResult:
    """Extract and load the given raw tables (default: all) for every configured workspace.

    A table loads with its whole family (as `sources.intercom.tables` declares them);
    `IngestionResult.tables` lists what was loaded. With `stop_on_type_change`, a type change
    this run brought raises: a core column's `CoreTypeChanged` before anything is stored, a
    custom attribute's `TypeChanged` after the load (changes found before the run do not).
    `accept_mass_deletions` lets this run mark any share of contacts and companies deleted;
    `excluded_fields` (table -> fields) stay out of the warehouse.
    Every `progress_interval` seconds, one line per table family (rows, calls, calls/s against
    the rate limit, 429s, retries) goes to `progress_log` (a logger, Dagster's `context.log`, or
    a function taking a string; default this module's logger), and once more at the end.
    """
    started = time.monotonic()
    selected = whole_families(tables or RAW_TABLES)
    if tables and (added := sorted(set(selected) - set(tables))):
        log.info("Also loading %s: a table loads with its whole family", ", ".join(added))
    for ws in workspaces:
        ws.start_run()
    if accept_mass_deletions:
        source_options["max_deletion_share"] = 1.0
    source = _source(workspaces, selected, excluded_fields or {}, source_options)
    # Explicit both ways: dlt keeps a run's contract in the stored schema, and a frozen one left
    # there would refuse the report-mode run meant to accept a change.
    contract = {"data_type": "freeze" if stop_on_type_change else "evolve"}
    progress = Progress(
        progress_log or log,
        [ws.client for ws in workspaces],
        selected,
        interval=progress_interval,
        markers=lambda: sum((ws.parent_markers for ws in workspaces), Counter()),
    )
    for name, resource in source.selected_resources.items():
        resource.add_map(progress.counter(name))
    with loading_pipeline(warehouse) as pipeline:
        before = quality.type_findings(warehouse) if stop_on_type_change else []
        try:
            with progress:
                info = pipeline.run(
                    source, schema_contract=contract, loader_file_format=LOAD_FORMAT
                )
        except PipelineStepFailed as exc:
            refused = _refused_type_change(exc, pipeline)
            if refused is None:
                raise
            raise refused from exc
        finally:
            for ws in workspaces:
                ws.end_run()
        info.raise_on_failed_jobs()
        ensure_raw_tables(pipeline)
        after = quality.type_findings(warehouse) if stop_on_type_change else []
    if changed := quality.new_type_findings(before, after):
        raise quality.TypeChanged(changed)
    rows = (
        dict(pipeline.last_trace.last_normalize_info.row_counts)
        if pipeline.last_trace.last_normalize_info
        else {}
    )
    markers = sum((ws.parent_markers for ws in workspaces), Counter())
    return IngestionResult(
        info,
        {t: rows.get(t, 0) - markers[t] for t in selected},
        client_stats(workspaces),
        time.monotonic() - started,
        selected,
        modules_unavailable(workspaces),
        deletions_refused(workspaces),
    )


def _source(
    workspaces: list[Workspace],
    tables: list[str],
    excluded_fields: dict[str, list[str]],
    options: dict[str, Any],
) -> DltSource:
    """The source reading `tables`, without the fields left out."""
    options.setdefault("lookback_seconds", lookback_seconds())
    source = intercom_source(workspaces, **options).with_resources(*tables)
    leave_out_fields(source, excluded_fields)
    return source


def _refused_type_change(exc: PipelineStepFailed, pipeline: dlt.Pipeline) -> CoreTypeChanged | None:
    """The frozen-type refusal behind a failed run, naming the table, column and way on."""
    cause: BaseException | None = exc
    while cause is not None and not isinstance(cause, DataValidationError):
        cause = cause.__cause__ or cause.__context__
    if cause is None or cause.schema_entity != "data_type":
        return None
    table, variant = cause.table_name, cause.column_name
    column, _, received = variant.rpartition("__v_")
    column, received = (column, received) if column else (variant, "another type")
    declared = pipeline.default_schema.get_table_columns(table).get(column, {}).get("data_type")
    return CoreTypeChanged(
        f"{table}.{column}: stored as {declared or 'another type'}, Intercom now sends "
        f"{received} (INTERCOM_ON_TYPE_CHANGE=stop). Nothing from this sync was stored and no "
        "cursor moved, so every sync stops here until the change is accepted: run one sync "
        f"with INTERCOM_ON_TYPE_CHANGE=report, which keeps the new values in {table}.{variant} "
        "(the check types_unchanged reports it); later syncs may use stop again."
    )


def ensure_raw_tables(pipeline: dlt.Pipeline) -> None:
    """Create, empty, every raw table that has never received a row.

    dlt creates a table with its first row; dbt sources and checks expect every table to exist
    (e.g. `deletions` before anything was ever deleted), and source freshness reads each one's
    `_dlt_load_id`.
    """
    schema = pipeline.default_schema
    create_missing_tables(
        pipeline,
        {
            table: {
                "workspace_id": "text",
                **{c: "timestamp" for c in TIMESTAMPS.get(table, ())},
                **{c: h["data_type"] for c, h in COLUMNS.get(table, {}).items()},
                **{
                    c: h["data_type"]
                    for c, h in schema.tables.get(table, {}).get("columns", {}).items()
                    if h.get("data_type")
                },
            }
            for table in RAW_TABLES
        },
    )


DLT_COLUMNS = ("_dlt_load_id", "_dlt_id")


def create_missing_tables(pipeline: dlt.Pipeline, tables: dict[str, dict[str, str]]) -> None:
    """Create, empty, each table (name -> column -> dlt data type) missing from the dataset.

    A table that exists is left alone. A new table carries dlt's own columns (`_dlt_load_id`,
    `_dlt_id`, NOT NULL as dlt declares them) from the start: DuckDB 1.5 cannot add a column with
    a constraint to an existing table, which dlt would otherwise try with the first load that has rows.
    """
    with pipeline.sql_client() as client:
        existing = {
            row[0]
            for row in client.execute_sql(
                "select table_name from information_schema.tables where table_schema = %s",
                pipeline.dataset_name,
            )
        }
        for table, columns in tables.items():
            if table in existing:
                continue
            definitions = [f'"{name}" {_duckdb_type(kind)}' for name, kind in columns.items()]
            definitions += [
                f'"{name}" VARCHAR NOT NULL' for name in DLT_COLUMNS if name not in columns
            ]
            client.execute_sql(
                f"create table if not exists {client.make_qualified_table_name(table)} "
                f"({', '.join(definitions)})"
            )


def _duckdb_type(data_type: str | None) -> str:
    return {
        "text": "VARCHAR",
        "bigint": "BIGINT",
        "bool": "BOOLEAN",
        "json": "JSON",
        "timestamp": "TIMESTAMP WITH TIME ZONE",
        "double": "DOUBLE",
        "date": "DATE",
    }.get(data_type or "", "VARCHAR")


def table_counts(
    warehouse: Warehouse, tables: list[str] | tuple[str, ...] = RAW_TABLES
) -> dict[str, int]:
    """Rows per raw table."""
    with warehouse.connect("counting raw rows") as conn:
        return {
            t: conn.execute(f"select count(*) from {RAW_DATASET}.{t}").fetchone()[0]  # type: ignore[index]
            for t in tables
        }
