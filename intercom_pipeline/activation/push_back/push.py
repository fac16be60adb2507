"""Push survey results onto Intercom contacts.

Attributes for the latest answer, events for every survey sent and answered. Only what changed
is sent; a killed run resumes where it stopped, re-sending at most the writes that were in flight
or not yet recorded (see `_outcomes`).
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import duckdb

from intercom_pipeline.activation.push_back import ledger
from intercom_pipeline.activation.push_back.payloads import (
    PushItem,
    attribute_item,
    one_per_key,
    response_event_item,
    sent_event_item,
)
from intercom_pipeline.activation.push_back.settings import PushSettings
from intercom_pipeline.sources.intercom import Workspace
from intercom_pipeline.sources.intercom.client import (
    IntercomAuthError,
    IntercomClient,
    IntercomError,
    IntercomPermissionError,
)
from intercom_pipeline.warehouse import Warehouse, write_rows

FULL_EXPORT_INTERVAL = timedelta(days=7)
# Outcomes are recorded in the ledger at least this often (and whenever `workers` of them wait):
# one write to the ledger costs milliseconds, one per outcome would slow the push down.
LEDGER_FLUSH_SECONDS = 0.25
_CANONICAL = re.compile(r"</contacts/([^>]+)>")
# survey_response_quarantine's code for an answer whose email names several contacts.
_AMBIGUOUS_EMAIL = "ambiguous_email"
# Errors every later call would repeat (a refused token, a missing permission): they stop the run.
_STOPS_THE_RUN = (IntercomAuthError, IntercomPermissionError)


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
    write_calls: int = 0  # writes Intercom accepted: updates, events, attributes created
    events_merged: int = 0  # events of one contact, name and second: one event for Intercom
    failures: list[tuple[str, str, str]] = field(default_factory=list)  # key, contact, reason
    ambiguous: list[tuple[str, str]] = field(default_factory=list)  # answer key, reason: not sent
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Outcome:
    """What became of one write: the hash to keep, the error, or the contact it was merged into."""

    kept_hash: str | None = None
    error: str | None = None
    merged_into: str | None = None  # an attribute update, written once the merges are resolved


def survey_push_items(conn: duckdb.DuckDBPyConnection, settings: PushSettings) -> list[PushItem]:
    """Every write the marts call for, whatever was sent before (in a stable order)."""
    profiles = _rows(
        conn, "select * from analytics.contact_survey_profile where last_score is not null"
    )
    sends = _rows(
        conn, "select * from analytics.survey_sends where contact_id is not null order by send_key"
    )
    responses = _rows(conn, "select * from analytics.survey_responses order by response_key")
    return [
        *(attribute_item(p, settings) for p in profiles),
        *(sent_event_item(s, settings) for s in sends),
        *(response_event_item(r, settings) for r in responses),
    ]


def ambiguous_answers(conn: duckdb.DuckDBPyConnection) -> list[tuple[str, str]]:
    """Answers named by an email that matches several contacts: reported, never written."""
    return conn.execute(
        "select response_key, rejection_reason from analytics.survey_response_quarantine"
        " where rejection_code = ? order by response_key",
        [_AMBIGUOUS_EMAIL],
    ).fetchall()


def push_survey_results(
    warehouse: Warehouse,
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
        IntercomAuthError, IntercomPermissionError: Intercom refused the token or a permission;
            the run stops at the first such answer, with what it sent so far recorded.
    """
    started = now or datetime.now(UTC).replace(tzinfo=None)
    report = PushReport(uuid.uuid4().hex, settings.mode, resend_all)
    with warehouse.connect("pushing survey results") as conn:
        ledger.ensure_tables(conn)
        if resend_all and not force:
            _check_weekly_guard(conn, started)
        # Off counts as skipped what the default mode would send.
        shown = replace(settings, mode="score_and_comment") if settings.mode == "off" else settings
        items, report.events_merged = one_per_key(survey_push_items(conn, shown))
        report.ambiguous = ambiguous_answers(conn)
        conn.execute(
            f"insert into {ledger.RUNS} (run_id, started_at, mode, resend_all) values (?, ?, ?, ?)",
            [report.run_id, started, settings.mode, resend_all],
        )
        known = {} if resend_all else ledger.recorded_hashes(conn)
        pending = [i for i in items if known.get(i.key) != i.payload_hash]
        report.unchanged = len(items) - len(pending)
        report.notes.extend(_mode_notes(settings, len(pending)))
        if settings.mode == "off":
            report.skipped = len(pending)
        else:
            _send_all(conn, pending, items, workspaces, settings, report)
        _finish(conn, report)
    return report


def _mode_notes(settings: PushSettings, pending: int) -> list[str]:
    if settings.mode == "off":
        return [f"INTERCOM_PUSH_MODE=off: nothing was sent ({pending} changed writes skipped)"]
    if settings.mode == "score_only":
        return [
            f"INTERCOM_PUSH_MODE=score_only: no comment is sent; the attribute "
            f"{settings.comment_attribute} is sent empty, clearing any comment sent before"
        ]
    return []


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
    items: list[PushItem],
    workspaces: list[Workspace],
    settings: PushSettings,
    report: PushReport,
) -> None:
    """Send the pending writes, then the attribute updates of merged contacts (latest wins)."""
    clients = {ws.workspace_id: ws.client for ws in workspaces} if pending else {}
    unready, report.write_calls = _ensure_attributes(clients, pending, settings)
    merged: dict[str, str] = {}  # item key -> canonical contact

    def send(item: PushItem) -> Outcome:
        return _send(clients, unready, item)

    for batch in _outcomes(pending, send, settings.workers):
        merged.update((i.key, o.merged_into) for i, o in batch if o.merged_into)
        _record(conn, [(i, o) for i, o in batch if not o.merged_into], report)
    if merged:
        _send_merged(conn, merged, pending, items, clients, settings, report)


def _send_merged(
    conn: duckdb.DuckDBPyConnection,
    merged: dict[str, str],
    pending: list[PushItem],
    items: list[PushItem],
    clients: dict[str, IntercomClient],
    settings: PushSettings,
    report: PushReport,
) -> None:
    """Write merged contacts' values onto their canonical contacts: the latest answer wins.

    Sent after every other update, so the canonical contact's own values (from the marts, sent
    this run or before) and those of each contact merged into it are compared, not raced.
    """
    own = {(i.workspace_id, i.contact_id): i for i in items if i.kind == "attributes"}
    candidates: dict[tuple[str, str], list[PushItem]] = {}
    for item in pending:
        if item.key in merged:
            canonical = (item.workspace_id, merged[item.key])
            candidates.setdefault(canonical, [own[canonical]] if canonical in own else [])
            candidates[canonical].append(item)
    winners = {}
    superseded = []
    for (_, canonical_id), group in candidates.items():
        latest = max(group, key=lambda i: i.as_of or datetime.min)
        if latest.key in merged:
            winners[latest.key] = canonical_id
        # Nothing was sent: the hash is kept (not retried until its values change), no sent_at.
        superseded += [
            (i, Outcome(i.payload_hash, f"superseded by {canonical_id}"))
            for i in group
            if i.key in merged and i is not latest
        ]
    if superseded:
        report.notes.append(
            f"{len(superseded)} merged contacts' values were not written: the contact they were "
            "merged into has a later answer"
        )
        report.unchanged += len(superseded)
        ledger.record(conn, [_ledger_row(i, o) for i, o in superseded], _now())

    def send(item: PushItem) -> Outcome:
        return _send_to_canonical(clients[item.workspace_id], item, winners[item.key])

    chosen = [i for i in pending if i.key in winners]
    for batch in _outcomes(chosen, send, settings.workers):
        _record(conn, batch, report)


def _record(
    conn: duckdb.DuckDBPyConnection, batch: list[tuple[PushItem, Outcome]], report: PushReport
) -> None:
    for item, outcome in batch:
        if outcome.error is None:
            report.sent += 1
            report.write_calls += 1
        else:
            report.failed += 1
            report.failures.append((item.key, item.contact_id, outcome.error))
    ledger.record(conn, [_ledger_row(i, o) for i, o in batch], _now())


def _ledger_row(
    item: PushItem, outcome: Outcome
) -> tuple[str, str, str, str, str | None, str | None]:
    return (
        item.key,
        item.kind,
        item.workspace_id,
        item.contact_id,
        outcome.kept_hash,
        outcome.error,
    )


def _outcomes(
    pending: list[PushItem], send: Callable[[PushItem], Outcome], workers: int
) -> Iterator[list[tuple[PushItem, Outcome]]]:
    """Items with their outcomes, `workers` sent at a time, in batches for the ledger.

    At most `workers * 2` requests are queued, so memory stays flat for any number of items. A
    batch is yielded (and recorded by the caller before anything more is sent) every
    LEDGER_FLUSH_SECONDS or as soon as `workers` outcomes wait. So a process killed at any point
    has sent fewer than `workers * 3` writes the ledger does not know: those queued or in flight,
    and those waiting for their batch.

    The first write goes alone, so a token Intercom refuses costs one call, not `workers`. An
    error raised by `send` (a refused token or permission) stops the run: nothing queued is
    sent, the outcomes received are yielded, then the error is raised.
    """
    queue = iter(pending)
    batch: list[tuple[PushItem, Outcome]] = []
    flushed = time.monotonic()
    stopped: Exception | None = None
    with ThreadPoolExecutor(max_workers=workers) as pool:
        running: dict[Future[Outcome], PushItem] = {}
        limit = 1
        while stopped is None:
            while len(running) < limit and (item := next(queue, None)) is not None:
                running[pool.submit(send, item)] = item
            if not running:
                break
            done, _ = wait(running, timeout=LEDGER_FLUSH_SECONDS, return_when=FIRST_COMPLETED)
            limit = workers * 2 if done else limit
            for future in done:
                item = running.pop(future)
                try:
                    batch.append((item, future.result()))
                except Exception as exc:  # raised below, once the outcomes received are kept
                    stopped = exc
            if batch and (
                len(batch) >= workers or time.monotonic() - flushed >= LEDGER_FLUSH_SECONDS
            ):
                yield batch
                batch, flushed = [], time.monotonic()
        # After a stop: the queued writes are cancelled; those in flight end unrecorded, and the
        # next run sends them again (an attribute update is idempotent, an event de-duplicated).
        pool.shutdown(cancel_futures=True)
    if batch:
        yield batch
    if stopped is not None:
        raise stopped


def _send(clients: dict[str, IntercomClient], unready: dict[str, str], item: PushItem) -> Outcome:
    client = clients.get(item.workspace_id)
    if client is None:
        return Outcome(
            error=f"workspace {item.workspace_id} is not configured (INTERCOM_WORKSPACES)"
        )
    if item.kind == "attributes" and item.workspace_id in unready:
        return Outcome(error=unready[item.workspace_id])
    try:
        _write(client, item, item.contact_id)
        return Outcome(item.payload_hash)
    except _STOPS_THE_RUN:
        raise
    except IntercomError as exc:
        if exc.status == 404:
            # Deleted in Intercom: recorded, and not retried until its values change.
            return Outcome(item.payload_hash, "contact not found in Intercom (404): it was deleted")
        canonical = _CANONICAL.search(exc.link or "") if exc.status == 410 else None
        if canonical and item.kind == "attributes":
            return Outcome(merged_into=canonical.group(1))
        if canonical:
            return _send_to_canonical(client, item, canonical.group(1))
        return Outcome(error=str(exc))


def _send_to_canonical(client: IntercomClient, item: PushItem, canonical_id: str) -> Outcome:
    try:
        _write(client, item, canonical_id)
        return Outcome(item.payload_hash)
    except _STOPS_THE_RUN:
        raise
    except IntercomError as again:
        return Outcome(error=f"merged into {canonical_id}, which failed: {again}")


def _write(client: IntercomClient, item: PushItem, contact_id: str) -> None:
    if item.kind == "attributes":
        client.request("PUT", f"/contacts/{contact_id}", json=item.body)
    else:
        client.request("POST", "/events", json={**item.body, "id": contact_id})


def _ensure_attributes(
    clients: dict[str, IntercomClient], pending: list[PushItem], settings: PushSettings
) -> tuple[dict[str, str], int]:
    """Create the contact attributes the push writes where missing.

    Returns the workspaces where that failed, with why (their attribute updates fail with that
    reason, and are retried next run, while their events still go out), and how many were
    created. A refused token or permission is raised: every write after it would fail too.
    """
    needed = {i.workspace_id for i in pending if i.kind == "attributes"}
    unready = {}
    created = 0
    for workspace_id in needed & set(clients):
        try:
            created += _create_missing_attributes(clients[workspace_id], workspace_id, settings)
        except _STOPS_THE_RUN:
            raise
        except IntercomError as exc:
            unready[workspace_id] = f"the contact attributes are not ready: {exc}"
    return unready, created


def _create_missing_attributes(
    client: IntercomClient, workspace_id: str, settings: PushSettings
) -> int:
    """Create the attributes missing in one workspace; returns how many.

    Archived ones are looked up too: their names are taken, and a create would fail obscurely.
    """
    created = 0
    existing = {
        a["name"]: a
        for a in client.request(
            "GET", "/data_attributes", params={"model": "contact", "include_archived": "true"}
        )["data"]
    }
    for name, data_type in settings.attribute_types().items():
        found = existing.get(name)
        if found is None:
            client.request(
                "POST",
                "/data_attributes",
                json={"name": name, "model": "contact", "data_type": data_type},
            )
            created += 1
        elif found.get("data_type") != data_type:
            raise IntercomError(
                f"the contact attribute {name!r} exists in workspace {workspace_id} as "
                f"{found.get('data_type')}, not {data_type}: rename ours with the matching "
                "INTERCOM_PUSH_*_ATTRIBUTE variable, or change theirs in Intercom"
            )
        elif found.get("archived"):
            raise IntercomError(
                f"the contact attribute {name!r} is archived in workspace {workspace_id}: "
                "unarchive it in Intercom (Settings > Data > People), or rename ours with the "
                "matching INTERCOM_PUSH_*_ATTRIBUTE variable"
            )
    return created


def _finish(conn: duckdb.DuckDBPyConnection, report: PushReport) -> None:
    conn.execute(
        f"update {ledger.RUNS} set finished_at = ?, sent = ?, unchanged = ?, skipped = ?,"
        " failed = ?, write_calls = ?, ambiguous_emails = ?, events_merged = ? where run_id = ?",
        [
            _now(),
            report.sent,
            report.unchanged,
            report.skipped,
            report.failed,
            report.write_calls,
            len(report.ambiguous),
            report.events_merged,
            report.run_id,
        ],
    )
    write_rows(
        conn,
        f"insert into {ledger.FAILURES} select * from incoming",
        ("run_id", "item_key", "contact_id", "reason"),
        [(report.run_id, key, contact, reason) for key, contact, reason in report.failures],
    )


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _rows(conn: duckdb.DuckDBPyConnection, sql: str) -> list[dict[str, Any]]:
    cursor = conn.execute(sql)
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
