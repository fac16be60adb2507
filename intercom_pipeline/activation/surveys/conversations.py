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
    tags: frozenset[str]  # lower-case names of the first message's tags (see `facts_from`)
    assignee_id: str | None  # the assignee when it closed
    assignee_is_bot: bool  # that assignee, or whoever closed it, is a bot (Fin, Operator)
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
    """Facts from a conversation object (GET /conversations/{id} or a webhook's item).

    Tags: the first message is the conversation's `source`, which has no tags of its own in the
    API (2.16). Intercom applies a conversation's tags to its first message and lists them on the
    conversation (`tags`), so those are the ones used. A tag applied to a later message only is
    listed on that part (`conversation_parts[].tags`) and does not suppress the survey.
    """
    source = conversation.get("source") or {}
    author = source.get("author") or {}
    if author.get("type") in CONTACT_TYPES:
        contact = {"id": author.get("id"), "type": author.get("type"), "name": author.get("name")}
    else:
        listed = (conversation.get("contacts") or {}).get("contacts") or [{}]
        contact = {"id": listed[0].get("id"), "type": listed[0].get("type"), "name": None}
    assignee_id, closed_by_bot = _at_closure(conversation)
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
        assignee_is_bot=closed_by_bot or (assignee_id is not None and assignee_id not in teammates),
    )


def _at_closure(conversation: dict[str, Any]) -> tuple[str | None, bool]:
    """(the admin assigned when it last closed, whether a bot closed it), from its parts.

    The assignee now is the one at closure unless an assignment came after the close part; then
    it is the last admin assigned before it. Without parts (a webhook's item), the assignee now.
    """
    parts = (conversation.get("conversation_parts") or {}).get("conversation_parts") or []
    closes = [n for n, p in enumerate(parts) if p.get("part_type") == "close"]
    assignee = _admin_id(conversation.get("admin_assignee_id"))
    if not closes:
        return assignee, False
    close = closes[-1]
    if any(_assigned_admin(p) for p in parts[close + 1 :]):
        before = [a for p in parts[:close] if (a := _assigned_admin(p))]
        assignee = before[-1] if before else None
    author = parts[close].get("author") or {}
    return assignee, author.get("type") == "bot" or bool(author.get("from_ai_agent"))


def _assigned_admin(part: dict[str, Any]) -> str | None:
    assigned = part.get("assigned_to") or {}
    return _admin_id(assigned.get("id")) if assigned.get("type") == "admin" else None


def _admin_id(value: object) -> str | None:
    """An admin id as a string; Intercom says 0 (or nothing) for unassigned."""
    return str(value) if value not in (None, 0, "0", "") else None
