"""Type findings on hand-built raw tables: scoped by workspace, and what counts as new."""

from __future__ import annotations

import duckdb

from intercom_pipeline.warehouse import quality
from intercom_pipeline.warehouse.load import RAW_DATASET


def test_custom_attributes_are_checked_against_their_own_workspace() -> None:
    """acme declares `plan` a string, globex an integer: each one's values match its own."""
    with duckdb.connect() as conn:
        conn.execute(f"create schema {RAW_DATASET}")
        conn.execute(
            f"create table {RAW_DATASET}.data_attributes (workspace_id varchar, model varchar, "
            "name varchar, data_type varchar, custom boolean, archived boolean)"
        )
        conn.execute(
            f"insert into {RAW_DATASET}.data_attributes values "
            "('acme', 'contact', 'plan', 'string', true, false), "
            "('globex', 'contact', 'plan', 'integer', true, false)"
        )
        conn.execute(
            f"create table {RAW_DATASET}.contacts (workspace_id varchar, custom_attributes json)"
        )
        conn.execute(
            f"insert into {RAW_DATASET}.contacts values "
            """('acme', '{"plan": "pro"}'), ('globex', '{"plan": 3}'), """
            """('globex', '{"plan": 4}')"""
        )
        assert quality.custom_attribute_drift(conn) == []
        conn.execute(f"""insert into {RAW_DATASET}.contacts values ('acme', '{{"plan": 7}}')""")
        (drift,) = quality.custom_attribute_drift(conn)
    assert drift.describe() == (
        "contacts.custom_attributes.plan: declared string, received integer in 1 row(s) "
        "(workspace acme)"
    )


def test_only_changes_absent_before_are_new() -> None:
    seats = quality.TypeDrift("contacts", "custom_attributes.seats", "integer", "string", 2, "a")
    more_rows = quality.TypeDrift(
        "contacts", "custom_attributes.seats", "integer", "string", 9, "a"
    )
    declared_again = quality.TypeDrift(
        "contacts", "custom_attributes.seats", "string", "integer", 5, "a"
    )
    other_workspace = quality.TypeDrift(
        "contacts", "custom_attributes.seats", "integer", "string", 1, "b"
    )
    after = [more_rows, declared_again, other_workspace]
    assert quality.new_type_findings([seats], after) == [declared_again, other_workspace]
    assert quality.new_type_findings(after, after) == []
