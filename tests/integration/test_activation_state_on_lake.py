"""The activation state tables, and each upsert into them, on a DuckDB file and on a DuckLake.

DuckLake refuses PRIMARY KEY/UNIQUE (so ON CONFLICT and INSERT OR REPLACE): the upserts are
MERGEs on the key columns. Each path runs twice (insert, then update) on a plain DuckDB file,
on one whose tables still carry the old primary keys (an existing user's warehouse), and on a
DuckLake with a local DuckDB-file catalog.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import pytest

from intercom_pipeline.activation.audiences import store, sync
from intercom_pipeline.activation.audiences.config import Audience
from intercom_pipeline.activation.push_back import ledger
from intercom_pipeline.activation.surveys import log
from intercom_pipeline.activation.surveys.conversations import Closure
from intercom_pipeline.warehouse.extensions import install_extensions

T0, T1, T2 = datetime(2024, 5, 1, 9), datetime(2024, 5, 2, 9), datetime(2024, 5, 3, 9)
# The keys the tables were created with before DuckLake: what an existing warehouse has.
OLD_KEYS = {
    ledger.LEDGER: "item_key",
    ledger.RUNS: "run_id",
    log.REQUESTS: "request_id",
    log.CURSORS: "workspace_id",
    store.DEFINITIONS: "audience_id",
    store.MEMBERS: "audience_id, workspace_id, contact_id",
    store.SYNCS: "sync_id",
}
STATE_SCHEMAS = (ledger.SCHEMA, log.SCHEMA, store.SCHEMA)


def _ensure_all(conn: duckdb.DuckDBPyConnection) -> None:
    for module in (ledger, log, store):
        module.ensure_tables(conn)
        module.ensure_tables(conn)  # a second pass changes nothing


@pytest.fixture(params=["duckdb", "duckdb_with_old_keys", "ducklake"])
def conn(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    connection = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    if request.param == "ducklake":
        install_extensions(connection, ("ducklake",))
        connection.execute(
            f"ATTACH 'ducklake:{tmp_path}/cat.ducklake' AS lake (DATA_PATH '{tmp_path}/files/')"
        )
        connection.execute("USE lake")
    _ensure_all(connection)
    if request.param == "duckdb_with_old_keys":
        for table, key in OLD_KEYS.items():
            connection.execute(f"alter table {table} add primary key ({key})")
        _ensure_all(connection)
    yield connection
    connection.close()


def _rows(conn: duckdb.DuckDBPyConnection, sql: str) -> list[tuple[Any, ...]]:
    return conn.execute(sql).fetchall()


def _primary_keys(conn: duckdb.DuckDBPyConnection) -> int:
    return _rows(
        conn,
        "select count(*) from duckdb_constraints() where constraint_type = 'PRIMARY KEY'"
        f" and schema_name in {STATE_SCHEMAS}",
    )[0][0]


def test_tables_declare_no_key_but_refuse_a_null_key(conn: duckdb.DuckDBPyConnection) -> None:
    assert _primary_keys(conn) in (0, len(OLD_KEYS))  # none, unless made before the lake
    for table, key in OLD_KEYS.items():
        nullable = {name: null for name, _, null, *_ in _rows(conn, f"describe {table}")}
        assert {nullable[column.strip()] for column in key.split(",")} == {"NO"}


def test_the_ledger_records_then_updates(conn: duckdb.DuckDBPyConnection) -> None:
    ledger.record(
        conn,
        [
            ("k1", "attributes", "w1", "c1", "h1", None),
            ("k2", "event", "w1", "c2", None, "timeout"),
            ("k2", "event", "w1", "c2", "ignored", None),  # a repeated key keeps its first row
        ],
        T0,
    )
    assert _rows(conn, f"from {ledger.LEDGER} order by item_key") == [
        ("k1", "attributes", "w1", "c1", "h1", T0, None, None),
        ("k2", "event", "w1", "c2", None, None, "timeout", T0),
    ]
    assert ledger.recorded_hashes(conn) == {"k1": "h1"}
    ledger.record(
        conn,
        [
            ("k1", "changed", "w9", "c9", None, "429"),  # a retryable failure keeps the hash
            ("k2", "event", "w1", "c2", "h2", None),  # sent at last: the error clears
        ],
        T1,
    )
    assert _rows(conn, f"from {ledger.LEDGER} order by item_key") == [
        ("k1", "attributes", "w1", "c1", "h1", T0, "429", T1),
        ("k2", "event", "w1", "c2", "h2", T1, None, T0),
    ]


def test_the_survey_log_adds_closures_once(conn: duckdb.DuckDBPyConnection) -> None:
    webhook, searched = (
        Closure("w1", "7", 1714550400, "webhook"),
        Closure("w1", "7", 1714550400, "search"),
    )
    other = Closure("w1", "8", 1714550401, "search")
    assert (
        log.add_pending(conn, [webhook, searched, other], mode="test", metric="CSAT", now=T0) == 2
    )
    later = Closure("w1", "9", 1714550402, "webhook")
    assert log.add_pending(conn, [searched, later], mode="live", metric="NPS", now=T1) == 1
    assert _rows(
        conn,
        f"select request_id, source, mode, metric, status, first_seen_at from {log.REQUESTS}"
        " order by request_id",
    ) == [
        ("w1:7:1714550400", "webhook", "test", "CSAT", "pending", T0),  # the first seen wins
        ("w1:8:1714550401", "search", "test", "CSAT", "pending", T0),
        ("w1:9:1714550402", "webhook", "live", "NPS", "pending", T1),
    ]
    log.add_settled(
        conn, webhook, mode="test", metric="CSAT", now=T2, status="invalid", reason_code="x"
    )
    assert log.pending(conn, "test") == [webhook, other]  # logged already: left as it was


def test_the_survey_cursor_is_set_then_moved(conn: duckdb.DuckDBPyConnection) -> None:
    log.set_searched_until(conn, "w1", 100)
    log.set_searched_until(conn, "w2", 5)
    assert (log.searched_until(conn, "w1"), log.searched_until(conn, "w2")) == (100, 5)
    log.set_searched_until(conn, "w1", 250)
    assert _rows(conn, f"from {log.CURSORS} order by workspace_id") == [("w1", 250), ("w2", 5)]


def test_an_audience_definition_is_saved_then_replaced(conn: duckdb.DuckDBPyConnection) -> None:
    store.save_definition(conn, Audience("vip", "VIPs", "custom", tag="vip"), T0)
    assert store.previous_definition(conn, "vip")["tag"] == "vip"
    store.save_definition(conn, Audience("vip", "Top", "users", auto_sync=True), T1)
    assert _rows(
        conn, f"select audience_id, name, kind, auto_sync, updated_at from {store.DEFINITIONS}"
    ) == [("vip", "Top", "users", True, T1)]
    assert store.previous_definition(conn, "vip")["tag"] is None
    assert _rows(conn, f"select audience_id, contacts from {store.SCHEMA}.audience_overview") == [
        ("vip", 0)
    ]


def _member(contact: str, status: str, props: str | None, at: datetime) -> tuple[Any, ...]:
    removed = at if status == "removed" else None
    digest = None if props is None else f"hash:{props}"
    return ("vip", "w1", contact, status, props, digest, "vip", at, at, removed, False)


def test_audience_members_are_written_then_updated(conn: duckdb.DuckDBPyConnection) -> None:
    sync._write(
        conn,
        [
            _member("c1", "active", '{"plan":"pro"}', T0),
            _member("c2", "active", '{"plan":"free"}', T0),
            _member("c2", "removed", None, T0),  # a repeated key keeps its first row
        ],
    )
    sync._write(
        conn,
        [
            _member("c1", "active", None, T1),  # properties kept as stored
            _member("c2", "removed", None, T1),
            _member("c3", "active", '{"plan":"team"}', T1),
        ],
    )
    sync._write(conn, [_member("c2", "active", '{"plan":"pro"}', T2)])  # rejoins: added anew
    assert _rows(
        conn,
        "select contact_id, status, properties::varchar, properties_hash, first_added_at,"
        f" updated_at, removed_at from {store.MEMBERS} order by contact_id",
    ) == [
        ("c1", "active", '{"plan":"pro"}', 'hash:{"plan":"pro"}', T0, T1, None),
        ("c2", "active", '{"plan":"pro"}', 'hash:{"plan":"pro"}', T2, T2, None),
        ("c3", "active", '{"plan":"team"}', 'hash:{"plan":"team"}', T1, T1, None),
    ]
    assert set(store.members(conn, "vip")) == {("w1", "c1"), ("w1", "c2"), ("w1", "c3")}
    assert log.audience_facts(conn, "w1", "c2", "vip") == (False, True)
