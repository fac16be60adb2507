"""A request log written before reason codes existed gains the column and keeps its rows."""

from __future__ import annotations

import duckdb

from intercom_pipeline.activation.surveys import log


def test_an_old_request_log_gains_the_reason_code_column() -> None:
    conn = duckdb.connect()
    conn.execute("create schema surveys")
    conn.execute(
        f"create table {log.REQUESTS} (request_id varchar primary key, status varchar,"
        " reason varchar)"
    )
    conn.execute(f"insert into {log.REQUESTS} values ('w:c:1', 'do_not_send', 'tagged fraud')")
    log.ensure_tables(conn)
    log.ensure_tables(conn)  # a second pass changes nothing
    assert conn.execute(f"select * from {log.REQUESTS}").fetchall() == [
        ("w:c:1", "do_not_send", "tagged fraud", None)
    ]
