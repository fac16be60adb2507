"""One pass of surveys on close: find closures, decide each, send or record, log everything.

Plain Python (the Dagster asset `survey_requests` wraps it). Closures come from a search of
recently closed conversations and from webhook notifications; each is logged as pending, then
decided with the conversation's facts fetched fresh from Intercom. A closure in its channel delay
stays pending and is decided again on a later pass.

A survey is sent at most once: the request is marked `sending` (committed) before POST /messages,
which is never retried; when its outcome is open (a 5xx, a timeout, a dropped connection, or a run
that stopped before recording it) the request becomes `unknown` instead of being sent again.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime

import duckdb

from intercom_pipeline.activation.surveys import log
from intercom_pipeline.activation.surveys.conversations import (
    Closure,
    ConversationFacts,
    conversation_facts,
    recent_closures,
    teammate_ids,
)
from intercom_pipeline.activation.surveys.decide import DO_NOT_SEND, WAIT, History, decide
from intercom_pipeline.activation.surveys.destination import Destinations
from intercom_pipeline.activation.surveys.messages import InvalidRequest, build_message
from intercom_pipeline.activation.surveys.settings import SurveySettings
from intercom_pipeline.sources.intercom import Workspace
from intercom_pipeline.sources.intercom.client import (
    NOT_SENT,
    IntercomAuthError,
    IntercomClient,
    IntercomError,
    IntercomPermissionError,
)
from intercom_pipeline.warehouse import Warehouse

SEARCH_OVERLAP_SECONDS = 120  # closures indexed late by the search are still found

logger = logging.getLogger(__name__)
_REFUSED = (IntercomAuthError, IntercomPermissionError)


class SurveysRefused(RuntimeError):
    """Intercom refused the token or a permission for POST /messages: no survey can go out."""


@dataclass(frozen=True)
class Notified:
    """A `conversation.admin.closed` notification from the webhook spool."""

    workspace_id: str
    conversation_id: str
    notified_at: int  # the notification's created_at (unix seconds)


@dataclass
class SurveyRun:
    new_closures: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    reasons: Counter[str] = field(default_factory=Counter)  # by reason code
    # Notifications Intercom could not answer about this time (5xx, network): kept to retry.
    retry_notifications: list[Notified] = field(default_factory=list)

    def count(self, status: str, reason_code: str | None = None, times: int = 1) -> None:
        if not times:
            return
        self.statuses[status] += times
        if reason_code:
            self.reasons[reason_code] += times


@dataclass(frozen=True)
class _Dropped:
    """A notification that cannot become a request, logged with why."""

    closure: Closure
    status: str
    reason_code: str
    reason: str | None = None
    error: str | None = None


def process_closures(
    warehouse: Warehouse,
    workspaces: list[Workspace],
    settings: SurveySettings,
    *,
    webhook_closures: list[Notified] = (),  # type: ignore[assignment]
    test_client: IntercomClient | None = None,
    now: datetime | None = None,
) -> SurveyRun:
    """Record new closures, then decide every pending one.

    Args:
        warehouse: the DuckDB file holding the request log (the pipeline's one writer).
        workspaces: the configured Intercom workspaces.
        settings: the survey settings (mode, channels, delays, suppression, template).
        webhook_closures: the spooled `conversation.admin.closed` notifications.
        test_client: in test mode, where requests are sent to be validated (a sandbox);
            without it, only a workspace that answers as the project's sandbox receives them.
        now: the time decisions are made at (UTC, naive); default the clock.

    Raises:
        SurveysRefused: POST /messages answered 401 or 403; the request stays pending.
    """
    now = now or datetime.now(UTC).replace(tzinfo=None)
    by_id = {ws.workspace_id: ws for ws in workspaces}
    run = SurveyRun()
    with warehouse.connect("deciding surveys on close") as conn:
        log.ensure_tables(conn)
        run.count("unknown", "outcome_unknown", log.give_up_sending(conn, settings.mode, now))
        # Webhooks first: when both saw a closure, the log says it came by webhook.
        closures, dropped, run.retry_notifications = _from_webhooks(webhook_closures, by_id)
        closures += [c for ws in workspaces for c in _searched(conn, ws)]
        run.new_closures = log.add_pending(
            conn, closures, mode=settings.mode, metric=settings.metric, now=now
        )
        for d in dropped:
            log.add_settled(
                conn,
                d.closure,
                mode=settings.mode,
                metric=settings.metric,
                now=now,
                status=d.status,
                reason_code=d.reason_code,
                reason=d.reason,
                error=d.error,
            )
            run.count(d.status, d.reason_code)
        teammates: dict[str, frozenset[str]] = {}
        destinations = Destinations(settings, test_client)
        for closure in log.pending(conn, settings.mode):
            run.count(
                *_decide_and_act(conn, closure, by_id, teammates, settings, destinations, now)
            )
    return run


def _searched(conn: duckdb.DuckDBPyConnection, ws: Workspace) -> list[Closure]:
    """Closures since the last search; the first search only marks where to start from."""
    since = log.searched_until(conn, ws.workspace_id)
    if since is None:
        latest = next(
            ws.client.search(
                "/conversations/search",
                {"field": "updated_at", "operator": ">", "value": 0},
                "conversations",
                per_page=1,
                sort={"field": "updated_at", "order": "descending"},
            ),
            None,
        )
        log.set_searched_until(conn, ws.workspace_id, int(latest["updated_at"]) if latest else 0)
        return []
    found = list(recent_closures(ws.client, ws.workspace_id, since - SEARCH_OVERLAP_SECONDS))
    log.set_searched_until(conn, ws.workspace_id, max([since, *(c.closed_at for c in found)]))
    return found


def _from_webhooks(
    notified: list[Notified] | tuple[()], by_id: dict[str, Workspace]
) -> tuple[list[Closure], list[_Dropped], list[Notified]]:
    """(closures, notifications dropped with their reason, notifications to retry).

    A closure takes the close time Intercom's statistics give (as the search does). One
    notification that Intercom cannot answer about never holds up the others.
    """
    closures: list[Closure] = []
    dropped: list[_Dropped] = []
    retry: list[Notified] = []
    for note in notified:
        as_notified = Closure(note.workspace_id, note.conversation_id, note.notified_at, "webhook")
        ws = by_id.get(note.workspace_id)
        if ws is None:
            error = f"workspace {note.workspace_id} is not configured (INTERCOM_WORKSPACES)"
            dropped.append(_Dropped(as_notified, "invalid", "unknown_workspace", error=error))
            continue
        try:
            conversation = ws.client.request("GET", f"/conversations/{note.conversation_id}")
        except _REFUSED:
            raise
        except IntercomError as exc:
            if exc.status == 404:
                reason = "the conversation was not found (deleted)"
                dropped.append(_Dropped(as_notified, DO_NOT_SEND, "conversation_not_found", reason))
            else:
                logger.warning("webhook for %s kept to retry: %s", note.conversation_id, exc)
                retry.append(note)
            continue
        state = conversation.get("state")
        closed_at = (conversation.get("statistics") or {}).get("last_close_at")
        closure = Closure(note.workspace_id, note.conversation_id, int(closed_at or 0), "webhook")
        if state == "closed" and closed_at:
            closures.append(closure)
        elif closed_at:
            reason = f"reopened ({state}) before the closure was seen"
            dropped.append(_Dropped(closure, DO_NOT_SEND, "reopened", reason))
        else:
            reason = f"Intercom has the conversation {state}, never closed"
            dropped.append(_Dropped(as_notified, DO_NOT_SEND, "not_closed", reason))
    return closures, dropped, retry


def _decide_and_act(
    conn: duckdb.DuckDBPyConnection,
    closure: Closure,
    by_id: dict[str, Workspace],
    teammates: dict[str, frozenset[str]],
    settings: SurveySettings,
    destinations: Destinations,
    now: datetime,
) -> tuple[str, str | None]:
    """Decide one pending closure and act on it; returns (status, reason code)."""
    ws = by_id.get(closure.workspace_id)
    if ws is None:
        error = f"workspace {closure.workspace_id} is not configured (INTERCOM_WORKSPACES)"
        log.settle(
            conn, closure, status="invalid", reason_code="unknown_workspace", error=error, now=now
        )
        return "invalid", "unknown_workspace"
    try:
        if ws.workspace_id not in teammates:
            teammates[ws.workspace_id] = teammate_ids(ws.client)
        facts = conversation_facts(ws.client, closure.conversation_id, teammates[ws.workspace_id])
    except _REFUSED:
        raise
    except IntercomError as exc:
        if exc.status == 404:
            code, reason = "conversation_not_found", "the conversation was not found (deleted)"
            log.settle(conn, closure, status=DO_NOT_SEND, reason_code=code, reason=reason, now=now)
            return DO_NOT_SEND, code
        log.settle(conn, closure, status="pending", error=str(exc), now=now)  # retried next pass
        return "pending", None
    contact_id = facts.contact_id or ""
    unsubscribed, in_audience = log.audience_facts(
        conn, ws.workspace_id, contact_id, settings.audience
    )
    history = History(
        conversation_surveyed=log.conversation_surveyed(
            conn, ws.workspace_id, closure.conversation_id, settings.mode
        ),
        contact_last_surveyed_at=log.contact_last_surveyed(
            conn, ws.workspace_id, contact_id, settings.mode
        ),
        contact_unsubscribed_in_audience=unsubscribed,
        in_audience=in_audience,
    )
    decision = decide(closure, facts, history, settings, now)
    if decision.status in (WAIT, DO_NOT_SEND):
        status = "pending" if decision.status == WAIT else DO_NOT_SEND
        log.settle(
            conn,
            closure,
            status=status,
            reason_code=decision.code,
            reason=decision.reason,
            now=now,
            contact_id=facts.contact_id,
            channel=facts.channel,
        )
        return status, decision.code
    return _deliver(conn, closure, ws, facts, settings, destinations, now)


def _deliver(
    conn: duckdb.DuckDBPyConnection,
    closure: Closure,
    ws: Workspace,
    facts: ConversationFacts,
    settings: SurveySettings,
    destinations: Destinations,
    now: datetime,
) -> tuple[str, str | None]:
    """Build, validate and send one survey at most once; returns (status, reason code).

    Test mode never messages a customer of a real workspace.
    """
    who = {"contact_id": facts.contact_id, "channel": facts.channel}
    done = "sent" if settings.is_production else "test"
    try:
        message = build_message(facts, settings)
    except InvalidRequest as exc:
        code = "invalid_request"
        log.settle(
            conn, closure, status="invalid", reason_code=code, error=str(exc), now=now, **who
        )
        return "invalid", code
    client = destinations.client_for(ws)
    if client is None:
        log.settle(conn, closure, status=done, now=now, **who)
        return done, None
    log.settle(conn, closure, status="sending", now=now, **who)  # on disk before the POST
    try:
        sent = client.request("POST", "/messages", json=message, idempotent=False)
    except _REFUSED as exc:
        log.settle(conn, closure, status="pending", error=str(exc), now=now, **who)
        where = (
            "the test sandbox (SURVEY_TEST_SANDBOX_URL, SURVEY_TEST_SANDBOX_TOKEN)"
            if client is not ws.client
            else f"workspace {ws.workspace_id}"
        )
        raise SurveysRefused(
            f"{where} refused POST /messages ({exc.status}), so no survey can go out: {exc} "
            "The requests stay pending and are sent on the first run after the fix."
        ) from None
    except IntercomError as exc:
        if exc.code == NOT_SENT:  # Intercom never saw it: the next run sends it
            log.settle(conn, closure, status="pending", error=str(exc), now=now, **who)
            return "pending", None
        if exc.status is not None and 400 <= exc.status < 500:
            code, status, error = "rejected_by_intercom", "invalid", str(exc)
        else:
            code, status = "outcome_unknown", "unknown"
            error = f"{exc} The survey may have gone out; it is not sent again."
        log.settle(conn, closure, status=status, reason_code=code, error=error, now=now, **who)
        return status, code
    log.settle(conn, closure, status=done, message_id=str(sent.get("id")), now=now, **who)
    return done, None
