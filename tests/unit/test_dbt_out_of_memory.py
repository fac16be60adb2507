"""A dbt build that stops for a cause the user can act on names the fix."""

import json
from pathlib import Path

from intercom_pipeline.defs.transform import _known_failure
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
    failure = _known_failure(tmp_path, warehouse)
    assert failure is not None
    assert failure.description == (
        "DuckDB ran out of its memory budget (512MB) building model.intercom_analytics.m1: "
        "raise DUCKDB_MEMORY_LIMIT (e.g. to 4GB) and build again."
    )


def test_other_failures_keep_dbt_s_own_error(tmp_path: Path) -> None:
    warehouse = Warehouse.at(tmp_path / "w.duckdb")
    assert _known_failure(tmp_path, warehouse) is None  # dbt stopped before run results
    write_results(tmp_path, "Database Error: something else")
    assert _known_failure(tmp_path, warehouse) is None


OUT_OF_SYNC = (
    "Compilation Error in model stg_intercom__conversations\n  The source and target schemas "
    "on this incremental model are out of sync!"
)


def test_an_incremental_model_whose_columns_changed_names_the_full_refresh(
    tmp_path: Path,
) -> None:
    write_results(tmp_path, OUT_OF_SYNC)
    failure = _known_failure(tmp_path, Warehouse.at(tmp_path / "w.duckdb"))
    assert failure is not None
    assert failure.description.startswith(
        "The columns of model.intercom_analytics.m0 changed (a new release or an edited model)"
    )
    assert "full_refresh: true" in failure.description
