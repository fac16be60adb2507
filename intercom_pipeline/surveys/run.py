"""One pass of surveys on close: find closures, decide each, send or record, log everything.

Plain Python (the Dagster asset `survey_requests` wraps it). Closures come from a search of
recently closed conversations and from webhook notifications; each is logged as pending, then
decided with the conversation's facts fetched fresh from Intercom. A closure in its channel delay
stays pending and is decided again on a later pass.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from intercom_pipeline.settings import REGION_BASE_URLS
from intercom_pipeline.sources.intercom import Workspace
from intercom_pipeline.sources.intercom.client import IntercomClient, IntercomError
from intercom_pipeline.surveys import log
from intercom_pipeline.surveys.conversations import (
    Closure,
    ConversationFacts,
    conversation_facts,
    recent_closures,
    teammate_ids,
)
from intercom_pipeline.surveys.decide import DO_NOT_SEND, WAIT, History, decide
from intercom_pipeline.surveys.messages import InvalidRequest, build_message
from intercom_pipeline.surveys.settings import SurveySettings

SEARCH_OVERLAP_SECONDS = 120  # closures indexed late by the search are still found


@dataclass
class SurveyRun:
    new_closures: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    reasons: Counter[str] = field(default_factory=Counter)


def process_closures(
    warehouse: Path,
    workspaces: list[Workspace],
    settings: SurveySettings,
    *,
    webhook_closures: list[tuple[str, str]] = (),  # type: ignore[assignment]
    test_client: IntercomClient | None = None,
    now: datetime | None = None,
) -> SurveyRun:
    """Record new closures, then decide every pending one.

    Args:
        warehouse: the DuckDB file holding the request log (the pipeline's one writer).
        workspaces: the configured Intercom workspaces.
        settings: the survey settings (mode, channels, delays, suppression, template).
        webhook_closures: (workspace id, conversation id) from `conversation.admin.closed`.
        test_client: in test mode, where requests are sent to be validated (a sandbox).
        now: the time decisions are made at (UTC, naive); default the clock.
    """
    now = now or datetime.now(UTC).replace(tzinfo=None)
    by_id = {ws.workspace_id: ws for ws in workspaces}
    run = SurveyRun()
    with duckdb.connect(str(warehouse)) as conn:
        log.ensure_tables(conn)
        # Webhooks first: when both saw a closure, the log says it came by webhook.
        closures = _from_webhooks(webhook_closures, by_id)
        closures += [c for ws in workspaces for c in _searched(conn, ws)]
        run.new_closures = log.add_pending(
            conn, closures, mode=settings.mode, metric=settings.metric, now=now
        )
        teammates: dict[str, frozenset[str]] = {}
        for closure in log.pending(conn, settings.mode):
            status, reason = _decide_and_act(
                conn, closure, by_id, teammates, settings, test_client, now
            )
            run.statuses[status] += 1
            if reason:
                run.reasons[reason] += 1
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
    notified: list[tuple[str, str]] | tuple[()], by_id: dict[str, Workspace]
) -> list[Closure]:
    """Webhook closures, with the close time Intercom's statistics give (as the search does)."""
    closures = []
    for workspace_id, conversation_id in notified:
        ws = by_id.get(workspace_id)
        if ws is None:
            continue
        conversation = ws.client.request("GET", f"/conversations/{conversation_id}")
        closed_at = (conversation.get("statistics") or {}).get("last_close_at")
        if conversation.get("state") == "closed" and closed_at:
            closures.append(Closure(workspace_id, conversation_id, int(closed_at), "webhook"))
    return closures


def _decide_and_act(
    conn: duckdb.DuckDBPyConnection,
    closure: Closure,
    by_id: dict[str, Workspace],
    teammates: dict[str, frozenset[str]],
    settings: SurveySettings,
    test_client: IntercomClient | None,
    now: datetime,
) -> tuple[str, str | None]:
    ws = by_id.get(closure.workspace_id)
    if ws is None:
        error = f"workspace {closure.workspace_id} is not configured (INTERCOM_WORKSPACES)"
        log.settle(conn, closure, status="invalid", error=error, now=now)
        return "invalid", None
    try:
        if ws.workspace_id not in teammates:
            teammates[ws.workspace_id] = teammate_ids(ws.client)
        facts = conversation_facts(ws.client, closure.conversation_id, teammates[ws.workspace_id])
    except IntercomError as exc:
        if exc.status == 404:
            reason = "the conversation was deleted"
            log.settle(conn, closure, status=DO_NOT_SEND, reason=reason, now=now)
            return DO_NOT_SEND, reason
        log.settle(conn, closure, status="pending", error=str(exc), now=now)  # retried next pass
        return "pending", None
    unsubscribed, in_audience = log.audience_facts(conn, facts.contact_id or "", settings.audience)
    history = History(
        conversation_surveyed=log.conversation_surveyed(
            conn, closure.conversation_id, settings.mode
        ),
        contact_last_surveyed_at=log.contact_last_surveyed(
            conn, facts.contact_id or "", settings.mode
        ),
        contact_unsubscribed_in_audience=unsubscribed,
        in_audience=in_audience,
    )
    decision = decide(closure, facts, history, settings, now)
    who = {"contact_id": facts.contact_id, "channel": facts.channel}
    if decision.status == WAIT:
        log.settle(conn, closure, status="pending", reason=decision.reason, now=now, **who)
        return "pending", decision.reason
    if decision.status == DO_NOT_SEND:
        log.settle(conn, closure, status=DO_NOT_SEND, reason=decision.reason, now=now, **who)
        return DO_NOT_SEND, decision.reason
    status, error, message_id = _deliver(ws, facts, settings, test_client)
    log.settle(conn, closure, status=status, error=error, message_id=message_id, now=now, **who)
    return status, None


def _deliver(
    ws: Workspace,
    facts: ConversationFacts,
    settings: SurveySettings,
    test_client: IntercomClient | None,
) -> tuple[str, str | None, str | None]:
    """(status, error, message id). Test mode never messages a customer of a real workspace."""
    try:
        message = build_message(facts, settings)
    except InvalidRequest as exc:
        return "invalid", str(exc), None
    if settings.is_production:
        client: IntercomClient | None = ws.client
    elif test_client is not None:
        client = test_client
    elif ws.client.settings.base_url not in REGION_BASE_URLS.values():
        client = ws.client  # the workspace is a sandbox: nobody is messaged for real
    else:
        return "test", None, None
    try:
        sent = client.request("POST", "/messages", json=message)
    except IntercomError as exc:
        if exc.status is not None and 400 <= exc.status < 500:
            return "invalid", str(exc), None
        return "pending", str(exc), None  # Intercom unavailable: tried again on the next pass
    return ("sent" if settings.is_production else "test"), None, str(sent.get("id"))
