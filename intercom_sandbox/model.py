"""The objects an Intercom workspace holds, kept compact so the bench scale fits in memory.

Each class stores only what the API can show; `render.py` turns them into Intercom's JSON shapes.
Conversation statistics are derived from the parts, never stored twice, so they cannot disagree.
"""

from __future__ import annotations

import statistics as stats
from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True)
class Admin:
    id: str
    name: str
    email: str
    job_title: str
    team_ids: list[int]
    away_mode_enabled: bool = False
    has_inbox_seat: bool = True


@dataclass(slots=True)
class Team:
    id: str
    name: str
    admin_ids: list[int]
    distribution_method: str = "round_robin"
    assignment_limit: int | None = None


@dataclass(slots=True)
class Tag:
    id: str
    name: str


@dataclass(slots=True)
class AppliedTag:
    """A tag on a contact, company or conversation, with who applied it and when."""

    tag_id: str
    applied_at: int
    admin_id: str


@dataclass(slots=True)
class Segment:
    id: str
    name: str
    person_type: str  # "user" or "contact" (leads and users)
    created_at: int
    updated_at: int
    rule: str  # name of a membership rule in segments.py


@dataclass(slots=True)
class DataAttribute:
    model: str
    name: str
    full_name: str
    label: str
    description: str
    data_type: str
    custom: bool
    created_at: int
    updated_at: int
    id: int | None = None
    options: list[str] = field(default_factory=list)
    archived: bool = False
    api_writable: bool = True
    messenger_writable: bool = False
    admin_id: str | None = None


@dataclass(slots=True)
class HelpCenter:
    id: str
    identifier: str
    display_name: str
    created_at: int
    updated_at: int
    default: bool


@dataclass(slots=True)
class Collection:
    id: str
    name: str
    description: str
    help_center_id: int
    parent_id: str | None
    order: int
    created_at: int
    updated_at: int


@dataclass(slots=True)
class Article:
    id: str
    title: str
    description: str
    body: str
    author_id: int
    state: str
    parent_ids: list[int]
    created_at: int
    updated_at: int


@dataclass(slots=True)
class Company:
    id: str
    company_id: str
    name: str
    plan: str
    created_at: int
    updated_at: int
    remote_created_at: int
    last_request_at: int
    size: int
    website: str
    industry: str
    monthly_spend: int
    session_count: int
    custom_attributes: dict[str, Any]
    tags: list[AppliedTag] = field(default_factory=list)
    user_count: int = 0
    deleted_at: int | None = None


@dataclass(slots=True)
class Contact:
    id: str
    role: str
    email: str
    name: str | None
    created_at: int
    updated_at: int
    external_id: str | None = None
    phone: str | None = None
    owner_id: str | None = None
    signed_up_at: int | None = None
    last_seen_at: int | None = None
    last_replied_at: int | None = None
    last_contacted_at: int | None = None
    last_email_opened_at: int | None = None
    last_email_clicked_at: int | None = None
    unsubscribed_from_emails: bool = False
    has_hard_bounced: bool = False
    marked_email_as_spam: bool = False
    country: str | None = None
    region: str | None = None
    city: str | None = None
    browser: str | None = None
    os: str | None = None
    browser_language: str | None = None
    language_override: str | None = None
    custom_attributes: dict[str, Any] = field(default_factory=dict)
    tags: list[AppliedTag] = field(default_factory=list)
    company_ids: list[str] = field(default_factory=list)
    notes_count: int = 0
    deleted_at: int | None = None
    merged_into: str | None = None  # canonical contact id after a merge (GET gives 410)

    @property
    def visible(self) -> bool:
        """Whether list and search endpoints still return this contact."""
        return self.deleted_at is None and self.merged_into is None


@dataclass(slots=True)
class Part:
    """One conversation part. `state` is the conversation's state once this part happened."""

    id: int
    part_type: str
    created_at: int
    author_type: str  # user, lead, admin, bot
    author_id: str
    state: str
    body: str | None = None
    assigned_to: tuple[str, str] | None = None  # ("admin" | "team", id)
    attachment: tuple[str, str, int] | None = None  # (name, content_type, filesize)
    tag_ids: tuple[str, ...] = ()
    ai_answer: bool = False  # an answer the AI agent generated (the API's author.is_ai_answer)


# Part types that count as a message written by somebody (not an event such as a close).
MESSAGE_PARTS = frozenset({"comment", "note", "quick_reply"})


@dataclass(slots=True)
class Rating:
    rating: int
    remark: str | None
    created_at: int
    contact_id: str
    admin_id: str


@dataclass(slots=True, frozen=True)
class ContentSource:
    """A source the AI agent answered from, as the API shows it in `ai_agent.content_sources`."""

    content_type: str  # file, article, external_content, content_snippet, workflow_connector_action
    url: str
    title: str
    locale: str = "en"


@dataclass(slots=True)
class AiAgent:
    """The AI agent's part in a conversation (the API's `ai_agent` object).

    `resolution_state` follows the parts (see `generator._Script.ai_agent`): None until an answer
    was delivered.
    """

    source_type: str  # essentials_plan_setup, profile, workflow, workflow_preview, fin_preview
    source_title: str | None
    last_answer_type: str | None  # ai_answer, custom_answer; None when nothing was answered
    resolution_state: str | None
    rating: int | None = None
    rating_remark: str | None = None
    rated_at: int | None = None
    content_sources: tuple[ContentSource, ...] = ()


@dataclass(slots=True)
class Conversation:
    id: str
    created_at: int
    updated_at: int
    contact_ids: list[str]
    source_type: str  # conversation (chat) or email
    delivered_as: str
    source_author_type: str
    source_author_id: str
    subject: str
    body: str
    state: str
    read: bool
    priority: str
    admin_assignee_id: int
    team_assignee_id: int
    parts: list[Part]
    channel_initial: str
    channel_current: str
    company_id: str | None = None
    title: str | None = None
    tags: list[AppliedTag] = field(default_factory=list)
    rating: Rating | None = None
    sla: tuple[str, str | None] | None = None  # (sla_name, sla_status)
    snoozed_until: int | None = None
    custom_attributes: dict[str, Any] = field(default_factory=dict)
    ticket_id: str | None = None
    ai_agent_participated: bool = False
    ai_agent: AiAgent | None = None
    _stats: dict[str, Any] | None = None

    @property
    def open(self) -> bool:
        return self.state != "closed"

    def touch(self, at: int) -> None:
        """Record a change: move updated_at and forget the cached statistics."""
        self.updated_at = max(self.updated_at, at)
        self._stats = None

    @property
    def waiting_since(self) -> int | None:
        """When the contact's unanswered message arrived; None when an admin replied last."""
        if self.state == "closed":
            return None
        for part in reversed(self.parts):
            if part.part_type == "comment":
                return part.created_at if part.author_type in ("user", "lead") else None
        return self.created_at if self.delivered_as == "customer_initiated" else None

    def statistics(self) -> dict[str, Any]:
        """Intercom's `conversation_statistics`, computed from the parts (cached until a change).

        Keys without a value (no admin reply yet, never closed, ...) are left out, because the
        spec types them as non-nullable integers.
        """
        if self._stats is not None:
            return self._stats
        created = self.created_at
        first_assignment = last_assignment = None
        first_admin_reply = last_admin_reply = None
        first_contact_reply = last_contact_reply = None
        first_close = last_close = None
        last_closed_by = None
        last_assignment_admin_reply = None
        count_assignments = count_reopens = 0
        reply_gaps: list[int] = []
        waiting_from: int | None = created if self.delivered_as == "customer_initiated" else None
        previous_state = "open"
        for part in self.parts:
            at = part.created_at
            if part.part_type in ("assignment", "assign_and_reopen") and part.assigned_to:
                count_assignments += 1
                first_assignment = first_assignment or at
                last_assignment = at
                last_assignment_admin_reply = None
            if part.part_type == "comment" and part.author_type == "admin":
                first_admin_reply = first_admin_reply or at
                last_admin_reply = at
                if last_assignment is not None and last_assignment_admin_reply is None:
                    last_assignment_admin_reply = at
                if waiting_from is not None:
                    reply_gaps.append(at - waiting_from)
                    waiting_from = None
            if part.part_type == "comment" and part.author_type in ("user", "lead"):
                first_contact_reply = first_contact_reply or at
                last_contact_reply = at
                if waiting_from is None:
                    waiting_from = at
            if part.part_type == "close":
                first_close = first_close or at
                last_close = at
                last_closed_by = part.author_id
            if previous_state == "closed" and part.state != "closed":
                count_reopens += 1
            previous_state = part.state
        values: dict[str, Any] = {
            "type": "conversation_statistics",
            "time_to_assignment": _since(first_assignment, created),
            "time_to_admin_reply": _since(first_admin_reply, created),
            "time_to_first_close": _since(first_close, created),
            "time_to_last_close": _since(last_close, created),
            "median_time_to_reply": int(stats.median(reply_gaps)) if reply_gaps else None,
            "first_contact_reply_at": first_contact_reply,
            "first_assignment_at": first_assignment,
            "first_admin_reply_at": first_admin_reply,
            "first_close_at": first_close,
            "last_assignment_at": last_assignment,
            "last_assignment_admin_reply_at": last_assignment_admin_reply,
            "last_contact_reply_at": last_contact_reply,
            "last_admin_reply_at": last_admin_reply,
            "last_close_at": last_close,
            "last_closed_by_id": last_closed_by,
            "count_reopens": count_reopens,
            "count_assignments": count_assignments,
            "count_conversation_parts": len(self.parts),
            "assigned_team_first_response_time": [],
            "assigned_team_first_response_time_in_office_hours": [],
            "handling_time": _since(last_close or first_admin_reply, first_assignment or created),
        }
        self._stats = {key: value for key, value in values.items() if value is not None}
        return self._stats


@dataclass(slots=True, frozen=True)
class DeletedConversation:
    """What GET /conversations/deleted keeps of a conversation once it is gone."""

    id: str
    deleted_at: int
    metrics_retained: bool

    @property
    def order(self) -> tuple[int, int]:
        """The list's sort key: deletion time, then id (numerically)."""
        return self.deleted_at, int(self.id)


def _since(at: int | None, start: int) -> int | None:
    return None if at is None else max(0, at - start)


@dataclass(slots=True)
class TicketState:
    id: str
    category: str  # submitted, in_progress, waiting_on_customer, resolved
    internal_label: str
    external_label: str


@dataclass(slots=True)
class TicketType:
    id: str
    name: str
    category: str  # Customer, Back-office, Tracker
    description: str
    icon: str
    created_at: int
    updated_at: int


@dataclass(slots=True)
class TicketPart:
    id: int
    part_type: str
    created_at: int
    author_type: str
    author_id: str
    previous_state: str
    state: str
    body: str | None = None


@dataclass(slots=True)
class Ticket:
    id: str
    ticket_id: str
    ticket_type_id: str
    title: str
    description: str
    state_id: str
    contact_ids: list[str]
    admin_assignee_id: int
    team_assignee_id: int
    created_at: int
    updated_at: int
    conversation_id: str | None
    parts: list[TicketPart] = field(default_factory=list)
    previous_state_id: str | None = None


@dataclass(slots=True)
class Event:
    contact_id: str
    event_name: str
    created_at: int
    metadata: dict[str, Any]


@dataclass(slots=True)
class Message:
    id: str
    message_type: str
    created_at: int
    subject: str | None
    body: str
    admin_id: str
    contact_id: str
    conversation_id: str | None
