"""Searchable fields of contacts, conversations and tickets: their types and how to read them.

The types follow the "Accepted Fields" tables in the spec's search operation descriptions.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from intercom_sandbox.model import Contact, Conversation, Ticket
from intercom_sandbox.search import FieldType
from intercom_sandbox.workspace import Workspace

Reader = Callable[[Any], object]

CONTACT_FIELDS: dict[str, tuple[FieldType, Reader]] = {
    "id": ("string", lambda c: c.id),
    "role": ("string", lambda c: c.role),
    "name": ("string", lambda c: c.name),
    "avatar": ("string", lambda c: None),
    "owner_id": ("string", lambda c: c.owner_id),
    "email": ("string", lambda c: c.email),
    "email_domain": ("string", lambda c: c.email.rsplit("@", 1)[-1]),
    "phone": ("string", lambda c: c.phone),
    "formatted_phone": ("string", lambda c: c.phone),
    "external_id": ("string", lambda c: c.external_id),
    "created_at": ("date", lambda c: c.created_at),
    "signed_up_at": ("date", lambda c: c.signed_up_at),
    "updated_at": ("date", lambda c: c.updated_at),
    "last_seen_at": ("date", lambda c: c.last_seen_at),
    "last_contacted_at": ("date", lambda c: c.last_contacted_at),
    "last_replied_at": ("date", lambda c: c.last_replied_at),
    "last_email_opened_at": ("date", lambda c: c.last_email_opened_at),
    "last_email_clicked_at": ("date", lambda c: c.last_email_clicked_at),
    "language_override": ("string", lambda c: c.language_override),
    "browser": ("string", lambda c: c.browser),
    "browser_language": ("string", lambda c: c.browser_language),
    "os": ("string", lambda c: c.os),
    "location.country": ("string", lambda c: c.country),
    "location.region": ("string", lambda c: c.region),
    "location.city": ("string", lambda c: c.city),
    "unsubscribed_from_emails": ("boolean", lambda c: c.unsubscribed_from_emails),
    "marked_email_as_spam": ("boolean", lambda c: c.marked_email_as_spam),
    "has_hard_bounced": ("boolean", lambda c: c.has_hard_bounced),
    "tag_id": ("string", lambda c: [t.tag_id for t in c.tags]),
}

_DURATIONS = (
    "time_to_assignment",
    "time_to_admin_reply",
    "time_to_first_close",
    "time_to_last_close",
    "median_time_to_reply",
)
_TIMES = (
    "first_contact_reply_at",
    "first_assignment_at",
    "first_admin_reply_at",
    "first_close_at",
    "last_assignment_at",
    "last_assignment_admin_reply_at",
    "last_contact_reply_at",
    "last_admin_reply_at",
    "last_close_at",
)
_COUNTS = ("count_reopens", "count_assignments", "count_conversation_parts")


def _stat(name: str) -> Reader:
    return lambda c: c.statistics().get(name)


def _rating(read: Callable[[Any], object]) -> Reader:
    return lambda c: None if c.rating is None else read(c.rating)


def _ai_agent(name: str) -> Reader:
    return lambda c: None if c.ai_agent is None else getattr(c.ai_agent, name)


CONVERSATION_FIELDS: dict[str, tuple[FieldType, Reader]] = {
    "id": ("string", lambda c: c.id),
    "created_at": ("date", lambda c: c.created_at),
    "updated_at": ("date", lambda c: c.updated_at),
    "source.type": ("string", lambda c: c.source_type),
    "source.id": ("string", lambda c: str(int(c.id) * 10 + 1)),
    "source.delivered_as": ("string", lambda c: c.delivered_as),
    "source.subject": ("string", lambda c: c.subject),
    "source.body": ("string", lambda c: c.body),
    "source.author.id": ("string", lambda c: c.source_author_id),
    "source.author.type": ("string", lambda c: c.source_author_type),
    "source.url": ("string", lambda c: None),
    "contact_ids": ("string", lambda c: c.contact_ids),
    "teammate_ids": (
        "string",
        lambda c: sorted({p.author_id for p in c.parts if p.author_type == "admin"}),
    ),
    "admin_assignee_id": ("integer", lambda c: c.admin_assignee_id),
    "team_assignee_id": ("integer", lambda c: c.team_assignee_id),
    "channel_initiated": ("string", lambda c: c.channel_initial),
    "open": ("boolean", lambda c: c.open),
    "read": ("boolean", lambda c: c.read),
    "state": ("string", lambda c: c.state),
    "waiting_since": ("date", lambda c: c.waiting_since),
    "snoozed_until": ("date", lambda c: c.snoozed_until),
    "tag_ids": ("string", lambda c: [t.tag_id for t in c.tags]),
    "priority": ("string", lambda c: c.priority),
    "statistics.last_closed_by_id": ("string", _stat("last_closed_by_id")),
    "conversation_rating.requested_at": ("date", _rating(lambda r: r.created_at)),
    "conversation_rating.replied_at": ("date", _rating(lambda r: r.created_at)),
    "conversation_rating.score": ("integer", _rating(lambda r: r.rating)),
    "conversation_rating.remark": ("string", _rating(lambda r: r.remark)),
    "conversation_rating.contact_id": ("string", _rating(lambda r: r.contact_id)),
    "conversation_rating.admin_d": ("string", _rating(lambda r: r.admin_id)),
    "ai_agent_participated": ("boolean", lambda c: c.ai_agent_participated),
    **{
        f"ai_agent.{name}": ("string", _ai_agent(name))
        for name in (
            "source_type",
            "source_title",
            "last_answer_type",
            "resolution_state",
            "rating_remark",
        )
    },
    "ai_agent.rating": ("integer", _ai_agent("rating")),
    **{f"statistics.{name}": ("integer", _stat(name)) for name in (*_DURATIONS, *_COUNTS)},
    **{f"statistics.{name}": ("date", _stat(name)) for name in _TIMES},
}

# Ticket search filters on category by its search value, not the displayed name.
TICKET_CATEGORY_SEARCH_VALUE = {"Customer": "request", "Back-office": "task", "Tracker": "tracker"}


def ticket_fields(ws: Workspace) -> dict[str, tuple[FieldType, Reader]]:
    def category(t: Ticket) -> str:
        return TICKET_CATEGORY_SEARCH_VALUE[ws.ticket_type_by_id[t.ticket_type_id].category]

    def state(t: Ticket) -> str:
        return ws.ticket_state(t.state_id).category

    return {
        "id": ("string", lambda t: t.id),
        "created_at": ("date", lambda t: t.created_at),
        "updated_at": ("date", lambda t: t.updated_at),
        "title": ("string", lambda t: t.title),
        "description": ("string", lambda t: t.description),
        "category": ("string", category),
        "ticket_type_id": ("string", lambda t: t.ticket_type_id),
        "contact_ids": ("string", lambda t: t.contact_ids),
        "teammate_ids": ("string", lambda t: [str(t.admin_assignee_id)]),
        "admin_assignee_id": ("string", lambda t: str(t.admin_assignee_id)),
        "team_assignee_id": ("string", lambda t: str(t.team_assignee_id)),
        "open": ("boolean", lambda t: state(t) != "resolved"),
        "state": ("string", state),
        "snoozed_until": ("date", lambda t: None),
    }


def contact_fields(ws: Workspace) -> dict[str, tuple[FieldType, Reader]]:
    """Contact fields plus segment_id and each custom attribute, typed by its data attribute."""
    fields = dict(CONTACT_FIELDS)
    fields["segment_id"] = (
        "string",
        lambda c: [s.id for s in ws.segments if ws.in_segment(c, s)],
    )
    for attribute in ws.data_attributes:
        if attribute.model == "contact" and attribute.custom and not attribute.archived:
            name = attribute.name
            data_type = (
                "date" if attribute.data_type in ("date", "datetime") else attribute.data_type
            )
            if data_type in ("string", "integer", "float", "boolean", "date"):
                fields[f"custom_attributes.{name}"] = (
                    data_type,  # type: ignore[assignment]
                    lambda c, n=name: c.custom_attributes.get(n),
                )
    return fields


def sort_value(
    fields: dict[str, tuple[FieldType, Reader]], field: str, record: Contact | Conversation | Ticket
) -> Any:
    """A record's value for sorting: None sorts first, as an empty value would."""
    value = fields[field][1](record)
    if isinstance(value, list):
        value = value[0] if value else None
    if value is None:
        return -1 if fields[field][0] in ("integer", "float", "date") else ""
    return value
