"""The suppression rules as a pure function: each rule, the order they apply in, the delay."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from intercom_pipeline.activation.audiences import store as audiences
from intercom_pipeline.activation.surveys import destination, log
from intercom_pipeline.activation.surveys.conversations import (
    Closure,
    ConversationFacts,
    facts_from,
)
from intercom_pipeline.activation.surveys.decide import (
    DO_NOT_SEND,
    SEND,
    WAIT,
    Decision,
    History,
    decide,
)
from intercom_pipeline.activation.surveys.messages import InvalidRequest, build_message
from intercom_pipeline.activation.surveys.settings import SurveySettings, survey_settings
from intercom_pipeline.settings import ConfigurationError, intercom_settings
from intercom_pipeline.sources.intercom import Workspace
from intercom_pipeline.sources.intercom.client import IntercomClient

CLOSED_AT = 1_790_000_000
CLOSED = datetime(2026, 9, 21, 14, 13, 20)  # CLOSED_AT in UTC
CLOSURE = Closure("w", "c1", CLOSED_AT, "search")
FACTS = ConversationFacts(
    conversation_id="c1",
    state="closed",
    last_close_at=CLOSED_AT,
    contact_id="u1",
    contact_type="user",
    contact_name="Ada",
    channel="email",
    tags=frozenset(),
    assignee_id="7",
    assignee_is_bot=False,
)
FRESH = History(conversation_surveyed=False, contact_last_surveyed_at=None)
SETTINGS = SurveySettings(sender_admin_id="7")


def at(minutes: float) -> datetime:
    return CLOSED + timedelta(minutes=minutes)


@pytest.mark.parametrize(
    ("facts", "history", "expected"),
    [
        (FACTS, FRESH, Decision(SEND)),
        (
            replace(FACTS, assignee_is_bot=True),
            FRESH,
            Decision(DO_NOT_SEND, "bot_assignee", "the assignee at closure is a bot"),
        ),
        (
            replace(FACTS, tags=frozenset({"dupe", "vip"})),
            FRESH,
            Decision(DO_NOT_SEND, "suppression_tag", "tagged dupe"),
        ),
        (
            FACTS,
            History(True, None),
            Decision(DO_NOT_SEND, "already_surveyed", "the conversation was already surveyed"),
        ),
        (
            FACTS,
            History(False, at(61) - timedelta(days=29)),
            Decision(
                DO_NOT_SEND,
                "recently_surveyed",
                "the customer was surveyed on 2026-08-23 (suppression period 30 days)",
            ),
        ),
        (FACTS, History(False, at(61) - timedelta(days=31)), Decision(SEND)),
        (
            replace(FACTS, state="open"),
            FRESH,
            Decision(DO_NOT_SEND, "reopened", "reopened after it was closed"),
        ),
        (
            replace(FACTS, last_close_at=CLOSED_AT + 600),
            FRESH,
            Decision(DO_NOT_SEND, "reopened", "reopened after it was closed"),
        ),
        (
            replace(FACTS, contact_id=None),
            FRESH,
            Decision(DO_NOT_SEND, "no_contact", "no customer in the conversation"),
        ),
        (
            replace(FACTS, contact_unsubscribed=True),
            FRESH,
            Decision(DO_NOT_SEND, "unsubscribed", "the customer unsubscribed"),
        ),
        (
            FACTS,
            History(False, None, contact_unsubscribed_in_audience=True),
            Decision(DO_NOT_SEND, "unsubscribed", "the customer unsubscribed"),
        ),
        (
            FACTS,
            History(False, None, in_audience=False),
            Decision(DO_NOT_SEND, "not_in_audience", "the customer is not in the audience "),
        ),
        (FACTS, History(False, None, in_audience=True), Decision(SEND)),
    ],
)
def test_each_rule(facts: ConversationFacts, history: History, expected: Decision) -> None:
    assert decide(CLOSURE, facts, history, SETTINGS, at(61)) == expected


def test_the_channel_delay_and_a_switched_off_channel() -> None:
    assert decide(CLOSURE, FACTS, FRESH, SETTINGS, at(59)) == Decision(
        WAIT, "channel_delay", "channel delay until 2026-09-21 15:13 UTC"
    )
    chat = replace(FACTS, channel="chat")
    assert decide(CLOSURE, chat, FRESH, SETTINGS, at(31)).status == SEND
    only_email = replace(SETTINGS, channels=("email",))
    assert decide(CLOSURE, chat, FRESH, only_email, at(31)) == Decision(
        DO_NOT_SEND, "channel_off", "channel chat is switched off"
    )


def test_bot_and_tag_rules_apply_before_the_delay() -> None:
    tagged = replace(FACTS, tags=frozenset({"fraud"}), assignee_is_bot=True)
    assert (
        decide(CLOSURE, tagged, FRESH, SETTINGS, at(1)).reason == "the assignee at closure is a bot"
    )


def test_facts_from_a_conversation_object() -> None:
    facts = facts_from(
        {
            "id": 42,
            "state": "closed",
            "admin_assignee_id": 9900001,
            "source": {
                "type": "conversation",
                "author": {"type": "lead", "id": "l1", "name": "Bo"},
            },
            "tags": {"tags": [{"name": "Do_Not_Send_Survey"}]},
            "statistics": {"last_close_at": CLOSED_AT},
        },
        teammates=frozenset({"7"}),
    )
    assert facts == ConversationFacts(
        "42",
        "closed",
        CLOSED_AT,
        "l1",
        "lead",
        "Bo",
        "chat",
        frozenset({"do_not_send_survey"}),
        "9900001",
        True,
    )


def test_the_message_follows_the_channel_and_template() -> None:
    email = build_message(FACTS, SETTINGS)
    assert email["message_type"] == "email" and email["subject"] == "How did we do?"
    assert email["from"] == {"type": "admin", "id": "7"} and email["to"] == {
        "type": "user",
        "id": "u1",
    }
    assert "conversation=c1&amp;contact=u1" in email["body"] and "Hi Ada" in email["body"]
    chat = build_message(replace(FACTS, channel="chat"), SETTINGS)
    assert chat["message_type"] == "in_app" and "subject" not in chat
    with pytest.raises(InvalidRequest, match="SURVEY_SENDER_ADMIN_ID"):
        build_message(FACTS, replace(SETTINGS, sender_admin_id=""))
    with pytest.raises(InvalidRequest, match="placeholder"):
        build_message(FACTS, replace(SETTINGS, message="{oops}"))


def test_settings_are_validated() -> None:
    assert survey_settings({}).mode == "test"  # nothing reaches a customer until switched
    custom = survey_settings(
        {
            "SURVEY_CHANNELS": "Chat",
            "SURVEY_CHAT_DELAY_MINUTES": "5",
            "SURVEY_SUPPRESS_TAGS": "Spam, vip",
        }
    )
    assert custom.channels == ("chat",) and custom.delay_minutes["chat"] == 5
    assert custom.suppress_tags == ("spam", "vip")
    with pytest.raises(ConfigurationError, match="SURVEY_MODE"):
        survey_settings({"SURVEY_MODE": "live"})
    with pytest.raises(ConfigurationError, match="SURVEY_CHANNELS"):
        survey_settings({"SURVEY_CHANNELS": "sms"})
    with pytest.raises(ConfigurationError, match="SURVEY_URL"):
        survey_settings({"SURVEY_URL": "https://x.example/survey"})


def test_customer_values_are_escaped_in_the_body_and_quoted_in_the_link() -> None:
    hostile = replace(
        FACTS,
        contact_name='<img src=x onerror="steal()">Eve & co',
        contact_id='u"1&x=<b>',
    )
    body = build_message(hostile, SETTINGS)["body"]
    assert "Hi &lt;img src=x onerror=&quot;steal()&quot;&gt;Eve &amp; co," in body
    assert "<img" not in body and 'onerror="' not in body
    assert (
        'href="https://surveys.example.com/csat?conversation=c1&amp;contact=u%221%26x%3D%3Cb%3E"'
        in (body)
    )


def _conversation(parts: list[dict], assignee: int = 7) -> dict:
    """A closed chat conversation with `parts`, led by a customer."""
    return {
        "id": "c1",
        "state": "closed",
        "admin_assignee_id": assignee,
        "source": {"type": "conversation", "author": {"type": "user", "id": "u1"}},
        "tags": {"tags": [{"name": "VIP"}]},
        "statistics": {"last_close_at": CLOSED_AT},
        "conversation_parts": {"conversation_parts": parts},
    }


def _part(part_type: str, author: str, author_id: str, **extra: object) -> dict:
    return {"part_type": part_type, "author": {"type": author, "id": author_id}, **extra}


def test_tags_are_the_first_messages_not_a_later_parts() -> None:
    later = _part("comment", "admin", "7", tags=[{"type": "tag", "id": "1", "name": "fraud"}])
    facts = facts_from(_conversation([later, _part("close", "admin", "7")]), frozenset({"7"}))
    assert facts.tags == frozenset({"vip"})  # the conversation's (first message's) tags only
    assert decide(CLOSURE, replace(facts, channel="email"), FRESH, SETTINGS, at(61)).status == SEND


def test_the_bot_check_uses_who_held_and_closed_it_at_closure() -> None:
    teammates = frozenset({"7", "8"})
    to_teammate = _part("assignment", "admin", "7", assigned_to={"type": "admin", "id": "7"})
    to_fin = _part("assignment", "bot", "9900001", assigned_to={"type": "admin", "id": "9900001"})
    closed_by_teammate = _part("close", "admin", "7")
    # Handed to Fin after a teammate closed it: the assignee at closure was the teammate.
    after = facts_from(
        _conversation([to_teammate, closed_by_teammate, to_fin], assignee=9900001), teammates
    )
    assert (after.assignee_id, after.assignee_is_bot) == ("7", False)
    # Held by Fin when it closed (its assignee now, no assignment since).
    held = facts_from(_conversation([to_fin, _part("close", "bot", "9900001")], 9900001), teammates)
    assert (held.assignee_id, held.assignee_is_bot) == ("9900001", True)
    # Fin closed it while a teammate was assigned: a bot closure.
    fin = _part("close", "bot", "9900001")
    by_fin = facts_from(_conversation([to_teammate, fin], assignee=7), teammates)
    assert (by_fin.assignee_id, by_fin.assignee_is_bot) == ("7", True)
    ai = {"part_type": "close", "author": {"type": "admin", "id": "8", "from_ai_agent": True}}
    assert facts_from(_conversation([ai], assignee=8), teammates).assignee_is_bot is True
    assert facts_from(_conversation([closed_by_teammate]), teammates).assignee_is_bot is False


def test_the_test_sandbox_needs_its_own_token() -> None:
    url = {"SURVEY_TEST_SANDBOX_URL": "http://127.0.0.1:9/"}
    with pytest.raises(ConfigurationError, match="SURVEY_TEST_SANDBOX_TOKEN is not"):
        survey_settings({**url, "INTERCOM_ACCESS_TOKEN": "prod-token"})
    with pytest.raises(ConfigurationError, match="a workspace's access token") as refused:
        survey_settings(
            {**url, "INTERCOM_ACME_ACCESS_TOKEN": "acme", "SURVEY_TEST_SANDBOX_TOKEN": "acme"}
        )
    assert "acme" not in str(refused.value).replace("access token", "")
    own = survey_settings(
        {**url, "INTERCOM_ACCESS_TOKEN": "prod-token", "SURVEY_TEST_SANDBOX_TOKEN": "sbx"}
    )
    assert own.test_sandbox_url == "http://127.0.0.1:9" and own.test_sandbox_token.reveal() == "sbx"
    assert "sbx" not in repr(own)


def test_an_unknown_survey_audience_is_a_configuration_error(tmp_path: Path) -> None:
    audiences = tmp_path / "audiences.yaml"
    audiences.write_text("audiences:\n  - {id: vip, type: users}\n")
    env = {"AUDIENCES_FILE": str(audiences)}
    assert survey_settings({**env, "SURVEY_AUDIENCE": "vip"}).audience == "vip"
    with pytest.raises(ConfigurationError, match=r"SURVEY_AUDIENCE='vips' is not an audience.*vip"):
        survey_settings({**env, "SURVEY_AUDIENCE": "vips"})


def test_the_log_answers_per_workspace(tmp_path: Path) -> None:
    """Conversation and contact ids are per workspace: another's survey suppresses nothing."""
    with duckdb.connect(str(tmp_path / "w.duckdb")) as conn:
        log.ensure_tables(conn)
        surveyed = Closure("ws_a", "c1", CLOSED_AT, "search")
        log.add_pending(conn, [surveyed], mode="test", metric="CSAT", now=at(0))
        log.settle(conn, surveyed, status="test", contact_id="u1", channel="chat", now=at(61))
        audiences.ensure_tables(conn)
        conn.execute(
            f"insert into {audiences.MEMBERS} (audience_id, workspace_id, contact_id, status,"
            " first_added_at, updated_at) values"
            " ('vip', 'ws_a', 'u1', 'active', ?, ?), ('news', 'ws_a', 'u1', 'unsubscribed', ?, ?)",
            [at(0)] * 4,
        )

        assert log.conversation_surveyed(conn, "ws_a", "c1", "test") is True
        assert log.conversation_surveyed(conn, "ws_b", "c1", "test") is False
        assert log.conversation_surveyed(conn, "ws_a", "c1", "production") is False
        assert log.contact_last_surveyed(conn, "ws_a", "u1", "test") == at(61)
        assert log.contact_last_surveyed(conn, "ws_b", "u1", "test") is None
        assert log.audience_facts(conn, "ws_a", "u1", "vip") == (True, True)
        assert log.audience_facts(conn, "ws_b", "u1", "vip") == (False, False)
        assert log.audience_facts(conn, "ws_b", "u1", "") == (False, None)


def test_a_member_an_audience_keeps_while_unsubscribed_is_not_surveyed(tmp_path: Path) -> None:
    """With on_unsubscribed: keep the status stays active; the flag alone suppresses."""
    with duckdb.connect(str(tmp_path / "w.duckdb")) as conn:
        audiences.ensure_tables(conn)
        conn.execute(
            f"insert into {audiences.MEMBERS} (audience_id, workspace_id, contact_id, status,"
            " first_added_at, updated_at, is_unsubscribed) values"
            " ('vip', 'ws_a', 'u1', 'active', ?, ?, true),"
            " ('vip', 'ws_a', 'u2', 'active', ?, ?, false)",
            [at(0)] * 4,
        )
        assert log.audience_facts(conn, "ws_a", "u1", "vip") == (True, True)
        assert log.audience_facts(conn, "ws_a", "u2", "vip") == (False, True)


def _workspace(base_url: str) -> Workspace:
    client = IntercomClient(
        intercom_settings({"INTERCOM_BASE_URL": base_url, "INTERCOM_ACCESS_TOKEN": "t"})
    )
    workspace = Workspace(client)
    workspace.app_id = base_url.rsplit("/", 1)[-1]  # no GET /me
    return workspace


def test_test_mode_sends_only_to_a_known_sandbox(monkeypatch: pytest.MonkeyPatch) -> None:
    probed: list[str] = []

    def probe(base_url: str) -> bool:
        probed.append(base_url)
        return base_url.endswith("/sandbox")

    monkeypatch.setattr(destination, "is_project_sandbox", probe)
    sandbox, proxy = _workspace("http://127.0.0.1:9/sandbox"), _workspace("http://egress/proxy")
    test_mode = destination.Destinations(SETTINGS, test_client=None)
    assert test_mode.client_for(sandbox) is sandbox.client
    assert test_mode.client_for(proxy) is None  # not positively the sandbox: sent nowhere
    assert test_mode.client_for(proxy) is None
    assert probed == ["http://127.0.0.1:9/sandbox", "http://egress/proxy"]  # once each
    test_sandbox = IntercomClient(
        intercom_settings({"INTERCOM_BASE_URL": "http://test-sbx", "INTERCOM_ACCESS_TOKEN": "s"})
    )
    with_test_sandbox = destination.Destinations(SETTINGS, test_client=test_sandbox)
    assert with_test_sandbox.client_for(proxy) is test_sandbox
    production = destination.Destinations(replace(SETTINGS, mode="production"), None)
    assert production.client_for(proxy) is proxy.client
    assert len(probed) == 2  # neither asked the workspace


def test_the_sandbox_probe_answers_no_when_in_doubt() -> None:
    assert destination.is_project_sandbox("http://127.0.0.1:9") is False  # nothing listens
