"""Data-quality findings on the raw tables, as plain SQL over one DuckDB connection.

Dagster asset checks (`defs/checks.py`) report these; each finding names its table and column.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import duckdb

from intercom_pipeline.warehouse import Warehouse
from intercom_pipeline.warehouse.settings import RAW_DATASET

# The JSON types a custom attribute of each declared data type may hold.
ACCEPTED_JSON_TYPES = {
    "string": ("VARCHAR",),
    "integer": ("BIGINT", "UBIGINT"),
    "float": ("DOUBLE", "BIGINT", "UBIGINT"),
    "boolean": ("BOOLEAN",),
    "date": ("BIGINT", "UBIGINT", "VARCHAR"),
    "datetime": ("BIGINT", "UBIGINT", "VARCHAR"),
}

JSON_TYPE_NAMES = {
    "VARCHAR": "string",
    "BIGINT": "integer",
    "UBIGINT": "integer",
    "DOUBLE": "float",
    "BOOLEAN": "boolean",
    "OBJECT": "object",
    "ARRAY": "array",
}


@dataclass(frozen=True)
class TypeDrift:
    table: str
    column: str
    declared: str
    received: str
    rows: int
    workspace_id: str | None = None  # a custom attribute's workspace (each declares its own)

    @property
    def change(self) -> tuple[str, str, str, str, str | None]:
        """What changed, whatever the number of rows it touches."""
        return (self.table, self.column, self.declared, self.received, self.workspace_id)

    def describe(self) -> str:
        where = f" (workspace {self.workspace_id})" if self.workspace_id else ""
        return (
            f"{self.table}.{self.column}: declared {self.declared}, received {self.received} "
            f"in {self.rows} row(s){where}"
        )


class TypeChanged(RuntimeError):
    """A sync brought a type change while INTERCOM_ON_TYPE_CHANGE=stop."""

    def __init__(self, findings: list[TypeDrift]) -> None:
        self.findings = findings
        super().__init__(
            "A field's type changed upstream (INTERCOM_ON_TYPE_CHANGE=stop): "
            + "; ".join(f.describe() for f in findings)
            + ". The values are stored whole and the sync moved on; the next sync runs as usual. "
            "Update whatever reads the field (dbt models, BI) to its new type."
        )


def new_type_findings(before: list[TypeDrift], after: list[TypeDrift]) -> list[TypeDrift]:
    """The changes in `after` that `before` did not have.

    The stop option fires on these only: a change reported once would otherwise fail every
    later sync. More rows of a known change are not a new one.
    """
    known = {f.change for f in before}
    return [f for f in after if f.change not in known]


def type_findings(warehouse: Warehouse) -> list[TypeDrift]:
    """Every type change in the raw tables: variant columns and custom attribute drift."""
    if not warehouse.exists():
        return []
    with warehouse.connect("checking column types") as conn:
        return variant_columns(conn) + custom_attribute_drift(conn)


def variant_columns(conn: duckdb.DuckDBPyConnection) -> list[TypeDrift]:
    """Columns dlt split into `<column>__v_<type>` because an upstream type changed."""
    rows = conn.execute(
        "select table_name, column_name, data_type from information_schema.columns "
        "where table_schema = ? and column_name like '%\\_\\_v\\_%' escape '\\'",
        [RAW_DATASET],
    ).fetchall()
    drifts = []
    for table, column, data_type in rows:
        original = column.split("__v_")[0]
        count = conn.execute(
            f'select count(*) from {RAW_DATASET}."{table}" where "{column}" is not null'
        ).fetchone()[0]  # type: ignore[index]
        drifts.append(
            TypeDrift(table, original, "its first type", f"{data_type} ({column})", count)
        )
    return drifts


def custom_attribute_drift(conn: duckdb.DuckDBPyConnection) -> list[TypeDrift]:
    """Contact and company custom attribute values whose JSON type differs from the declared one.

    Custom attributes are kept whole as JSON, so a changed type loses nothing; this is where it
    shows up, per attribute. Each workspace declares its own attributes: its rows are compared
    with its own declarations only.
    """
    drifts: list[TypeDrift] = []
    for table, model in (("contacts", "contact"), ("companies", "company")):
        if not _has_columns(conn, table, "custom_attributes") or not _has_columns(
            conn, "data_attributes", "model", "name", "data_type", "custom", "archived"
        ):
            continue  # not loaded yet
        declared = conn.execute(
            f"select workspace_id, name, data_type from {RAW_DATASET}.data_attributes "
            "where model = ? and custom and not coalesce(archived, false) order by all",
            [model],
        ).fetchall()
        for workspace_id, name, data_type in declared:
            accepted = ACCEPTED_JSON_TYPES.get(data_type)
            if not accepted:
                continue
            path = "$." + _json_key(name)
            found = conn.execute(
                f"select json_type(custom_attributes, ?) as t, count(*) from {RAW_DATASET}.{table} "
                "where workspace_id = ? and json_type(custom_attributes, ?) not in ('NULL') "
                "and json_type(custom_attributes, ?) is not null group by t order by t",
                [path, workspace_id, path, path],
            ).fetchall()
            for json_type, count in found:
                if json_type not in accepted:
                    drifts.append(
                        TypeDrift(
                            table,
                            f"custom_attributes.{name}",
                            data_type,
                            JSON_TYPE_NAMES.get(json_type, json_type.lower()),
                            count,
                            workspace_id,
                        )
                    )
    return drifts


@dataclass(frozen=True)
class PartsGap:
    conversation_id: str
    loaded: int
    total: int
    truncated_by_api: bool


def conversation_parts_gaps(conn: duckdb.DuckDBPyConnection) -> list[PartsGap]:
    """Conversations whose loaded parts differ from `statistics.count_conversation_parts`.

    Conversations with more parts than the API returns (500) are among them, flagged as
    truncated by the API; any other gap means parts went missing.
    """
    if not (_has_table(conn, "conversations") and _has_table(conn, "conversation_parts")):
        return []
    sql = f"""
        with loaded as (
            select workspace_id, conversation_id, count(*) as n
            from {RAW_DATASET}.conversation_parts group by all
        )
        select c.id, coalesce(l.n, 0), c.count_parts_total, coalesce(c.parts_truncated_by_api, false)
        from {RAW_DATASET}.conversations c
        left join loaded l on l.workspace_id = c.workspace_id and l.conversation_id = c.id
        where coalesce(l.n, 0) <> coalesce(c.count_parts_total, 0)
        order by c.count_parts_total desc, c.id
    """
    rows: list[Any] = conn.execute(sql).fetchall()
    return [PartsGap(str(r[0]), int(r[1]), int(r[2] or 0), bool(r[3])) for r in rows]


def _has_table(conn: duckdb.DuckDBPyConnection, table: str) -> bool:
    return bool(
        conn.execute(
            "select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
            [RAW_DATASET, table],
        ).fetchone()[0]  # type: ignore[index]
    )


def _has_columns(conn: duckdb.DuckDBPyConnection, table: str, *columns: str) -> bool:
    found = {
        row[0]
        for row in conn.execute(
            "select column_name from information_schema.columns "
            "where table_schema = ? and table_name = ?",
            [RAW_DATASET, table],
        ).fetchall()
    }
    return set(columns) <= found


def _json_key(name: str) -> str:
    """A JSON path key; attribute names may hold spaces and other characters."""
    return '"' + name.replace('"', '\\"') + '"'
