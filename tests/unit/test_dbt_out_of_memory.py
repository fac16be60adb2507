"""A dbt build that runs out of DuckDB's budget names the setting to raise."""

import json
from pathlib import Path

from intercom_pipeline.defs.transform import _out_of_memory
from intercom_pipeline.warehouse import Warehouse

STARVED = "Out of Memory Error: failed to allocate data of size 4.0 MiB (487.4 MiB/488.2 MiB used)"


def write_results(folder: Path, *messages: str | None) -> None:
    results = [
        {"unique_id": f"model.intercom_analytics.m{i}", "message": m}
        for i, m in enumerate(messages)
    ]
    (folder / "run_results.json").write_text(json.dumps({"results": results}))


def test_the_starved_models_and_the_setting_are_named(tmp_path: Path) -> None:
    write_results(tmp_path, None, STARVED, "Database Error: something else")
    warehouse = Warehouse.at(tmp_path / "w.duckdb", memory_limit="512MB")
    failure = _out_of_memory(tmp_path, warehouse)
    assert failure is not None
    assert failure.description == (
        "DuckDB ran out of its memory budget (512MB) building model.intercom_analytics.m1: "
        "raise DUCKDB_MEMORY_LIMIT (e.g. to 4GB) and build again."
    )


def test_other_failures_keep_dbt_s_own_error(tmp_path: Path) -> None:
    warehouse = Warehouse.at(tmp_path / "w.duckdb")
    assert _out_of_memory(tmp_path, warehouse) is None  # dbt stopped before run results
    write_results(tmp_path, "Database Error: something else")
    assert _out_of_memory(tmp_path, warehouse) is None
