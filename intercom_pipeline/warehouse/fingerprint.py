"""Every table of a warehouse fingerprinted: the same rows, whatever their order or storage.

Each table's fingerprint is its row count and an order-independent hash of its rows, leaving out
the columns that differ on every run by design (dlt's load and row ids, run times). The hash
reads the values by position, not by column name. `bench/fingerprint.py` compares a warehouse
before and after a change; the tests compare the lake mode's marts with the file mode's.
"""

from __future__ import annotations

import duckdb

VOLATILE = {"_dlt_load_id", "_dlt_id", "_dlt_parent_id"}
# Columns that record when this run did something, or measure against the clock of the machine.
RUN_TIMES = {
    "analytics.conversations": {"conversation_age_days"},
    "audiences.audience_definitions": {"updated_at"},
    "audiences.audience_members": {"first_added_at", "updated_at"},
    "audiences.audience_overview": {"last_sync_at"},
    "audiences.audience_syncs": {"sync_id", "started_at", "finished_at"},
    "reverse_etl.intercom_push_ledger": {"sent_at"},
    "reverse_etl.intercom_push_runs": {"run_id", "started_at", "finished_at"},
    "survey_feed_raw.responses": {"file_modified_at"},
}


def fingerprints(conn: duckdb.DuckDBPyConnection) -> dict[str, dict[str, object]]:
    """`schema.table` -> its row count, order-independent hash and hashed columns."""
    tables = conn.execute(
        "select table_schema, table_name from information_schema.tables "
        "where table_catalog = current_database() and table_schema not like '%staging' "
        "and table_name not like '\\_dlt%' escape '\\' order by 1, 2"
    ).fetchall()
    result: dict[str, dict[str, object]] = {}
    for schema, table in tables:
        columns = [
            name
            for (name,) in conn.execute(
                "select column_name from information_schema.columns where table_catalog = "
                "current_database() and table_schema = ? and table_name = ? "
                "order by ordinal_position",
                [schema, table],
            ).fetchall()
            if name not in VOLATILE | RUN_TIMES.get(f"{schema}.{table}", set())
        ]
        quoted = ", ".join(f'"{c}"' for c in columns)
        rows, digest = conn.execute(
            f"select count(*), coalesce(sum(hash(struct_pack({quoted}))::hugeint), 0)::varchar "
            f'from "{schema}"."{table}"'
        ).fetchone()
        result[f"{schema}.{table}"] = {"rows": rows, "hash": digest, "columns": columns}
    return result
