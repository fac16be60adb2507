"""Push survey results onto Intercom contacts.

Attributes for the latest answer, events for every survey sent and answered. Only what changed
is sent; a killed run resumes where it stopped.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb

from intercom_pipeline.reverse_etl import ledger
from intercom_pipeline.reverse_etl.payloads import (
    PushItem,
    attribute_item,
    response_event_item,
    sent_event_item,
)
from intercom_pipeline.reverse_etl.settings import PushSettings
from intercom_pipeline.sources.intercom import Workspace
from intercom_pipeline.sources.intercom.client import IntercomClient, IntercomError
from intercom_pipeline.warehouse import write_rows

FULL_EXPORT_INTERVAL = timedelta(days=7)
LEDGER_BATCH = 500  # outcomes written to the ledger together; a kill loses at most this many
_CANONICAL = re.compile(r"</contacts/([^>]+)>")


class PushRefused(RuntimeError):
    """The manual export of all feedback ran less than a week ago (the message says when next)."""


@dataclass
class PushReport:
    run_id: str
    mode: str
    resend_all: bool
    sent: int = 0
    unchanged: int = 0
    skipped: int = 0
    failed: int = 0
    write_calls: int = 0
    failures: list[tuple[str, str, str]] = field(default_factory=list)  # key, contact, reason
    notes: list[str] = field(default_factory=list)


def survey_push_items(conn: duckdb.DuckDBPyConnection, settings: PushSettings) -> list[PushItem]:
    """Every write the marts call for, whatever was sent before."""
    profiles = _rows(
        conn, "select * from analytics.contact_survey_profile where last_score is not null"
    )
    sends = _rows(conn, "select * from analytics.survey_sends where contact_id is not null")
    responses = _rows(conn, "select * from analytics.survey_responses")
    return [
        *(attribute_item(p, settings) for p in profiles),
        *(sent_event_item(s, settings) for s in sends),
        *(response_event_item(r, settings) for r in responses),
    ]


def push_survey_results(
    warehouse: Path,
    workspaces: list[Workspace],
    settings: PushSettings,
    *,
    resend_all: bool = False,
    force: bool = False,
    now: datetime | None = None,
) -> PushReport:
    """Send what changed since the last push (or everything, with `resend_all`).

    Raises:
        PushRefused: `resend_all` within a week of the last full export, without `force`.
    """
    started = now or datetime.now(UTC).replace(tzinfo=None)
    report = PushReport(uuid.uuid4().hex, settings.mode, resend_all)
    with duckdb.connect(str(warehouse)) as conn:
        ledger.ensure_tables(conn)
        if resend_all and not force:
            _check_weekly_guard(conn, started)
        items = survey_push_items(conn, settings)
        conn.execute(
            f"insert into {ledger.RUNS} (run_id, started_at, mode, resend_all) values (?, ?, ?, ?)",
            [report.run_id, started, settings.mode, resend_all],
        )
        if settings.mode == "off":
            report.skipped = len(items)
            report.notes.append(
                f"INTERCOM_PUSH_MODE=off: nothing was sent ({len(items)} writes skipped)"
            )
        else:
            known = {} if resend_all else ledger.recorded_hashes(conn)
            pending = [i for i in items if known.get(i.key) != i.payload_hash]
            report.unchanged = len(items) - len(pending)
            _send_all(conn, pending, workspaces, settings, report)
        _finish(conn, report)
    return report


def _check_weekly_guard(conn: duckdb.DuckDBPyConnection, now: datetime) -> None:
    last = ledger.last_full_export(conn)
    if last is not None and now - last < FULL_EXPORT_INTERVAL:
        raise PushRefused(
            f"The export of all feedback last ran at {last:%Y-%m-%d %H:%M} UTC and may run once a "
            f"week: next after {last + FULL_EXPORT_INTERVAL:%Y-%m-%d %H:%M} UTC. Set force to "
            "run it anyway."
        )


def _send_all(
    conn: duckdb.DuckDBPyConnection,
    pending: list[PushItem],
    workspaces: list[Workspace],
    settings: PushSettings,
    report: PushReport,
) -> None:
    clients = {ws.workspace_id: ws.client for ws in workspaces} if pending else {}
    unready = _ensure_attributes(clients, pending, settings)
    calls_before = sum(c.stats["api_calls"] for c in clients.values())
    outcomes: list[tuple[str, str, str, str, str | None, str | None]] = []
    for item, (kept_hash, error) in _outcomes(pending, clients, unready, settings.workers):
        outcomes.append((item.key, item.kind, item.workspace_id, item.contact_id, kept_hash, error))
        if error is None:
            report.sent += 1
        else:
            report.failed += 1
            report.failures.append((item.key, item.contact_id, error))
        if len(outcomes) >= LEDGER_BATCH:
            ledger.record(conn, outcomes, datetime.now(UTC).replace(tzinfo=None))
            outcomes.clear()
    ledger.record(conn, outcomes, datetime.now(UTC).replace(tzinfo=None))
    report.write_calls = sum(c.stats["api_calls"] for c in clients.values()) - calls_before


def _outcomes(
    pending: list[PushItem],
    clients: dict[str, IntercomClient],
    unready: dict[str, str],
    workers: int,
) -> Iterator[tuple[PushItem, tuple[str | None, str | None]]]:
    """Each item with (hash to keep, error), sent `workers` at a time, as they complete.

    At most `workers * 2` requests are queued, so memory stays flat for any number of items.
    """
    queue = iter(pending)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        running: dict[Future[tuple[str | None, str | None]], PushItem] = {}
        while True:
            for item in queue:
                running[pool.submit(_send, clients, unready, item)] = item
                if len(running) >= workers * 2:
                    break
            if not running:
                return
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                yield running.pop(future), future.result()


def _send(
    clients: dict[str, IntercomClient], unready: dict[str, str], item: PushItem
) -> tuple[str | None, str | None]:
    client = clients.get(item.workspace_id)
    if client is None:
        return None, f"workspace {item.workspace_id} is not configured (INTERCOM_WORKSPACES)"
    if item.kind == "attributes" and item.workspace_id in unready:
        return None, unready[item.workspace_id]
    try:
        _write(client, item, item.contact_id)
        return item.payload_hash, None
    except IntercomError as exc:
        if exc.status == 404:
            # Deleted in Intercom: recorded, and not retried until its values change.
            return item.payload_hash, "contact not found in Intercom (404): it was deleted"
        canonical = _CANONICAL.search(exc.link or "") if exc.status == 410 else None
        if canonical:
            try:
                _write(client, item, canonical.group(1))
                return item.payload_hash, None
            except IntercomError as again:
                return None, f"merged into {canonical.group(1)}, which failed: {again}"
        return None, str(exc)


def _write(client: IntercomClient, item: PushItem, contact_id: str) -> None:
    if item.kind == "attributes":
        client.request("PUT", f"/contacts/{contact_id}", json=item.body)
    else:
        client.request("POST", "/events", json={**item.body, "id": contact_id})


def _ensure_attributes(
    clients: dict[str, IntercomClient], pending: list[PushItem], settings: PushSettings
) -> dict[str, str]:
    """Create the contact attributes the push writes where missing.

    Returns the workspaces where that failed, with why; their attribute updates fail with that
    reason (and are retried next run) while their events still go out.
    """
    needed = {i.workspace_id for i in pending if i.kind == "attributes"}
    unready = {}
    for workspace_id in needed & set(clients):
        try:
            _create_missing_attributes(clients[workspace_id], workspace_id, settings)
        except IntercomError as exc:
            unready[workspace_id] = f"the contact attributes are not ready: {exc}"
    return unready


def _create_missing_attributes(
    client: IntercomClient, workspace_id: str, settings: PushSettings
) -> None:
    existing = {
        a["name"]: a.get("data_type")
        for a in client.request("GET", "/data_attributes", params={"model": "contact"})["data"]
    }
    for name, data_type in settings.attribute_types().items():
        if name not in existing:
            client.request(
                "POST",
                "/data_attributes",
                json={"name": name, "model": "contact", "data_type": data_type},
            )
        elif existing[name] != data_type:
            raise IntercomError(
                f"the contact attribute {name!r} exists in workspace {workspace_id} as "
                f"{existing[name]}, not {data_type}: rename ours with the matching "
                "INTERCOM_PUSH_*_ATTRIBUTE variable, or change theirs in Intercom"
            )


def _finish(conn: duckdb.DuckDBPyConnection, report: PushReport) -> None:
    conn.execute(
        f"update {ledger.RUNS} set finished_at = ?, sent = ?, unchanged = ?, skipped = ?,"
        " failed = ?, write_calls = ? where run_id = ?",
        [
            datetime.now(UTC).replace(tzinfo=None),
            report.sent,
            report.unchanged,
            report.skipped,
            report.failed,
            report.write_calls,
            report.run_id,
        ],
    )
    write_rows(
        conn,
        f"insert into {ledger.FAILURES} select * from incoming",
        ("run_id", "item_key", "contact_id", "reason"),
        [(report.run_id, key, contact, reason) for key, contact, reason in report.failures],
    )


def _rows(conn: duckdb.DuckDBPyConnection, sql: str) -> list[dict[str, Any]]:
    cursor = conn.execute(sql)
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
