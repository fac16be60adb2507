"""Writing many rows to DuckDB at once.

DuckDB's executemany runs its statement once per row (milliseconds each, so minutes for a large
audience or push); one statement over a registered DataFrame writes thousands of rows in
milliseconds.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import duckdb
import pandas as pd


def write_rows(
    conn: duckdb.DuckDBPyConnection,
    statement: str,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
) -> None:
    """Run `statement`, which reads the rows as the relation `incoming` (with `columns`)."""
    if not rows:
        return
    conn.register("incoming", pd.DataFrame.from_records(list(rows), columns=list(columns)))
    try:
        conn.execute(statement)
    finally:
        conn.unregister("incoming")


def merge_rows(
    conn: duckdb.DuckDBPyConnection,
    table: str,
    key_columns: Sequence[str],
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    update: bool | Mapping[str, str] = True,
) -> None:
    """Insert each row whose key `table` lacks; with `update`, rewrite the row already there.

    DuckLake has no PRIMARY KEY or UNIQUE constraint, so no ON CONFLICT or INSERT OR REPLACE:
    the state tables declare none, and this MERGE on `key_columns` is what keeps one row per key,
    in a DuckDB file and a DuckLake alike (tables made with the old constraints take it too).

    `update`: True sets every other column from the row; a mapping sets only its columns, each
    to SQL over `t` (the stored row) and `s` (the row given); False inserts absent keys only.
    A MERGE source may not hold a key twice: a repeated key keeps its first row, as DuckDB's
    ON CONFLICT (DO NOTHING or DO UPDATE) and INSERT OR REPLACE did.
    """
    if not rows:
        return
    positions = [list(columns).index(k) for k in key_columns]
    first: dict[tuple[Any, ...], Sequence[Any]] = {}
    for row in rows:
        first.setdefault(tuple(row[i] for i in positions), row)
    statement = _merge_sql(conn, table, key_columns, columns, update)
    write_rows(conn, statement, columns, [*first.values()])


def _merge_sql(
    conn: duckdb.DuckDBPyConnection,
    table: str,
    key_columns: Sequence[str],
    columns: Sequence[str],
    update: bool | Mapping[str, str],
) -> str:
    """The MERGE over `incoming`, cast to the table's types (a column of Nones has no type)."""
    types = dict(
        conn.execute(f"select column_name, column_type from (describe {table})").fetchall()
    )
    source = ", ".join(f"cast({c} as {types[c]}) as {c}" for c in columns)
    on = " and ".join(f"t.{k} = s.{k}" for k in key_columns)
    sql = f"merge into {table} as t using (select {source} from incoming) as s on {on}"
    sets = {c: f"s.{c}" for c in columns if c not in key_columns} if update is True else update
    if sets:
        assigned = ", ".join(f"{c} = {e}" for c, e in sets.items())
        sql += f" when matched then update set {assigned}"
    values = ", ".join(f"s.{c}" for c in columns)
    return f"{sql} when not matched then insert ({', '.join(columns)}) values ({values})"


def first_row(
    conn: duckdb.DuckDBPyConnection, sql: str, params: Sequence[Any] = ()
) -> tuple[Any, ...] | None:
    """The first row of a query, with its result consumed.

    A result left half-read blocks the next statement on the same connection.
    """
    rows = conn.execute(sql, list(params)).fetchall()
    return rows[0] if rows else None
