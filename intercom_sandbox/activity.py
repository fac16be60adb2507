"""Moving the sandbox clock, and the activity that happens meanwhile.

New conversations, replies, closes, reopens, tags, contact and company changes, deletions
(contacts, companies, conversations), merges, admin activity logs and a custom attribute that
changes type: all timestamped inside the interval the clock moved through, so an incremental sync
sees them exactly as it would see a live workspace. New conversations get ids above every older
one, in the order they were created, as Intercom's do.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from intercom_sandbox import text
from intercom_sandbox.generate_extras import add_activity_logs
from intercom_sandbox.generator import (
    AI_FIRST_SHARE,
    ai_agent_of,
    ai_first_turn,
    custom_attribute_value,
    handoff_resolution,
    hex_id,
)
from intercom_sandbox.model import (
    AppliedTag,
    Company,
    Contact,
    Conversation,
    DataAttribute,
    DeletedConversation,
    Part,
)
from intercom_sandbox.workspace import Workspace

T = TypeVar("T")


@dataclass
class Activity:
    """How much happens while the clock moves. Counts are upper bounds (fewer if no candidate)."""

    new_conversations: int = 0
    replies: int = 0
    closes: int = 0
    reopens: int = 0
    tags: int = 0
    new_contacts: int = 0
    contact_updates: int = 0
    company_updates: int = 0
    contact_deletions: int = 0
    company_deletions: int = 0
    conversation_deletions: int = 0
    merges: int = 0
    activity_logs: int = 0  # admin activity log entries (mostly logins and logouts)
    # {"name": "seats", "to": "string", "contacts": 5}: the attribute's type changes and that many
    # contacts get a value of the new type.
    attribute_type_change: dict[str, Any] | None = None

    @classmethod
    def default_for(cls, ws: Workspace) -> Activity:
        """A busy hour for a workspace of this size."""
        n = max(1, len(ws.conversations) // 100)
        return cls(
            new_conversations=n,
            replies=n,
            closes=n,
            reopens=max(1, n // 5),
            tags=max(1, n // 3),
            new_contacts=max(1, n // 2),
            contact_updates=n,
            company_updates=max(1, n // 5),
            contact_deletions=max(1, n // 20),
            company_deletions=max(1, n // 50),
            conversation_deletions=max(1, n // 20),
            merges=max(1, n // 20),
            activity_logs=max(3, len(ws.admins) // 8),
        )

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Activity:
        unknown = set(raw) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(
                f"unknown activity keys {sorted(unknown)}; known: {sorted(cls.__dataclass_fields__)}"
            )
        for key, value in raw.items():
            if key in COUNTS and (
                not isinstance(value, int) or isinstance(value, bool) or value < 0
            ):
                raise ValueError(f"activity {key!r} must be a count (an integer of 0 or more)")
        if not isinstance(raw.get("attribute_type_change") or {}, dict):
            raise ValueError("activity 'attribute_type_change' must be an object")
        return cls(**raw)


# The Activity fields that are counts (every one but attribute_type_change).
COUNTS: tuple[str, ...] = tuple(
    name for name in Activity.__dataclass_fields__ if name != "attribute_type_change"
)


@dataclass
class Changes:
    """Ids touched by one clock move, per kind (returned by the control API, used by tests)."""

    new_conversations: list[str] = field(default_factory=list)
    replied: list[str] = field(default_factory=list)
    closed: list[str] = field(default_factory=list)
    reopened: list[str] = field(default_factory=list)
    tagged: list[str] = field(default_factory=list)
    new_contacts: list[str] = field(default_factory=list)
    updated_contacts: list[str] = field(default_factory=list)
    updated_companies: list[str] = field(default_factory=list)
    deleted_contacts: list[str] = field(default_factory=list)
    deleted_companies: list[str] = field(default_factory=list)
    deleted_conversations: list[str] = field(default_factory=list)
    merged_contacts: list[str] = field(default_factory=list)
    activity_logs: list[str] = field(default_factory=list)
    retyped_attribute: dict[str, Any] | None = None


@dataclass
class _Interval:
    """The span the clock moved through, and the random moments of changes inside it."""

    rng: random.Random
    start: int
    end: int

    def moment(self) -> int:
        return self.rng.randint(self.start + 1, self.end)

    def moment_after(self, updated_at: int) -> int:
        """A moment after the last change, but never past the new clock."""
        return min(self.end, max(self.moment(), updated_at + 1))

    def pick(self, candidates: list[T], count: int) -> list[T]:
        """Up to `count` distinct candidates, at random."""
        return self.rng.sample(candidates, min(count, len(candidates)))


def advance(ws: Workspace, seconds: int, activity: Activity, rng: random.Random) -> Changes:
    """Move the clock forward by `seconds` and apply `activity` inside that interval.

    The steps run in a fixed order, each drawing from `rng`, so a seed replays the same changes.
    """
    if seconds < 1:
        raise ValueError("seconds must be at least 1")
    if activity.attribute_type_change:  # refuse a bad request before anything changes
        _check_retype(ws, activity.attribute_type_change)
    interval = _Interval(rng, ws.now, ws.now + seconds)
    ws.now = interval.end
    changes = Changes()
    if activity == Activity():  # only time passes: no scan, and cached results stay valid
        return changes
    # Candidates for replies, closes and reopens are the conversations as they were before.
    open_ones = [c for c in ws.conversations if c.state != "closed" and c.admin_assignee_id]
    closed_ones = [c for c in ws.conversations if c.state == "closed" and c.parts]
    visible = ws.visible_contacts()
    changes.new_contacts = _new_contacts(ws, activity.new_contacts, interval, visible)
    changes.new_conversations = _new_conversations(
        ws, activity.new_conversations, interval, visible
    )
    changes.replied = _replies(ws, open_ones, activity.replies, interval)
    changes.closed = _closes(ws, open_ones, activity.closes, interval)
    changes.reopened = _reopens(ws, closed_ones, activity.reopens, interval)
    changes.tagged = _tag_conversations(ws, activity.tags, interval)
    changes.updated_contacts = _update_contacts(visible, activity.contact_updates, interval)
    changes.updated_companies = _update_companies(ws, activity.company_updates, interval)
    changes.deleted_contacts, changes.deleted_companies = _deletions(
        ws, activity, interval, changes
    )
    changes.merged_contacts = _merges(ws, activity.merges, interval)
    changes.deleted_conversations = _delete_conversations(
        ws, activity.conversation_deletions, interval, changes
    )
    changes.activity_logs = add_activity_logs(
        ws, activity.activity_logs, rng, interval.start, interval.end
    )
    if activity.attribute_type_change:
        changes.retyped_attribute = _retype_attribute(
            ws, activity.attribute_type_change, interval.moment, rng
        )
    if changes.deleted_contacts or changes.merged_contacts:  # companies lost users
        ws.recount_company_users()
    ws.changed()
    return changes


def _new_contacts(
    ws: Workspace, count: int, interval: _Interval, visible: list[Contact]
) -> list[str]:
    """Sign-ups, users or leads; each joins `visible`, so later steps may pick it."""
    rng = interval.rng
    added = []
    for _ in range(count):
        at = interval.moment()
        name = f"{rng.choice(text.FIRST_NAMES)} {rng.choice(text.LAST_NAMES)}"
        contact = Contact(
            id=hex_id(rng),
            role=rng.choice(("user", "lead")),
            email=f"new.{len(ws.contacts)}@customer-mail.example",
            name=name,
            created_at=at,
            updated_at=at,
            last_seen_at=at,
            country="Ireland",
            city="Dublin",
        )
        if contact.role == "user":
            contact.external_id = f"usr_{len(ws.contacts) + 1:07d}"
            contact.custom_attributes = {"plan": "Free Trial", "subscription_status": "Free Trial"}
        ws.add_contact(contact)
        visible.append(contact)
        added.append(contact.id)
    return added


def _new_conversations(
    ws: Workspace, count: int, interval: _Interval, visible: list[Contact]
) -> list[str]:
    """Conversations started inside the interval, numbered in time order after every older one."""
    drawn = [(interval.moment(), interval.rng.choice(visible)) for _ in range(count)]
    added = []
    for at, contact in sorted(drawn, key=lambda moment_and_contact: moment_and_contact[0]):
        conversation = _new_conversation(ws, contact, at, interval)
        ws.add_conversation(conversation)
        added.append(conversation.id)
    return added


def _replies(
    ws: Workspace, open_ones: list[Conversation], count: int, interval: _Interval
) -> list[str]:
    """The assignee (a teammate, else a bot) replies to open conversations."""
    replied = []
    for conversation in interval.pick(open_ones, count):
        at = interval.moment_after(conversation.updated_at)
        admin_id = str(conversation.admin_assignee_id)
        author = ("admin", admin_id) if admin_id in ws.admin_by_id else ("bot", admin_id)
        reply = interval.rng.choice(text.ADMIN_REPLIES)
        _append(ws, conversation, "comment", at, *author, "open", reply)
        replied.append(conversation.id)
    return replied


def _closes(
    ws: Workspace, open_ones: list[Conversation], count: int, interval: _Interval
) -> list[str]:
    remaining_open = [c for c in open_ones if c.state != "closed"]
    closed = []
    for conversation in interval.pick(remaining_open, count):
        close_conversation(ws, conversation, interval.moment_after(conversation.updated_at))
        closed.append(conversation.id)
    return closed


def _reopens(
    ws: Workspace, closed_ones: list[Conversation], count: int, interval: _Interval
) -> list[str]:
    reopened = []
    for conversation in interval.pick(closed_ones, count):
        at = interval.moment_after(conversation.updated_at)
        reopen_conversation(ws, conversation, at, interval.rng.choice(text.CUSTOMER_REPLIES))
        reopened.append(conversation.id)
    return reopened


def _tag_conversations(ws: Workspace, count: int, interval: _Interval) -> list[str]:
    """A teammate tags conversations; one drawn with a tag it already has stays unchanged."""
    rng = interval.rng
    tagged = []
    for conversation in interval.pick(ws.conversations, count):
        at = interval.moment_after(conversation.updated_at)
        tag = rng.choice(ws.tags)
        if all(t.tag_id != tag.id for t in conversation.tags):
            conversation.tags.append(AppliedTag(tag.id, at, rng.choice(ws.admins).id))
            conversation.touch(at)
            tagged.append(conversation.id)
    return tagged


def _update_contacts(visible: list[Contact], count: int, interval: _Interval) -> list[str]:
    """Contacts are seen again; users also change their seat count."""
    updated = []
    for contact in interval.pick(visible, count):
        at = interval.moment()
        contact.last_seen_at = at
        contact.updated_at = max(contact.updated_at, at)
        if contact.role == "user":
            contact.custom_attributes["seats"] = interval.rng.randint(1, 300)
        updated.append(contact.id)
    return updated


def _update_companies(ws: Workspace, count: int, interval: _Interval) -> list[str]:
    updated = []
    for company in interval.pick(ws.visible_companies(), count):
        at = interval.moment()
        company.monthly_spend = interval.rng.randint(0, 25_000)
        company.last_request_at = at
        company.updated_at = max(company.updated_at, at)
        updated.append(company.id)
    return updated


def _deletions(
    ws: Workspace, activity: Activity, interval: _Interval, changes: Changes
) -> tuple[list[str], list[str]]:
    """Deleted contacts and companies, never ones this move updated."""
    contacts = _delete(
        ws.visible_contacts, changes.updated_contacts, activity.contact_deletions, interval
    )
    companies = _delete(
        ws.visible_companies, changes.updated_companies, activity.company_deletions, interval
    )
    return contacts, companies


def _delete(
    live: Callable[[], Sequence[Contact | Company]],
    spared: list[str],
    count: int,
    interval: _Interval,
) -> list[str]:
    """Up to `count` of the `live` records, none of the `spared` ids, marked deleted."""
    if count == 0:  # spares the scan of every record
        return []
    kept = set(spared)
    deleted = []
    for record in interval.pick([r for r in live() if r.id not in kept], count):
        record.deleted_at = interval.moment()
        deleted.append(record.id)
    return deleted


def _merges(ws: Workspace, count: int, interval: _Interval) -> list[str]:
    """Leads merge into users (none when there is no user)."""
    if count == 0:  # spares the scans of every contact
        return []
    leads = [c for c in ws.visible_contacts() if c.role == "lead"]
    users = [c for c in ws.visible_contacts() if c.role == "user"]
    merged = []
    for lead in interval.pick(leads, count if users else 0):
        target = interval.rng.choice(users)
        lead.merged_into = target.id
        target.updated_at = max(target.updated_at, interval.moment())
        merged.append(lead.id)
    return merged


def _delete_conversations(
    ws: Workspace, count: int, interval: _Interval, changes: Changes
) -> list[str]:
    """Deleted conversations: never a ticket's, nor one this move created or changed."""
    if count == 0:  # spares the scan of every conversation
        return []
    touched = {
        *changes.new_conversations,
        *changes.replied,
        *changes.closed,
        *changes.reopened,
        *changes.tagged,
    }
    candidates = [c for c in ws.conversations if c.ticket_id is None and c.id not in touched]
    deleted = [
        DeletedConversation(c.id, interval.moment_after(c.updated_at), interval.rng.random() < 0.5)
        for c in interval.pick(candidates, count)
    ]
    ws.delete_conversations(deleted)
    return [d.id for d in deleted]


def _check_retype(ws: Workspace, spec: dict[str, Any]) -> DataAttribute:
    name, new_type = spec.get("name"), spec.get("to")
    attribute = ws.contact_attribute(str(name))
    if attribute is None or not attribute.custom:
        raise ValueError(f"no custom contact attribute named {name!r}")
    if new_type not in ("string", "integer", "float", "boolean", "date"):
        raise ValueError(f"cannot change {name!r} to type {new_type!r}")
    return attribute


def _retype_attribute(
    ws: Workspace, spec: dict[str, Any], moment: Callable[[], int], rng: random.Random
) -> dict[str, Any]:
    attribute = _check_retype(ws, spec)
    name, new_type = spec.get("name"), spec.get("to")
    old_type = attribute.data_type
    attribute.data_type = new_type
    at = moment()
    attribute.updated_at = at
    holders = [c for c in ws.visible_contacts() if name in c.custom_attributes]
    touched = []
    for contact in rng.sample(holders, min(int(spec.get("contacts", 10)), len(holders))):
        value = custom_attribute_value(rng, new_type, ws.now)
        if new_type == "string":
            value = f"{contact.custom_attributes.get(name)} ({rng.choice(text.PLANS)})"
        contact.custom_attributes[str(name)] = value
        contact.updated_at = max(contact.updated_at, at)
        touched.append(contact.id)
    return {"name": name, "from": old_type, "to": new_type, "contacts": touched}


def close_conversation(ws: Workspace, conversation: Conversation, at: int) -> None:
    """Its assignee closes it (a bot when the assignee is not a teammate)."""
    admin_id = str(conversation.admin_assignee_id)
    author = "admin" if admin_id in ws.admin_by_id else "bot"
    _append(ws, conversation, "close", at, author, admin_id, "closed")


def reopen_conversation(ws: Workspace, conversation: Conversation, at: int, reply: str) -> None:
    """Its customer replies, which reopens it."""
    contact_id = conversation.contact_ids[0]
    role = ws.contact_by_id[contact_id].role
    _append(ws, conversation, "comment", at, role, contact_id, "open", reply)


def _append(
    ws: Workspace,
    c: Conversation,
    part_type: str,
    at: int,
    author_type: str,
    author_id: str,
    state: str,
    body: str | None = None,
) -> None:
    c.parts.append(
        Part(
            ws.allocate_part_id(),
            part_type,
            at,
            author_type,
            author_id,
            state,
            f"<p>{body}</p>" if body else None,
        )
    )
    c.state = state
    if state != "snoozed":
        c.snoozed_until = None
    c.touch(at)


def _new_conversation(
    ws: Workspace, contact: Contact, at: int, interval: _Interval
) -> Conversation:
    """A customer writes in; a chat may get the AI agent's answer first, then the team has it."""
    rng = interval.rng
    _topic, subject, body = rng.choice(text.CUSTOMER_OPENERS)
    channel = rng.choice(("conversation", "email"))
    team = rng.choice(ws.teams)
    conversation = Conversation(
        id=ws.allocate_conversation_id(),
        created_at=at,
        updated_at=at,
        contact_ids=[contact.id],
        source_type=channel,
        delivered_as="customer_initiated",
        source_author_type=contact.role,
        source_author_id=contact.id,
        subject=subject if channel == "email" else "",
        body=f"<p>{body}</p>",
        state="open",
        read=False,
        priority="none",
        admin_assignee_id=0,
        team_assignee_id=int(team.id),
        parts=[],
        channel_initial=channel,
        channel_current=channel,
        company_id=contact.company_ids[0] if contact.company_ids else None,
        title=subject,
    )
    handed_off = _ai_answers_first(ws, conversation, interval) if channel == "conversation" else at
    conversation.parts.append(
        Part(
            ws.allocate_part_id(),
            "assignment",
            handed_off,
            "bot",
            ws.bot_ids[1],
            "open",
            assigned_to=("team", team.id),
        )
    )
    conversation.touch(handed_off)
    return conversation


def _ai_answers_first(ws: Workspace, conversation: Conversation, interval: _Interval) -> int:
    """Maybe the AI agent answers a new chat before the hand-off; returns the hand-off's moment.

    As in the generated history, a share of chats meet the AI agent first; its choices draw
    from a stream of the conversation's own, so every other change of the move stays the same.
    """
    ai = random.Random(f"{ws.seed}:{conversation.id}")
    if ai.random() >= AI_FIRST_SHARE:
        return conversation.created_at
    source_type, answer_type = ai_first_turn(ai)
    answered = min(interval.end, conversation.created_at + ai.randint(3, 30))
    message = f"<p>{ai.choice(text.BOT_MESSAGES)}</p>"
    conversation.parts.append(
        Part(
            ws.allocate_part_id(),
            "comment",
            answered,
            "bot",
            ws.bot_ids[0],
            "open",
            message,
            ai_answer=answer_type == "ai_answer",
        )
    )
    resolution = handoff_resolution(ai, source_type) if answer_type else None
    conversation.ai_agent_participated = True
    conversation.ai_agent = ai_agent_of(ai, source_type, answer_type, resolution, ws.ai_sources)
    return min(interval.end, answered + ai.randint(20, 600))
