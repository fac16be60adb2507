"""What Intercom says about closed conversations.

The closures to consider, and each one's facts at the moment of deciding: fresh from the API,
not from the warehouse, which may be an hour old.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

from intercom_pipeline.sources.intercom.client import IntercomClient

CONTACT_TYPES = ("user", "lead", "contact")


@dataclass(frozen=True)
class Closure:
    """A conversation seen closed, by the sensor's search or a webhook."""

    workspace_id: str
    conversation_id: str
    closed_at: int  # unix seconds
    source: str  # "search" or "webhook"


@dataclass(frozen=True)
class ConversationFacts:
    conversation_id: str
    state: str
    last_close_at: int | None
    contact_id: str | None
    contact_type: str | None
    contact_name: str | None
    channel: str  # where it began: "email" or "chat" (Intercom's "conversation")
    tags: frozenset[str]  # lower-case tag names
    assignee_id: str | None
    assignee_is_bot: bool
    contact_unsubscribed: bool = False  # from emails, on the contact in Intercom


def recent_closures(client: IntercomClient, workspace_id: str, since: int) -> Iterator[Closure]:
    """Conversations closed and updated after `since` (unix seconds), by search."""
    query = {
        "operator": "AND",
        "value": [
            {"field": "state", "operator": "=", "value": "closed"},
            {"field": "updated_at", "operator": ">", "value": since},
        ],
    }
    for conversation in client.search("/conversations/search", query, "conversations"):
        closed_at = (conversation.get("statistics") or {}).get("last_close_at")
        yield Closure(
            workspace_id,
            str(conversation["id"]),
            int(closed_at or conversation["updated_at"]),
            "search",
        )


def teammate_ids(client: IntercomClient) -> frozenset[str]:
    """Ids of the workspace's teammates; an assignee that is not one is a bot (Fin, Operator)."""
    return frozenset(str(a["id"]) for a in client.request("GET", "/admins")["admins"])


def conversation_facts(
    client: IntercomClient, conversation_id: str, teammates: frozenset[str]
) -> ConversationFacts:
    """The conversation as Intercom has it now."""
    conversation = client.request("GET", f"/conversations/{conversation_id}")
    facts = facts_from(conversation, teammates)
    if facts.contact_id is None:
        return facts
    contact = client.request("GET", f"/contacts/{facts.contact_id}")
    return replace(facts, contact_unsubscribed=bool(contact.get("unsubscribed_from_emails")))


def facts_from(conversation: dict[str, Any], teammates: frozenset[str]) -> ConversationFacts:
    """Facts from a conversation object (GET /conversations/{id} or a webhook's item)."""
    source = conversation.get("source") or {}
    author = source.get("author") or {}
    if author.get("type") in CONTACT_TYPES:
        contact = {"id": author.get("id"), "type": author.get("type"), "name": author.get("name")}
    else:
        listed = (conversation.get("contacts") or {}).get("contacts") or [{}]
        contact = {"id": listed[0].get("id"), "type": listed[0].get("type"), "name": None}
    assignee = conversation.get("admin_assignee_id")
    assignee_id = str(assignee) if assignee not in (None, 0, "0", "") else None
    initial = (conversation.get("channel") or {}).get("initial") or source.get("type") or ""
    tags = (conversation.get("tags") or {}).get("tags") or []
    return ConversationFacts(
        conversation_id=str(conversation["id"]),
        state=str(conversation.get("state")),
        last_close_at=(conversation.get("statistics") or {}).get("last_close_at"),
        contact_id=contact["id"],
        contact_type="user" if contact["type"] == "contact" else contact["type"],
        contact_name=contact["name"],
        channel="chat" if initial == "conversation" else initial,
        tags=frozenset(str(t.get("name", "")).lower() for t in tags),
        assignee_id=assignee_id,
        assignee_is_bot=assignee_id is not None and assignee_id not in teammates,
    )
