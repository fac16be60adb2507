"""What the push sends, as plain data: one item per contact attribute update and per event.

Pure functions, so what is sent is decided (and tested) without any I/O. Each item has a stable
key and a payload hash; the ledger compares hashes to send only what changed. An event is known
by (contact, event name, created_at), as Intercom de-duplicates it: its metadata cannot change in
Intercom, so a new mode or metadata does not send it again.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from intercom_pipeline.activation.push_back.settings import PushSettings

COMMENT_LIMIT = 255  # Intercom truncates longer string attributes and event metadata


@dataclass(frozen=True)
class PushItem:
    """One write to Intercom: an attribute update (PUT /contacts/{id}) or an event (POST /events)."""

    key: str
    kind: str  # "attributes" or "event"
    workspace_id: str
    contact_id: str
    body: dict[str, Any]
    as_of: datetime | None = None  # when the values were given: on a merge, the latest wins

    @property
    def payload_hash(self) -> str:
        hashed = self.body if self.kind == "attributes" else _event_identity(self.body)
        return hashlib.sha256(json.dumps(hashed, sort_keys=True).encode()).hexdigest()[:32]


def one_per_key(items: list[PushItem]) -> tuple[list[PushItem], int]:
    """The items with one per key, the first kept; and how many later ones were folded into it.

    Two events of one contact with one name in the same second are one event for Intercom (it
    de-duplicates on contact, name and created_at): the first is sent, the rest are counted.
    """
    kept: dict[str, PushItem] = {}
    for item in items:
        kept.setdefault(item.key, item)
    return list(kept.values()), len(items) - len(kept)


def _event_identity(body: dict[str, Any]) -> dict[str, Any]:
    return {k: body[k] for k in ("id", "event_name", "created_at")}


def _unix(value: datetime) -> int:
    """A naive UTC timestamp from the warehouse as unix seconds."""
    return int((value - datetime(1970, 1, 1)).total_seconds())


def _text(value: str | None) -> str | None:
    return value[:COMMENT_LIMIT] if value else None


def attribute_item(profile: dict[str, Any], settings: PushSettings) -> PushItem:
    """The latest survey values of one contact (a contact_survey_profile row) as attributes.

    Without comments (score_only) the comment attribute is sent empty, so a comment sent before
    the mode changed does not stay on the contact.
    """
    comment = _text(profile["last_comment"]) if settings.sends_comments else None
    attributes: dict[str, Any] = {
        settings.score_attribute: profile["last_score"],
        settings.category_attribute: profile["last_category"],
        settings.metric_attribute: profile["last_metric"],
        settings.comment_attribute: comment,
    }
    return PushItem(
        key=f"attributes:{profile['workspace_id']}:{profile['contact_id']}",
        kind="attributes",
        workspace_id=profile["workspace_id"],
        contact_id=profile["contact_id"],
        body={"custom_attributes": attributes},
        as_of=profile.get("last_response_at"),
    )


def sent_event_item(send: dict[str, Any], settings: PushSettings) -> PushItem:
    """One survey sent (a survey_sends row) as an event at the time it was sent."""
    metadata = {"survey": send["send_key"], "metric": send["metric"]}
    if send.get("conversation_id"):
        metadata["conversation_id"] = send["conversation_id"]
    return _event(settings.sent_event, send, send["sent_at"], metadata)


def response_event_item(response: dict[str, Any], settings: PushSettings) -> PushItem:
    """One answer (a survey_responses row) as an event at the time it was given."""
    metadata: dict[str, Any] = {
        "survey": response["response_key"],
        "metric": response["metric"],
        "score": response["score"],
        "category": response["category"],
    }
    if settings.sends_comments and response.get("comment"):
        metadata["comment"] = _text(response["comment"])
    if response.get("conversation_id"):
        metadata["conversation_id"] = response["conversation_id"]
    return _event(settings.response_event, response, response["responded_at"], metadata)


def _event(name: str, row: dict[str, Any], at: datetime, metadata: dict[str, Any]) -> PushItem:
    # created_at is when it happened, so a replay carries the same (contact, name, created_at)
    # and Intercom de-duplicates it; the key is that identity.
    created_at = _unix(at)
    return PushItem(
        key=f"event:{row['workspace_id']}:{row['contact_id']}:{name}:{created_at}",
        kind="event",
        workspace_id=row["workspace_id"],
        contact_id=row["contact_id"],
        body={
            "event_name": name,
            "created_at": created_at,
            "id": row["contact_id"],
            "metadata": metadata,
        },
    )
