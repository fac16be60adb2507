"""The sandbox workspace: every object, indexed by id, with a clock and the changes made to it.

All access goes through one lock (`Workspace.lock`) held by the HTTP layer for the duration of a
request's data work, never while it sleeps for simulated latency.
"""

from __future__ import annotations

import bisect
import threading
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from intercom_sandbox.model import (
    Admin,
    Article,
    Collection,
    Company,
    Contact,
    ContentSource,
    Conversation,
    DataAttribute,
    DeletedConversation,
    Event,
    HelpCenter,
    Message,
    Segment,
    Tag,
    Team,
    Ticket,
    TicketState,
    TicketType,
)

DAY = 86_400
CONVERSATION_ID_BASE = 215_000_000_000
CONVERSATION_ID_STEP = 13


def conversation_id(number: int) -> str:
    """The id of the workspace's `number`th conversation (from 0): ids grow with creation time."""
    return str(CONVERSATION_ID_BASE + number * CONVERSATION_ID_STEP)


@dataclass
class Workspace:
    app_id: str
    seed: int
    now: int
    admins: list[Admin]
    bot_ids: list[str]
    teams: list[Team]
    tags: list[Tag]
    segments: list[Segment]
    data_attributes: list[DataAttribute]
    help_centers: list[HelpCenter]
    collections: list[Collection]
    articles: list[Article]
    companies: list[Company]
    contacts: list[Contact]
    conversations: list[Conversation]
    ticket_types: list[TicketType]
    ticket_states: list[TicketState]
    tickets: list[Ticket]
    events: dict[str, list[Event]] = field(default_factory=lambda: defaultdict(list))
    messages: list[Message] = field(default_factory=list)
    next_part_id: int = 0
    # Conversations ever created, deleted ones included: numbers the next conversation's id.
    conversation_count: int = 0
    # Oldest deletion first (`DeletedConversation.order`).
    deleted_conversations: list[DeletedConversation] = field(default_factory=list)
    # Admin activity logs, oldest first; their ids count up from "1" (generate_extras.py).
    activity_logs: list[dict[str, Any]] = field(default_factory=list)
    # What the AI agent may answer from (articles, snippets, files, external pages).
    ai_sources: list[ContentSource] = field(default_factory=list)
    utc_offset_seconds: int = 0
    lock: threading.RLock = field(default_factory=threading.RLock, repr=False)
    # Bumped on every change so cached search results are recomputed.
    version: int = 0

    def __post_init__(self) -> None:
        self.reindex()
        self._event_keys = {
            (e.contact_id, e.event_name, e.created_at)
            for events in self.events.values()
            for e in events
        }

    def reindex(self) -> None:
        """Build the id lookups; cheap enough to redo after bulk changes."""
        self.admin_by_id = {a.id: a for a in self.admins}
        self.team_by_id = {t.id: t for t in self.teams}
        self.tag_by_id = {t.id: t for t in self.tags}
        self.company_by_id = {c.id: c for c in self.companies}
        self.company_by_company_id = {c.company_id: c for c in self.companies}
        self.contact_by_id = {c.id: c for c in self.contacts}
        self.conversation_by_id = {c.id: c for c in self.conversations}
        self.ticket_by_id = {t.id: t for t in self.tickets}
        self.ticket_type_by_id = {t.id: t for t in self.ticket_types}
        self.ticket_state_by_id = {s.id: s for s in self.ticket_states}

    def changed(self) -> None:
        self.version += 1

    # --- reading -------------------------------------------------------------------------

    def visible_contacts(self) -> list[Contact]:
        return [c for c in self.contacts if c.visible]

    def visible_companies(self) -> list[Company]:
        return [c for c in self.companies if c.deleted_at is None]

    def tag_named(self, name: str) -> Tag | None:
        return next((t for t in self.tags if t.name == name), None)

    def contact_attribute(self, name: str) -> DataAttribute | None:
        """The contact data attribute with this name (custom or built-in), if any."""
        return next(
            (a for a in self.data_attributes if a.model == "contact" and a.name == name), None
        )

    def segment_members(self, segment: Segment) -> list[Contact]:
        return [c for c in self.contacts if c.visible and self.in_segment(c, segment)]

    def in_segment(self, contact: Contact, segment: Segment) -> bool:
        """Segment membership, by the segment's named rule."""
        rule = segment.rule
        attrs = contact.custom_attributes
        if rule == "active_users":
            return contact.role == "user" and (contact.last_seen_at or 0) >= self.now - 30 * DAY
        if rule == "new_leads":
            return contact.role == "lead" and contact.created_at >= self.now - 30 * DAY
        if rule == "enterprise":
            return attrs.get("plan") == "Enterprise"
        if rule == "free_trial":
            return attrs.get("subscription_status") == "Free Trial"
        if rule == "unsubscribed":
            return contact.unsubscribed_from_emails
        if rule == "usa":
            return contact.country == "United States"
        if rule.startswith("tag:"):
            tag = self.tag_named(rule[4:])
            return tag is not None and any(t.tag_id == tag.id for t in contact.tags)
        raise ValueError(f"unknown segment rule {rule!r}")

    def contact_segments(self, contact: Contact) -> list[Segment]:
        return [s for s in self.segments if self.in_segment(contact, s)]

    def contacts_of_company(self, company: Company) -> list[Contact]:
        return [c for c in self.contacts if c.visible and company.id in c.company_ids]

    def events_of(self, contact_id: str) -> list[Event]:
        return self.events.get(contact_id, [])

    # --- writing -------------------------------------------------------------------------

    def allocate_part_id(self) -> int:
        self.next_part_id += 1
        return self.next_part_id

    def add_event(self, event: Event) -> bool:
        """Store an event unless one with the same contact, name and created_at exists."""
        key = (event.contact_id, event.event_name, event.created_at)
        if key in self._event_keys:
            return False
        self._event_keys.add(key)
        self.events[event.contact_id].append(event)
        self.changed()
        return True

    def add_contact(self, contact: Contact) -> None:
        self.contacts.append(contact)
        self.contact_by_id[contact.id] = contact
        self.changed()

    def allocate_conversation_id(self) -> str:
        """An id above every conversation's so far, deleted ones included."""
        self.conversation_count += 1
        return conversation_id(self.conversation_count - 1)

    def add_conversation(self, conversation: Conversation) -> None:
        self.conversations.append(conversation)
        self.conversation_by_id[conversation.id] = conversation
        self.changed()

    def delete_conversations(self, deleted: list[DeletedConversation]) -> None:
        """Drop the conversations from every list and lookup; keep what the deleted list shows."""
        gone = {d.id for d in deleted}
        self.conversations = [c for c in self.conversations if c.id not in gone]
        for record in deleted:
            del self.conversation_by_id[record.id]
            bisect.insort(self.deleted_conversations, record, key=lambda d: d.order)
        self.changed()

    def add_tag(self, tag: Tag) -> None:
        self.tags.append(tag)
        self.tag_by_id[tag.id] = tag
        self.changed()

    def recount_company_users(self) -> None:
        counts: dict[str, int] = defaultdict(int)
        for contact in self.contacts:
            if contact.visible:
                for company_id in contact.company_ids:
                    counts[company_id] += 1
        for company in self.companies:
            company.user_count = counts.get(company.id, 0)

    def resolve_merged(self, contact: Contact) -> Contact:
        """Follow merge links (at most 3 hops, as Intercom's Link header does)."""
        hops = 0
        while contact.merged_into and hops < 3:
            contact = self.contact_by_id[contact.merged_into]
            hops += 1
        return contact

    def ticket_state(self, state_id: str) -> TicketState:
        return self.ticket_state_by_id[state_id]

    def summary(self) -> dict[str, Any]:
        """Counts of what the workspace holds (for the CLI and the control API)."""
        return {
            "app_id": self.app_id,
            "seed": self.seed,
            "now": self.now,
            "admins": len(self.admins),
            "teams": len(self.teams),
            "tags": len(self.tags),
            "segments": len(self.segments),
            "data_attributes": len(self.data_attributes),
            "help_centers": len(self.help_centers),
            "collections": len(self.collections),
            "articles": len(self.articles),
            "companies": len(self.visible_companies()),
            "contacts": len(self.visible_contacts()),
            "conversations": len(self.conversations),
            "conversation_parts": sum(len(c.parts) for c in self.conversations),
            "deleted_conversations": len(self.deleted_conversations),
            "tickets": len(self.tickets),
            "events": sum(len(v) for v in self.events.values()),
            "messages": len(self.messages),
            "activity_logs": len(self.activity_logs),
        }
