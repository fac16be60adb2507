"""The request log through dbt: the log and summary marts hold what surveys on close decided,
and a production send lands in `survey_sends`, so the push back sends a `survey-sent` event."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from intercom_pipeline.activation.surveys.run import process_closures
from intercom_pipeline.activation.surveys.settings import survey_settings
from intercom_pipeline.defs.resources import resources_from_environment
from intercom_sandbox import DEFAULT_TOKEN, RunningSandbox, Sandbox, SandboxConfig
from intercom_sandbox.activity import close_conversation
from intercom_sandbox.model import AppliedTag, Conversation
from intercom_sandbox.workspace import Workspace

BOT_ID = 9900001  # the sandbox's Fin


def open_conversations(ws: Workspace, count: int) -> list[Conversation]:
    """Open chat conversations of distinct customers, assigned to a teammate, untagged."""
    found: list[Conversation] = []
    for c in ws.conversations:
        if (
            c.state != "closed"
            and c.source_type == "conversation"
            and c.source_author_type in ("user", "lead")
            and str(c.admin_assignee_id) in ws.admin_by_id
            and not c.tags
            and c.contact_ids[0] not in {f.contact_ids[0] for f in found}
        ):
            found.append(c)
    return found[:count]


def test_the_request_marts_and_survey_sends_hold_the_decisions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from intercom_pipeline.definitions import defs

    sandbox = Sandbox(SandboxConfig(seed=5, scale="tiny"))
    ws = sandbox.workspace
    with RunningSandbox(sandbox) as running:
        env = {
            "DUCKDB_PATH": str(tmp_path / "intercom.duckdb"),
            "DUCKDB_SERVING_DIR": str(tmp_path / "serving"),
            "SURVEY_FEED_DIR": str(tmp_path / "feed"),
            "DLT_DATA_DIR": str(tmp_path / "dlt"),
            "SURVEY_WEBHOOK_SPOOL_DIR": str(tmp_path / "spool"),
            "AUDIENCES_FILE": str(tmp_path / "no-audiences.yaml"),
            "INTERCOM_BASE_URL": running.base_url,
            "INTERCOM_ACCESS_TOKEN": DEFAULT_TOKEN,
            "SURVEY_MODE": "production",
            "SURVEY_SENDER_ADMIN_ID": next(iter(ws.admin_by_id)),
            "SURVEY_CHAT_DELAY_MINUTES": "0",
        }
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        (tmp_path / "feed").mkdir()  # no survey feed: the sends come from the request log
        settings = survey_settings()
        resources = resources_from_environment(resolved=True)
        warehouse, workspaces = resources["warehouse"].get(), resources["intercom"].connect()
        now = datetime.fromtimestamp(ws.now, UTC).replace(tzinfo=None)
        process_closures(warehouse, workspaces, settings, now=now)
        fine, fraud, bot = open_conversations(ws, 3)
        with ws.lock:
            fraud.tags.append(AppliedTag(ws.tag_named("fraud").id, ws.now, fine.parts[0].author_id))
            bot.admin_assignee_id = BOT_ID
            for conversation in (fine, fraud, bot):
                close_conversation(ws, conversation, ws.now)
            ws.changed()
        outcome = process_closures(warehouse, workspaces, settings, now=now)
        assert outcome.statuses == {"sent": 1, "do_not_send": 2}

        job = defs().resolve_job_def("intercom_build_all")
        with dg.instance_for_test() as instance:
            assert job.execute_in_process(instance=instance).success
        events = [
            w["body"]
            for w in running.sandbox.stats.writes
            if w["path"] == "/events" and w["body"]["event_name"] == "survey-sent"
        ]

    with duckdb.connect(str(tmp_path / "intercom.duckdb"), read_only=True) as conn:
        log_rows = conn.execute(
            "select conversation_id, mode, status, reason_code, channel, contact_id"
            " from analytics.survey_request_log order by conversation_id"
        ).fetchall()
        summary = conn.execute(
            "select closure_date, mode, status, reason_code, requests"
            " from analytics.survey_request_summary order by status, reason_code"
        ).fetchall()
        sends = conn.execute(
            "select send_key, contact_id, conversation_id, metric"
            " from analytics.survey_sends where answer_source = 'survey_request'"
        ).fetchall()
    contact = fine.contact_ids[0]
    assert log_rows == sorted(
        [
            (fine.id, "production", "sent", None, "chat", contact),
            (
                fraud.id,
                "production",
                "do_not_send",
                "suppression_tag",
                "chat",
                fraud.contact_ids[0],
            ),
            (bot.id, "production", "do_not_send", "bot_assignee", "chat", bot.contact_ids[0]),
        ]
    )
    today = date(now.year, now.month, now.day)
    assert summary == [
        (today, "production", "do_not_send", "bot_assignee", 1),
        (today, "production", "do_not_send", "suppression_tag", 1),
        (today, "production", "sent", "none", 1),
    ]
    request_id = f"{workspaces[0].workspace_id}:{fine.id}:{ws.now}"
    assert sends == [(f"survey-request:{request_id}", contact, fine.id, "CSAT")]
    assert [e["id"] for e in events] == [contact]  # the push sent its survey-sent event
