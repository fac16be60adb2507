"""Conventions of the dbt project that a build cannot check on its own.

- Every column a staging model requires (a `typed_columns` spec not marked 'optional') is one
  its loader guarantees, so a required column can only be missing when it is misspelled.
- Every model and seed states its grain: its description starts with "One row per".
- An incremental model reads only the loads since its last build, and a key it rebuilds replaces
  all of that key's rows: its unique_key starts its primary key.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import duckdb
import pytest
import yaml

from intercom_pipeline.activation.surveys.log import REQUESTS, ensure_tables
from intercom_pipeline.sources.intercom import RAW_TABLES
from intercom_pipeline.sources.intercom.settings import COLUMNS
from intercom_pipeline.sources.survey_feed import COLUMN_TYPES

DBT_PROJECT = Path(__file__).resolve().parents[2] / "dbt_project"
_INCREMENTAL = re.compile(r"config\(materialized='incremental', unique_key=(\[.*?\])\)")
_CALL = re.compile(r"typed_columns\(source\('(\w+)', '(\w+)'\), \[\n(.*?)\n\s*\]\)", re.S)


def _survey_request_columns() -> set[str]:
    """The columns the surveys-on-close log creates, read from its own DDL."""
    with duckdb.connect(":memory:") as conn:
        ensure_tables(conn)
        schema, table = REQUESTS.split(".")
        return {
            name
            for (name,) in conn.execute(
                "select column_name from information_schema.columns "
                "where table_schema = ? and table_name = ?",
                [schema, table],
            ).fetchall()
        }


def guaranteed_columns() -> dict[tuple[str, str], set[str]]:
    """(source, table) -> the columns its loader always creates.

    Intercom: workspace_id and the columns declared with a type in `COLUMNS`, which dlt creates
    with the table (data or not) and `ensure_raw_tables` creates in a table that never got a row.
    Not the `TIMESTAMPS` (created only in such an empty table) nor dlt's own `_dlt_load_id`
    (absent from it).
    """
    guaranteed = {
        ("intercom", table): {"workspace_id", *COLUMNS.get(table, {})} for table in RAW_TABLES
    }
    guaranteed["survey_feed", "responses"] = set(COLUMN_TYPES)
    guaranteed["surveys", "survey_requests"] = _survey_request_columns()
    return guaranteed


def typed_columns_specs() -> dict[str, tuple[tuple[str, str], list[list[str]]]]:
    """Staging model -> ((source, table), its typed_columns specs), read from the SQL."""
    found = {}
    for path in sorted((DBT_PROJECT / "models" / "staging").rglob("*.sql")):
        calls = _CALL.findall(path.read_text())
        assert len(calls) <= 1, f"{path.name}: one typed_columns call per model"
        for source, table, body in calls:
            specs = [
                ast.literal_eval(line.strip().rstrip(","))
                for line in body.splitlines()
                if line.strip()
            ]
            found[path.stem] = ((source, table), specs)
    return found


def test_every_declared_column_has_a_type() -> None:
    # dlt creates a declared column without data only when it has a type.
    for table, columns in COLUMNS.items():
        assert all(hint.get("data_type") for hint in columns.values()), table


def test_every_staging_model_types_its_raw_columns() -> None:
    specs = typed_columns_specs()
    staged = {f"{source}:{table}" for (source, table), _ in specs.values()}
    assert {f"intercom:{t}" for t in RAW_TABLES} <= staged
    assert {"survey_feed:responses", "surveys:survey_requests"} <= staged


@pytest.mark.parametrize("model", sorted(typed_columns_specs()))
def test_required_columns_are_exactly_the_guaranteed_ones(model: str) -> None:
    """Required means guaranteed, and a guaranteed column is never marked optional.

    A column required but not guaranteed would fail the build of a workspace that never sent
    it; a guaranteed one marked optional would read as null when misspelled.
    """
    (source, table), specs = typed_columns_specs()[model]
    guaranteed = guaranteed_columns()[source, table]
    for spec in specs:
        assert 2 <= len(spec) <= 4 and all(isinstance(part, str) for part in spec), spec
        optional = len(spec) > 2 and spec[-1] == "optional"
        name = spec[0]
        if optional:
            assert name not in guaranteed, (
                f"{model}: {name} is guaranteed in {source}.{table}: drop its 'optional' flag"
            )
        else:
            assert len(spec) <= 3, f"{model}: {spec}: only 'optional' may follow the alias"
            assert name in guaranteed, (
                f"{model}: {name} is not guaranteed in {source}.{table} (the loader creates it "
                "only when data has it): mark it 'optional'"
            )


def _documented(kind: str) -> dict[str, str]:
    """Model or seed name -> its description, from every YAML file of the project."""
    described = {}
    for path in [*DBT_PROJECT.glob("models/**/*.yml"), *DBT_PROJECT.glob("seeds/*.yml")]:
        for node in yaml.safe_load(path.read_text()).get(kind, []):
            described[node["name"]] = " ".join((node.get("description") or "").split())
    return described


def test_every_model_and_seed_states_its_grain_first() -> None:
    models = {p.stem for p in DBT_PROJECT.glob("models/**/*.sql")}
    seeds = {p.stem for p in DBT_PROJECT.glob("seeds/*.csv")}
    described = _documented("models") | _documented("seeds")
    assert models and seeds
    for name in sorted(models | seeds):
        assert described.get(name, "").startswith("One row per "), (
            f"{name}: its description must start with its grain ('One row per ...')"
        )


def _primary_keys() -> dict[str, list[str]]:
    """Model name -> the columns of its primary_key test, from every YAML file of the project."""
    keys = {}
    for path in DBT_PROJECT.glob("models/**/*.yml"):
        for node in yaml.safe_load(path.read_text()).get("models", []):
            for test in node.get("data_tests", []):
                if isinstance(test, dict) and "primary_key" in test:
                    keys[node["name"]] = test["primary_key"]["arguments"]["columns"]
    return keys


def test_incremental_models_read_new_loads_and_replace_whole_keys() -> None:
    keys = _primary_keys()
    incremental = []
    for path in sorted(DBT_PROJECT.glob("models/**/*.sql")):
        sql = path.read_text()
        config = _INCREMENTAL.search(sql)
        assert bool(config) == ("materialized='incremental'" in sql), (
            f"{path.stem}: say config(materialized='incremental', unique_key=[...])"
        )
        if config:
            unique_key = ast.literal_eval(config[1])
            assert keys[path.stem][: len(unique_key)] == unique_key, path.stem
            assert "loaded_since_last_build()" in sql, path.stem
            incremental.append(path.stem)
    assert {"stg_intercom__conversation_parts", "feedback_documents"} <= set(incremental)
