"""Surveys on close through Dagster: the sensor reads Intercom and the webhook spool and starts
the job; the asset drains the spool into the request log."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import duckdb
import pytest
import requests

from intercom_pipeline.activation.surveys import log
from intercom_pipeline.activation.surveys.webhook import WebhookSpool, make_server
from intercom_pipeline.defs.resources import resources_from_environment
from intercom_sandbox import DEFAULT_TOKEN, RunningSandbox, Sandbox, SandboxConfig
from intercom_sandbox.activity import close_conversation

SECRET = "webhook-secret-for-tests"


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[RunningSandbox]:
    with RunningSandbox(Sandbox(SandboxConfig(seed=5, scale="tiny"))) as running:
        admin = next(iter(running.sandbox.workspace.admin_by_id))
        for key, value in {
            "INTERCOM_BASE_URL": running.base_url,
            "INTERCOM_ACCESS_TOKEN": DEFAULT_TOKEN,
            "DUCKDB_PATH": str(tmp_path / "intercom.duckdb"),
            "SURVEY_WEBHOOK_SPOOL_DIR": str(tmp_path / "spool"),
            "SURVEY_SENDER_ADMIN_ID": admin,
            "SURVEY_CHAT_DELAY_MINUTES": "0",
            "SURVEY_EMAIL_DELAY_MINUTES": "0",
            "SURVEY_MODE": "production",
        }.items():
            monkeypatch.setenv(key, value)
        yield running


def materialize() -> dg.ExecuteInProcessResult:
    from intercom_pipeline.definitions import defs

    job = defs().resolve_job_def("surveys_on_close_job")
    with dg.instance_for_test() as instance:
        return job.execute_in_process(instance=instance)


def sensor_context(cursor: str | None = None) -> dg.SensorEvaluationContext:
    """What the daemon gives the sensor: its cursor and the resources, from the environment."""
    return dg.build_sensor_context(cursor=cursor, resources=resources_from_environment())


def test_a_signed_webhook_reaches_the_request_log(env: RunningSandbox, tmp_path: Path) -> None:
    from intercom_pipeline.defs.surveys import conversation_closed_sensor

    assert materialize().success  # the first pass marks where the search starts
    ws = env.sandbox.workspace
    conversation = next(
        c
        for c in ws.conversations
        if c.state != "closed"
        and str(c.admin_assignee_id) in ws.admin_by_id
        and c.source_author_type in ("user", "lead")
    )
    with ws.lock:
        close_conversation(ws, conversation, ws.now)
        ws.changed()
    spool = WebhookSpool(tmp_path / "spool")
    server = make_server("127.0.0.1", 0, SECRET, spool)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        body = json.dumps(
            {
                "type": "notification_event",
                "app_id": ws.app_id,
                "id": "notif_1",
                "topic": "conversation.admin.closed",
                "created_at": ws.now,
                "data": {"item": {"type": "conversation", "id": conversation.id}},
            }
        ).encode()
        signature = "sha1=" + hmac.new(SECRET.encode(), body, hashlib.sha1).hexdigest()
        url = f"http://127.0.0.1:{server.server_address[1]}/intercom"
        assert requests.post(url, data=body, headers={"X-Hub-Signature": signature}, timeout=10).ok
        bad = requests.post(
            url, data=body, headers={"X-Hub-Signature": "sha1=" + "0" * 40}, timeout=10
        )
        assert bad.status_code == 401
        missing = requests.post(url, data=body, timeout=10)
        assert missing.status_code == 401
        assert missing.json() == {"error": "the X-Hub-Signature header is missing"}
    finally:
        server.shutdown()
    assert len(spool.pending()) == 1

    with sensor_context(cursor="0") as context:
        result = conversation_closed_sensor(context)
    assert [r.run_key for r in result.run_requests] == [f"webhook:{spool.pending()[0][0].name}"]

    outcome = materialize()
    assert outcome.success
    metadata = outcome.asset_materializations_for_node("surveys__survey_requests")[0].metadata
    assert metadata["sent"].value == 1 and metadata["new_closures"].value == 1
    assert spool.pending() == []  # recorded in the log, so the spool let it go
    with duckdb.connect(str(tmp_path / "intercom.duckdb"), read_only=True) as conn:
        rows = conn.execute(
            f"select conversation_id, source, status, mode from {log.REQUESTS}"
        ).fetchall()
    assert rows == [(conversation.id, "webhook", "sent", "production")]
    assert [m.contact_id for m in ws.messages] == [conversation.contact_ids[0]]


def test_the_sensor_starts_a_run_when_a_conversation_closes(env: RunningSandbox) -> None:
    from intercom_pipeline.defs.surveys import conversation_closed_sensor

    with sensor_context() as context:
        first = conversation_closed_sensor(context)
    assert first.run_requests == []  # the first look only remembers where things are
    with sensor_context(cursor=first.cursor) as context:
        assert conversation_closed_sensor(context).run_requests == []
    ws = env.sandbox.workspace
    conversation = next(c for c in ws.conversations if c.state != "closed" and c.admin_assignee_id)
    with ws.lock:
        ws.now += 60
        close_conversation(ws, conversation, ws.now)
        ws.changed()
    with sensor_context(cursor=first.cursor) as context:
        after = conversation_closed_sensor(context)
    assert [r.run_key for r in after.run_requests] == [f"closed:{ws.now}"]
    assert int(after.cursor) == ws.now


def test_a_webhook_for_a_deleted_conversation_is_logged_and_leaves_the_spool(
    env: RunningSandbox, tmp_path: Path
) -> None:
    assert materialize().success  # the first pass marks where the search starts
    ws = env.sandbox.workspace
    spool = WebhookSpool(tmp_path / "spool")
    for n, conversation_id in enumerate(("404404404", "505505505")):
        spool.put(
            {
                "type": "notification_event",
                "app_id": ws.app_id,
                "id": f"notif_{n}",
                "topic": "conversation.admin.closed",
                "created_at": ws.now,
                "data": {"item": {"type": "conversation", "id": conversation_id}},
            }
        )
    outcome = materialize()
    assert outcome.success  # one bad notification never fails the surveys
    metadata = outcome.asset_materializations_for_node("surveys__survey_requests")[0].metadata
    assert metadata["do_not_send"].value == 2 and metadata["new_closures"].value == 0
    assert spool.pending() == []
    with duckdb.connect(str(tmp_path / "intercom.duckdb"), read_only=True) as conn:
        rows = conn.execute(
            f"select conversation_id, source, status, reason_code from {log.REQUESTS}"
            " order by conversation_id"
        ).fetchall()
    assert rows == [
        ("404404404", "webhook", "do_not_send", "conversation_not_found"),
        ("505505505", "webhook", "do_not_send", "conversation_not_found"),
    ]


def test_the_asset_keeps_unusable_notifications_in_rejected(
    env: RunningSandbox, tmp_path: Path
) -> None:
    assert materialize().success  # the first pass marks where the search starts
    ws = env.sandbox.workspace
    spool = WebhookSpool(tmp_path / "spool")
    base = {"type": "notification_event", "app_id": ws.app_id, "created_at": ws.now}
    crafted = spool.put(
        {
            **base,
            "id": "notif_crafted",
            "topic": "conversation.admin.closed",
            "data": {"item": {"type": "conversation", "id": "1/../../admins"}},
        }
    )
    other_topic = spool.put({**base, "id": "notif_other", "topic": "contact.created"})
    deleted = spool.put(
        {
            **base,
            "id": "notif_deleted",
            "topic": "conversation.admin.closed",
            "data": {"item": {"type": "conversation", "id": "404404404"}},
        }
    )
    outcome = materialize()
    assert outcome.success
    assert spool.pending() == []
    assert not deleted.exists()  # recorded in the log, so the spool let it go
    assert sorted(p.name for p in spool.rejected_folder.iterdir()) == sorted(
        [crafted.name, other_topic.name]  # kept for a person to look at, not deleted
    )
    with duckdb.connect(str(tmp_path / "intercom.duckdb"), read_only=True) as conn:
        rows = conn.execute(f"select conversation_id, reason_code from {log.REQUESTS}").fetchall()
    assert rows == [("404404404", "conversation_not_found")]
