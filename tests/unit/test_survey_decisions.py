"""The suppression rules as a pure function: each rule, the order they apply in, the delay."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

import pytest

from intercom_pipeline.settings import ConfigurationError
from intercom_pipeline.surveys.conversations import Closure, ConversationFacts, facts_from
from intercom_pipeline.surveys.decide import DO_NOT_SEND, SEND, WAIT, Decision, History, decide
from intercom_pipeline.surveys.messages import InvalidRequest, build_message
from intercom_pipeline.surveys.settings import SurveySettings, survey_settings

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
            Decision(DO_NOT_SEND, "the assignee at closure is a bot"),
        ),
        (
            replace(FACTS, tags=frozenset({"dupe", "vip"})),
            FRESH,
            Decision(DO_NOT_SEND, "tagged dupe"),
        ),
        (
            FACTS,
            History(True, None),
            Decision(DO_NOT_SEND, "the conversation was already surveyed"),
        ),
        (
            FACTS,
            History(False, at(61) - timedelta(days=29)),
            Decision(
                DO_NOT_SEND, "the customer was surveyed on 2026-08-23 (suppression period 30 days)"
            ),
        ),
        (FACTS, History(False, at(61) - timedelta(days=31)), Decision(SEND)),
        (
            replace(FACTS, state="open"),
            FRESH,
            Decision(DO_NOT_SEND, "reopened after it was closed"),
        ),
        (
            replace(FACTS, last_close_at=CLOSED_AT + 600),
            FRESH,
            Decision(DO_NOT_SEND, "reopened after it was closed"),
        ),
        (
            replace(FACTS, contact_id=None),
            FRESH,
            Decision(DO_NOT_SEND, "no customer in the conversation"),
        ),
        (
            replace(FACTS, contact_unsubscribed=True),
            FRESH,
            Decision(DO_NOT_SEND, "the customer unsubscribed"),
        ),
        (
            FACTS,
            History(False, None, contact_unsubscribed_in_audience=True),
            Decision(DO_NOT_SEND, "the customer unsubscribed"),
        ),
        (
            FACTS,
            History(False, None, in_audience=False),
            Decision(DO_NOT_SEND, "the customer is not in the audience "),
        ),
        (FACTS, History(False, None, in_audience=True), Decision(SEND)),
    ],
)
def test_each_rule(facts: ConversationFacts, history: History, expected: Decision) -> None:
    assert decide(CLOSURE, facts, history, SETTINGS, at(61)) == expected


def test_the_channel_delay_and_a_switched_off_channel() -> None:
    assert decide(CLOSURE, FACTS, FRESH, SETTINGS, at(59)) == Decision(
        WAIT, "channel delay until 2026-09-21 15:13 UTC"
    )
    chat = replace(FACTS, channel="chat")
    assert decide(CLOSURE, chat, FRESH, SETTINGS, at(31)).status == SEND
    only_email = replace(SETTINGS, channels=("email",))
    assert decide(CLOSURE, chat, FRESH, only_email, at(31)) == Decision(
        DO_NOT_SEND, "channel chat is switched off"
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
    assert "conversation=c1&contact=u1" in email["body"] and "Hi Ada" in email["body"]
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
