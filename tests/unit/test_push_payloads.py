"""What the push sends, decided without I/O: attributes per mode, events, stable hashes."""

from __future__ import annotations

from datetime import datetime

import pytest

from intercom_pipeline.activation.push_back.payloads import (
    attribute_item,
    one_per_key,
    response_event_item,
    sent_event_item,
)
from intercom_pipeline.activation.push_back.settings import PushSettings, push_settings
from intercom_pipeline.settings import ConfigurationError

PROFILE = {
    "workspace_id": "w1",
    "contact_id": "c1",
    "last_score": 9,
    "last_comment": "x" * 300,
    "last_category": "promoter",
    "last_metric": "NPS",
}
RESPONSE = {
    "workspace_id": "w1",
    "contact_id": "c1",
    "response_key": "feed:nps.csv:4",
    "metric": "NPS",
    "score": 9,
    "category": "promoter",
    "comment": "great",
    "conversation_id": None,
    "responded_at": datetime(2026, 1, 2, 3, 4, 5),
}


def test_attributes_follow_the_mode_and_names() -> None:
    full = attribute_item(PROFILE, PushSettings())
    assert full.key == "attributes:w1:c1"
    assert full.body["custom_attributes"] == {
        "survey_score": 9,
        "survey_category": "promoter",
        "survey_metric": "NPS",
        "survey_comment": "x" * 255,  # Intercom's limit
    }
    score_only = attribute_item(PROFILE, PushSettings(mode="score_only", score_attribute="nps"))
    assert score_only.body["custom_attributes"] == {
        "nps": 9,
        "survey_category": "promoter",
        "survey_metric": "NPS",
        "survey_comment": None,  # clears a comment sent before the mode changed
    }
    assert full.payload_hash != score_only.payload_hash


def test_hash_changes_only_with_the_values() -> None:
    same = attribute_item(dict(PROFILE), PushSettings())
    assert same.payload_hash == attribute_item(PROFILE, PushSettings()).payload_hash
    moved = attribute_item(
        {**PROFILE, "last_score": 3, "last_category": "detractor"}, PushSettings()
    )
    assert moved.payload_hash != same.payload_hash


def test_events_carry_when_it_happened_and_deterministic_metadata() -> None:
    event = response_event_item(RESPONSE, PushSettings())
    assert event.key == "event:w1:c1:survey-response:1767323045"
    assert event.body == {
        "event_name": "survey-response",
        "created_at": 1767323045,
        "id": "c1",
        "metadata": {
            "survey": "feed:nps.csv:4",
            "metric": "NPS",
            "score": 9,
            "category": "promoter",
            "comment": "great",
        },
    }
    assert (
        "comment"
        not in response_event_item(RESPONSE, PushSettings(mode="score_only")).body["metadata"]
    )
    sent = sent_event_item(
        {
            "workspace_id": "w1",
            "contact_id": "c1",
            "send_key": "feed:nps.csv:4",
            "metric": "NPS",
            "conversation_id": "42",
            "sent_at": datetime(2026, 1, 1),
        },
        PushSettings(sent_event="nps-sent"),
    )
    assert sent.body["event_name"] == "nps-sent"
    assert sent.body["created_at"] == 1767225600
    assert sent.body["metadata"] == {
        "survey": "feed:nps.csv:4",
        "metric": "NPS",
        "conversation_id": "42",
    }


def test_an_event_is_known_by_contact_name_and_time_not_metadata() -> None:
    full = response_event_item(RESPONSE, PushSettings())
    score_only = response_event_item(RESPONSE, PushSettings(mode="score_only"))
    assert full.body["metadata"] != score_only.body["metadata"]
    assert (full.key, full.payload_hash) == (score_only.key, score_only.payload_hash)
    later = response_event_item(
        {**RESPONSE, "responded_at": datetime(2026, 1, 2, 3, 4, 6)}, PushSettings()
    )
    assert later.key != full.key and later.payload_hash != full.payload_hash


def test_two_answers_in_one_second_are_one_event_the_first_kept_and_counted() -> None:
    first = response_event_item(RESPONSE, PushSettings())
    same_second = response_event_item(
        {
            **RESPONSE,
            "response_key": "feed:nps.csv:5",
            "score": 3,
            "responded_at": datetime(2026, 1, 2, 3, 4, 5, 900_000),
        },
        PushSettings(),
    )
    later = response_event_item(
        {**RESPONSE, "responded_at": datetime(2026, 1, 2, 3, 4, 6)}, PushSettings()
    )
    profile = attribute_item(PROFILE, PushSettings())
    kept, merged = one_per_key([profile, first, same_second, later])
    assert kept == [profile, first, later]
    assert kept[1].body["metadata"]["survey"] == "feed:nps.csv:4"
    assert merged == 1
    assert one_per_key([profile, first]) == ([profile, first], 0)


def test_settings_from_the_environment() -> None:
    settings = push_settings(
        {"INTERCOM_PUSH_MODE": "Score_Only", "INTERCOM_PUSH_SCORE_ATTRIBUTE": "nps_score"}
    )
    assert settings.mode == "score_only" and settings.score_attribute == "nps_score"
    assert settings.attribute_types()["survey_comment"] == "string"  # sent empty
    with pytest.raises(ConfigurationError, match=r"INTERCOM_PUSH_MODE='all'.*score_and_comment"):
        push_settings({"INTERCOM_PUSH_MODE": "all"})
    with pytest.raises(ConfigurationError, match="INTERCOM_PUSH_COMMENT_ATTRIBUTE"):
        push_settings({"INTERCOM_PUSH_COMMENT_ATTRIBUTE": "drop table;"})
    with pytest.raises(ConfigurationError, match="INTERCOM_PUSH_WORKERS"):
        push_settings({"INTERCOM_PUSH_WORKERS": "0"})
