"""Writing many rows to DuckDB at once.

DuckDB's executemany runs its statement once per row (milliseconds each, so minutes for a large
audience or push); one statement over a registered DataFrame writes thousands of rows in
milliseconds.
"""

from __future__ import annotations

from collections.abc import Sequence
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


def first_row(
    conn: duckdb.DuckDBPyConnection, sql: str, params: Sequence[Any] = ()
) -> tuple[Any, ...] | None:
    """The first row of a query, with its result consumed.

    A result left half-read blocks the next statement on the same connection.
    """
    rows = conn.execute(sql, list(params)).fetchall()
    return rows[0] if rows else None
