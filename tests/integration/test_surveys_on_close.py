"""Surveys on close against the sandbox: each suppression rule alone and together, the channel
delay with a reopen, test and production modes, webhooks, and never surveying twice."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import duckdb
import pytest
import requests

from intercom_pipeline.activation.audiences import store as audiences
from intercom_pipeline.activation.surveys import log, run
from intercom_pipeline.activation.surveys.settings import SurveySettings, survey_settings
from intercom_pipeline.settings import intercom_settings
from intercom_pipeline.sources.intercom import connect
from intercom_pipeline.sources.intercom.client import IntercomError
from intercom_pipeline.warehouse import Warehouse
from intercom_sandbox import DEFAULT_TOKEN, RunningSandbox, Sandbox, SandboxConfig
from intercom_sandbox.activity import close_conversation, reopen_conversation
from intercom_sandbox.model import AppliedTag, Conversation, Tag
from intercom_sandbox.workspace import Workspace

BOT_ID = "9900001"  # the sandbox's Fin: an assignee that is not a teammate


class Scene:
    """A sandbox, a warehouse for the request log, and the clock the decisions use."""

    def __init__(self, running: RunningSandbox, warehouse: Path) -> None:
        self.running = running
        self.ws: Workspace = running.sandbox.workspace
        self.warehouse = warehouse
        admin = next(iter(self.ws.admin_by_id))
        self.settings = SurveySettings(mode="production", sender_admin_id=admin)
        self.workspaces = connect(
            [
                intercom_settings(
                    {"INTERCOM_BASE_URL": running.base_url, "INTERCOM_ACCESS_TOKEN": DEFAULT_TOKEN}
                )
            ]
        )
        self.used: set[str] = set()

    def now(self, minutes_later: float = 0) -> datetime:
        return datetime.fromtimestamp(self.ws.now, UTC).replace(tzinfo=None) + timedelta(
            minutes=minutes_later
        )

    def open_conversation(self, channel: str) -> Conversation:
        """An open conversation a customer started on `channel`, not used by this test yet."""
        source_type = "email" if channel == "email" else "conversation"
        for c in self.ws.conversations:
            if (
                c.state != "closed"
                and c.id not in self.used
                and c.source_type == source_type
                and c.source_author_type in ("user", "lead")
                and c.admin_assignee_id
                and str(c.admin_assignee_id) in self.ws.admin_by_id
                and not c.tags
                and c.contact_ids[0] not in {self.ws_contact(u) for u in self.used}
            ):
                self.used.add(c.id)
                return c
        raise LookupError(f"no open {channel} conversation left")

    def ws_contact(self, conversation_id: str) -> str:
        return next(c.contact_ids[0] for c in self.ws.conversations if c.id == conversation_id)

    def close(self, conversation: Conversation, minutes_later: float = 0) -> None:
        with self.ws.lock:
            self.ws.now += int(minutes_later * 60)
            close_conversation(self.ws, conversation, self.ws.now)
            self.ws.changed()

    def reopen(self, conversation: Conversation, minutes_later: float) -> None:
        with self.ws.lock:
            self.ws.now += int(minutes_later * 60)
            reopen_conversation(self.ws, conversation, self.ws.now, "Actually, one more thing")
            self.ws.changed()

    def tag(self, conversation: Conversation, name: str) -> None:
        with self.ws.lock:
            tag = self.ws.tag_named(name) or Tag(f"99{len(self.ws.tags)}", name)
            if self.ws.tag_named(name) is None:
                self.ws.add_tag(tag)
            conversation.tags.append(
                AppliedTag(tag.id, self.ws.now, next(iter(self.ws.admin_by_id)))
            )
            conversation.touch(self.ws.now)
            self.ws.changed()

    def process(self, minutes_later: float = 0, **kwargs: object) -> run.SurveyRun:
        settings = kwargs.pop("settings", self.settings)
        return run.process_closures(
            Warehouse.at(self.warehouse),
            self.workspaces,
            settings,
            now=self.now(minutes_later),
            **kwargs,
        )

    def requests(self) -> dict[str, tuple]:
        with duckdb.connect(str(self.warehouse), read_only=True) as conn:
            rows = conn.execute(
                f"select conversation_id, status, reason, error, channel, mode, source"
                f" from {log.REQUESTS} order by closed_at"
            ).fetchall()
        return {row[0]: row[1:] for row in rows}

    def messages(self) -> list:
        return list(self.ws.messages)


@pytest.fixture
def scene(tmp_path: Path) -> Iterator[Scene]:
    with RunningSandbox(Sandbox(SandboxConfig(seed=5, scale="tiny"))) as running:
        started = Scene(running, tmp_path / "intercom.duckdb")
        assert started.process().new_closures == 0  # the first pass only marks where to start
        yield started


def test_a_closed_conversation_gets_one_survey_on_its_channel_after_the_delay(
    scene: Scene,
) -> None:
    email = scene.open_conversation("email")
    chat = scene.open_conversation("chat")
    scene.close(email)
    scene.close(chat)
    first = scene.process(minutes_later=10)
    assert first.new_closures == 2
    assert scene.requests()[email.id][0] == "pending"
    assert "channel delay" in scene.requests()[email.id][1]
    assert scene.messages() == []
    scene.process(minutes_later=31)  # chat's 30 minutes have passed, email's 60 have not
    assert scene.requests()[chat.id][:1] == ("sent",)
    assert scene.requests()[email.id][0] == "pending"
    scene.process(minutes_later=61)
    assert scene.requests()[email.id][0] == "sent"
    by_contact = {m.contact_id: m for m in scene.messages()}
    sent_email = by_contact[email.contact_ids[0]]
    assert sent_email.message_type == "email" and sent_email.subject == "How did we do?"
    assert f"conversation={email.id}&amp;contact={email.contact_ids[0]}" in sent_email.body or (
        f"conversation={email.id}&contact={email.contact_ids[0]}" in sent_email.body
    )
    assert by_contact[chat.contact_ids[0]].message_type == "in_app"
    again = scene.process(minutes_later=120)  # a rerun never surveys twice
    assert again.new_closures == 0 and sum(again.statuses.values()) == 0
    assert len(scene.messages()) == 2


def test_each_suppression_rule_on_its_own_and_together(scene: Scene) -> None:
    bot = scene.open_conversation("chat")
    bot.admin_assignee_id = int(BOT_ID)  # Fin holds it when it closes
    fraud = scene.open_conversation("chat")
    scene.tag(fraud, "fraud")
    off = scene.open_conversation("email")
    fine = scene.open_conversation("chat")
    for conversation in (bot, fraud, off, fine):
        scene.close(conversation)
    chat_only = replace(scene.settings, channels=("chat",))
    outcome = scene.process(minutes_later=40, settings=chat_only)
    requests = scene.requests()
    assert requests[bot.id][:2] == ("do_not_send", "the assignee at closure is a bot")
    assert requests[fraud.id][:2] == ("do_not_send", "tagged fraud")
    assert requests[off.id][:2] == ("do_not_send", "channel email is switched off")
    assert requests[fine.id][0] == "sent"
    assert outcome.statuses == {"do_not_send": 3, "sent": 1}
    assert [m.contact_id for m in scene.messages()] == [fine.contact_ids[0]]


def test_suppression_period_counts_from_the_last_survey(scene: Scene) -> None:
    first = scene.open_conversation("chat")
    scene.close(first)
    scene.process(minutes_later=40)
    assert scene.requests()[first.id][0] == "sent"
    # The customer starts another conversation, which closes the next day: suppressed.
    with scene.ws.lock:
        second = replace_conversation(scene.ws, first)
    scene.close(second, minutes_later=24 * 60)
    scene.process(minutes_later=24 * 60 + 40)
    status, reason, *_ = scene.requests()[second.id]
    assert status == "do_not_send"
    assert (
        reason.startswith("the customer was surveyed on")
        and "(suppression period 30 days)" in reason
    )
    # With a one-day suppression period the same closure would have been surveyed.
    with scene.ws.lock:
        third = replace_conversation(scene.ws, first)
    scene.close(third, minutes_later=3 * 24 * 60)
    scene.process(
        minutes_later=3 * 24 * 60 + 40, settings=replace(scene.settings, suppression_days=1)
    )
    assert scene.requests()[third.id][0] == "sent"


def test_a_reopen_during_the_channel_delay_drops_the_survey_and_never_twice(scene: Scene) -> None:
    conversation = scene.open_conversation("email")
    scene.close(conversation)
    scene.process(minutes_later=5)
    scene.reopen(conversation, minutes_later=20)
    scene.process(minutes_later=70)
    assert scene.requests()[conversation.id][:2] == ("do_not_send", "reopened after it was closed")
    assert scene.messages() == []
    # Closed again: a new closure, surveyed once after its own delay.
    scene.close(conversation, minutes_later=10)
    scene.process(minutes_later=200)
    with duckdb.connect(str(scene.warehouse), read_only=True) as conn:
        statuses = conn.execute(
            f"select status from {log.REQUESTS} where conversation_id = ? order by closed_at",
            [conversation.id],
        ).fetchall()
    assert statuses == [("do_not_send",), ("sent",)]
    # Reopened and closed once more: already surveyed.
    scene.reopen(conversation, minutes_later=5)
    scene.close(conversation, minutes_later=5)
    scene.process(minutes_later=400)
    with duckdb.connect(str(scene.warehouse), read_only=True) as conn:
        last = conn.execute(
            f"select status, reason from {log.REQUESTS} where conversation_id = ?"
            " order by closed_at desc limit 1",
            [conversation.id],
        ).fetchone()
    assert last == ("do_not_send", "the conversation was already surveyed")
    assert len(scene.messages()) == 1


class EgressProxy:
    """A forwarding proxy in front of the sandbox that hides its control API.

    Seen through it, the sandbox looks like real Intercom behind an egress proxy: an address
    that is none of Intercom's, and no /_sandbox/status.
    """

    def __init__(self, upstream: str) -> None:
        self.posted: list[str] = []  # paths of the POSTs that went through
        proxy = self

        class Forward(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self._forward()

            def do_POST(self) -> None:
                self._forward()

            def do_PUT(self) -> None:
                self._forward()

            def _forward(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.path.startswith("/_sandbox"):
                    status, content = 404, b'{"type": "error.list", "errors": []}'
                    headers = {"Content-Type": "application/json"}
                else:
                    if self.command == "POST":
                        proxy.posted.append(self.path.split("?")[0])
                    keep = ("Authorization", "Accept", "Intercom-Version", "Content-Type")
                    answer = requests.request(
                        self.command,
                        upstream + self.path,
                        data=body or None,
                        headers={k: self.headers[k] for k in keep if k in self.headers},
                        timeout=30,
                    )
                    status, content = answer.status_code, answer.content
                    headers = {
                        k: v
                        for k, v in answer.headers.items()
                        if k.lower() == "content-type" or k.lower().startswith("x-ratelimit")
                    }
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)

            def log_message(self, format: str, *args: object) -> None:
                """Quiet: the test reads `posted`."""

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Forward)
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> EgressProxy:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_test_mode_messages_no_customer_behind_an_unknown_address(scene: Scene) -> None:
    conversation = scene.open_conversation("chat")
    scene.close(conversation)
    with EgressProxy(scene.running.base_url) as proxy:
        # The same workspace, reached through an address that is none of Intercom's regions and
        # does not answer as the project's sandbox: test mode must treat it as real.
        scene.workspaces = connect(
            [
                intercom_settings(
                    {"INTERCOM_BASE_URL": proxy.base_url, "INTERCOM_ACCESS_TOKEN": DEFAULT_TOKEN}
                )
            ]
        )
        outcome = scene.process(minutes_later=40, settings=replace(scene.settings, mode="test"))
    status, _, error, channel, mode, _ = scene.requests()[conversation.id]
    assert (status, mode, channel, error) == ("test", "test", "chat", None)
    assert outcome.statuses == {"test": 1}
    assert "/conversations/search" in proxy.posted  # Intercom was reached through the proxy
    assert "/messages" not in proxy.posted  # the survey was built and validated, sent nowhere
    assert messages_posted(scene) == {}
    assert scene.messages() == []


def test_test_mode_sends_to_the_projects_sandbox(scene: Scene) -> None:
    conversation = scene.open_conversation("chat")
    scene.close(conversation)
    scene.process(minutes_later=40, settings=replace(scene.settings, mode="test"))
    assert scene.requests()[conversation.id][0] == "test"
    # The workspace answered as the sandbox (GET /_sandbox/status), so it received the request.
    assert messages_posted(scene) == {conversation.contact_ids[0]: 1}


def test_the_sandbox_probe_needs_the_sandboxs_own_answer(scene: Scene) -> None:
    from intercom_pipeline.activation.surveys.destination import is_project_sandbox

    assert is_project_sandbox(scene.running.base_url) is True
    with EgressProxy(scene.running.base_url) as proxy:
        assert is_project_sandbox(proxy.base_url) is False  # 404, as Intercom answers
    assert is_project_sandbox(proxy.base_url) is False  # nothing listens any more


def test_an_invalid_request_is_logged_with_the_error(scene: Scene) -> None:
    conversation = scene.open_conversation("chat")
    scene.close(conversation)
    scene.process(minutes_later=40, settings=replace(scene.settings, sender_admin_id="999"))
    status, _, error, *_ = scene.requests()[conversation.id]
    assert status == "invalid"
    assert "from must be" in error  # Intercom's own message
    other = scene.open_conversation("chat")
    scene.close(other)
    scene.process(minutes_later=80, settings=replace(scene.settings, sender_admin_id=""))
    assert "SURVEY_SENDER_ADMIN_ID is not set" in scene.requests()[other.id][2]


def test_webhook_closures_join_the_same_log(scene: Scene) -> None:
    conversation = scene.open_conversation("chat")
    scene.close(conversation)
    notified = [run.Notified(scene.workspaces[0].workspace_id, conversation.id, scene.ws.now)]
    scene.process(minutes_later=1, webhook_closures=notified)
    scene.process(minutes_later=40, webhook_closures=notified)
    with duckdb.connect(str(scene.warehouse), read_only=True) as conn:
        rows = conn.execute(
            f"select source, status from {log.REQUESTS} where conversation_id = ?",
            [conversation.id],
        ).fetchall()
    assert rows == [("webhook", "sent")]  # the search found the same closure: one request


def replace_conversation(ws: Workspace, like: Conversation) -> Conversation:
    """A new open conversation of the same customer and channel, assigned to a teammate."""
    from dataclasses import replace as copy

    new_id = str(int(max(c.id for c in ws.conversations)) + 1)
    fresh = copy(
        like,
        id=new_id,
        created_at=ws.now,
        updated_at=ws.now,
        state="open",
        parts=[],
        tags=[],
        rating=None,
        ticket_id=None,
        _stats=None,
    )
    ws.add_conversation(fresh)
    return fresh


def test_an_unsubscribed_customer_is_never_surveyed(scene: Scene) -> None:
    conversation = scene.open_conversation("chat")
    with scene.ws.lock:
        scene.ws.contact_by_id[conversation.contact_ids[0]].unsubscribed_from_emails = True
        scene.ws.changed()
    scene.close(conversation)
    scene.process(minutes_later=40)
    assert scene.requests()[conversation.id][:2] == ("do_not_send", "the customer unsubscribed")
    assert scene.messages() == []


def control(scene: Scene, method: str, path: str, body: dict | None = None) -> dict:
    """The sandbox's control API (outside Intercom's paths)."""
    response = requests.request(
        method, f"{scene.running.base_url}/_sandbox{path}", json=body, timeout=10
    )
    response.raise_for_status()
    return response.json()


def decisions(scene: Scene) -> dict[str, tuple[str, str | None, str | None]]:
    """Each logged request's (status, reason code, reason), by conversation id."""
    with duckdb.connect(str(scene.warehouse), read_only=True) as conn:
        rows = conn.execute(
            f"select conversation_id, status, reason_code, reason from {log.REQUESTS}"
        ).fetchall()
    return {row[0]: row[1:] for row in rows}


def messages_posted(scene: Scene) -> Counter[str]:
    """POST /messages the sandbox received, by recipient contact (from /_sandbox/stats)."""
    writes = control(scene, "GET", "/stats")["writes"]
    return Counter(w["body"]["to"]["id"] for w in writes if w["path"] == "/messages")


def test_faults_never_make_a_conversation_get_two_surveys(scene: Scene) -> None:
    conversations = [scene.open_conversation("chat") for _ in range(8)]
    for conversation in conversations:
        scene.close(conversation)
    scene.workspaces[0].client.backoff_seconds = 0.001  # GETs are still retried, quickly
    control(scene, "PUT", "/faults", {"error_rate": 0.2, "drop_rate": 0.15, "truncate_rate": 0.2})
    for minutes in (40, 50, 60):  # reruns under faults
        scene.process(minutes_later=minutes)
    control(scene, "PUT", "/faults", {"error_rate": 0, "drop_rate": 0, "truncate_rate": 0})
    scene.process(minutes_later=70)
    requests_by_id = scene.requests()
    statuses = Counter(requests_by_id[c.id][0] for c in conversations)
    posted = messages_posted(scene)
    assert set(statuses) <= {"sent", "unknown"} and sum(statuses.values()) == 8
    assert statuses["sent"] > 0 and statuses["unknown"] > 0  # both outcomes were exercised
    assert max(posted.values()) == 1  # no contact got two surveys
    for conversation in conversations:
        status, _, error, *_ = requests_by_id[conversation.id]
        contact = conversation.contact_ids[0]
        if status == "sent":
            assert posted[contact] == 1 and error is None
        else:
            assert posted[contact] <= 1 and "may have gone out" in error
    # A truncated answer still delivered the message: `unknown`, never sent again.
    assert len(scene.messages()) == sum(posted.values())


def test_a_run_stopped_after_the_post_never_sends_again(
    scene: Scene, monkeypatch: pytest.MonkeyPatch
) -> None:
    conversation = scene.open_conversation("chat")
    scene.close(conversation)
    client = scene.workspaces[0].client
    real = client.request

    def killed_after_posting(method: str, path: str, **kwargs: object) -> object:
        answer = real(method, path, **kwargs)
        if path == "/messages":
            raise KeyboardInterrupt  # the process dies before the log records the send
        return answer

    monkeypatch.setattr(client, "request", killed_after_posting)
    with pytest.raises(KeyboardInterrupt):
        scene.process(minutes_later=40)
    assert scene.requests()[conversation.id][0] == "sending"  # on disk before the POST
    monkeypatch.setattr(client, "request", real)
    rerun = scene.process(minutes_later=50)
    status, _, error, *_ = scene.requests()[conversation.id]
    assert (status, rerun.statuses) == ("unknown", {"unknown": 1})
    assert "the run stopped while sending" in error
    scene.process(minutes_later=60)
    assert messages_posted(scene) == {conversation.contact_ids[0]: 1}


def test_a_refused_token_or_permission_fails_the_run_and_keeps_the_request(
    scene: Scene,
) -> None:
    conversation = scene.open_conversation("chat")
    scene.close(conversation)
    control(scene, "PUT", "/restrictions", {"modules": ["messages"]})
    with pytest.raises(run.SurveysRefused, match=r"refused POST /messages \(403\)"):
        scene.process(minutes_later=40)
    status, _, error, *_ = scene.requests()[conversation.id]
    assert status == "pending" and "403" in error
    control(scene, "PUT", "/restrictions", {"modules": []})
    scene.process(minutes_later=50)
    assert scene.requests()[conversation.id][0] == "sent"
    assert [m.contact_id for m in scene.messages()] == [conversation.contact_ids[0]]


def test_a_bad_webhook_never_blocks_the_others(
    scene: Scene, monkeypatch: pytest.MonkeyPatch
) -> None:
    good = scene.open_conversation("chat")
    never_closed = scene.open_conversation("chat")
    flaky = scene.open_conversation("chat")
    scene.close(good)
    scene.close(flaky)
    workspace_id = scene.workspaces[0].workspace_id
    at = scene.ws.now
    notified = [
        run.Notified(workspace_id, "404404404", at),
        run.Notified("other-app", good.id, at),
        run.Notified(workspace_id, never_closed.id, at),
        run.Notified(workspace_id, flaky.id, at),
        run.Notified(workspace_id, good.id, at),
    ]
    client = scene.workspaces[0].client
    real = client.request

    def flaky_conversation(method: str, path: str, **kwargs: object) -> object:
        if path == f"/conversations/{flaky.id}":
            raise IntercomError(f"GET {path} failed 11 times, last: HTTP 503")
        return real(method, path, **kwargs)

    monkeypatch.setattr(client, "request", flaky_conversation)
    outcome = scene.process(minutes_later=1, webhook_closures=notified)
    assert outcome.retry_notifications == [notified[3]]  # kept in the spool, not lost
    with duckdb.connect(str(scene.warehouse), read_only=True) as conn:
        rows = conn.execute(
            f"select conversation_id, workspace_id, status, reason_code, source from {log.REQUESTS}"
            " order by conversation_id, workspace_id"
        ).fetchall()
    assert sorted(rows) == sorted(
        [
            ("404404404", workspace_id, "do_not_send", "conversation_not_found", "webhook"),
            (good.id, "other-app", "invalid", "unknown_workspace", "webhook"),
            (never_closed.id, workspace_id, "do_not_send", "not_closed", "webhook"),
            (good.id, workspace_id, "pending", "channel_delay", "webhook"),
            (flaky.id, workspace_id, "pending", None, "search"),  # Intercom failed: retried
        ]
    )
    monkeypatch.setattr(client, "request", real)
    scene.process(minutes_later=40, webhook_closures=outcome.retry_notifications)
    requests_by_id = scene.requests()
    assert requests_by_id[flaky.id][0] == "sent"
    assert messages_posted(scene) == {good.contact_ids[0]: 1, flaky.contact_ids[0]: 1}


def add_audience_members(scene: Scene, *members: tuple[str, str, str, str]) -> None:
    """(audience, workspace, contact, status) rows, in the tables the audience sync writes."""
    with duckdb.connect(str(scene.warehouse)) as conn:
        audiences.ensure_tables(conn)
        conn.executemany(
            f"insert into {audiences.MEMBERS}"
            " (audience_id, workspace_id, contact_id, status, first_added_at, updated_at)"
            " values (?, ?, ?, ?, ?, ?)",
            [(*member, scene.now(), scene.now()) for member in members],
        )


def test_only_the_chosen_audience_is_surveyed(scene: Scene) -> None:
    member = scene.open_conversation("chat")
    outsider = scene.open_conversation("chat")
    elsewhere = scene.open_conversation("chat")
    here = scene.workspaces[0].workspace_id
    add_audience_members(
        scene,
        ("vip", here, member.contact_ids[0], "active"),
        ("vip", here, outsider.contact_ids[0], "removed"),
        ("vip", "another-workspace", elsewhere.contact_ids[0], "active"),  # not this one's
    )
    for conversation in (member, outsider, elsewhere):
        scene.close(conversation)
    scene.process(minutes_later=40, settings=replace(scene.settings, audience="vip"))
    requests_by_id = scene.requests()
    assert requests_by_id[member.id][0] == "sent"
    for conversation in (outsider, elsewhere):
        assert requests_by_id[conversation.id][:2] == (
            "do_not_send",
            "the customer is not in the audience vip",
        )
    assert messages_posted(scene) == {member.contact_ids[0]: 1}


def test_a_member_an_audience_marked_unsubscribed_is_never_surveyed(scene: Scene) -> None:
    unsubscribed = scene.open_conversation("chat")
    same_id_elsewhere = scene.open_conversation("chat")
    here = scene.workspaces[0].workspace_id
    add_audience_members(
        scene,
        ("newsletter", here, unsubscribed.contact_ids[0], "unsubscribed"),
        # The same contact id in another workspace is another person.
        ("newsletter", "another-workspace", same_id_elsewhere.contact_ids[0], "unsubscribed"),
    )
    scene.close(unsubscribed)
    scene.close(same_id_elsewhere)
    outcome = scene.process(minutes_later=40)  # no SURVEY_AUDIENCE: every audience counts
    found = decisions(scene)
    assert found[unsubscribed.id] == ("do_not_send", "unsubscribed", "the customer unsubscribed")
    assert found[same_id_elsewhere.id] == ("sent", None, None)
    assert outcome.statuses == {"do_not_send": 1, "sent": 1}
    assert messages_posted(scene) == {same_id_elsewhere.contact_ids[0]: 1}


def test_each_suppression_tag_and_which_rule_wins(scene: Scene) -> None:
    dupe = scene.open_conversation("chat")
    scene.tag(dupe, "dupe")
    opted_out = scene.open_conversation("chat")
    scene.tag(opted_out, "do_not_send_survey")
    both_tags = scene.open_conversation("chat")
    scene.tag(both_tags, "dupe")
    scene.tag(both_tags, "do_not_send_survey")
    bot_and_tagged = scene.open_conversation("chat")
    bot_and_tagged.admin_assignee_id = int(BOT_ID)
    scene.tag(bot_and_tagged, "fraud")
    all_rules = scene.open_conversation("email")  # switched off, Fin's and tagged
    all_rules.admin_assignee_id = int(BOT_ID)
    scene.tag(all_rules, "fraud")
    for conversation in (dupe, opted_out, both_tags, bot_and_tagged, all_rules):
        scene.close(conversation)
    scene.process(minutes_later=61, settings=replace(scene.settings, channels=("chat",)))
    found = decisions(scene)
    assert found[dupe.id] == ("do_not_send", "suppression_tag", "tagged dupe")
    assert found[opted_out.id] == ("do_not_send", "suppression_tag", "tagged do_not_send_survey")
    assert found[both_tags.id] == (
        "do_not_send",
        "suppression_tag",
        "tagged do_not_send_survey, dupe",
    )
    assert found[bot_and_tagged.id][:2] == ("do_not_send", "bot_assignee")  # the bot rule first
    assert found[all_rules.id][:2] == ("do_not_send", "channel_off")  # the channel before all
    assert scene.messages() == []


def test_the_test_sandbox_gets_its_own_token_never_the_workspaces(scene: Scene) -> None:
    from intercom_pipeline.defs.surveys import _test_client

    conversation = scene.open_conversation("chat")
    scene.close(conversation)
    test_config = SandboxConfig(seed=5, scale="tiny", token="test-sandbox-token")
    with RunningSandbox(Sandbox(test_config)) as test_sandbox:
        settings = survey_settings(
            {
                "INTERCOM_ACCESS_TOKEN": DEFAULT_TOKEN,
                "SURVEY_SENDER_ADMIN_ID": scene.settings.sender_admin_id,
                "SURVEY_TEST_SANDBOX_URL": test_sandbox.base_url,
                "SURVEY_TEST_SANDBOX_TOKEN": "test-sandbox-token",
            }
        )
        client = _test_client(settings)
        assert client is not None
        assert client.session.headers["Authorization"] == "Bearer test-sandbox-token"
        scene.process(minutes_later=40, settings=settings, test_client=client)
        received = test_sandbox.sandbox.stats
        assert [w["body"]["to"]["id"] for w in received.writes] == [conversation.contact_ids[0]]
        assert 401 not in received.statuses  # the workspace's token would have been refused
    assert scene.requests()[conversation.id][0] == "test"
    assert messages_posted(scene) == {}  # the workspace itself got nothing
