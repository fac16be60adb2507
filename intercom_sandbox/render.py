"""Intercom API v2.16 JSON shapes for the sandbox's objects.

Rules kept here so every endpoint agrees: timestamps are integer unix seconds, ids keep the type
the spec gives them (strings mostly, integers for team membership and assignees), unassigned is 0,
and a value the spec types as non-nullable is left out when there is none rather than sent as null.
"""

from __future__ import annotations

from typing import Any

from intercom_sandbox.model import (
    Admin,
    AiAgent,
    AppliedTag,
    Article,
    Collection,
    Company,
    Contact,
    Conversation,
    DataAttribute,
    HelpCenter,
    Part,
    Segment,
    Tag,
    Team,
    Ticket,
    TicketPart,
    TicketState,
    TicketType,
)
from intercom_sandbox.workspace import Workspace

EMBEDDED_LIST_LIMIT = 10  # contact tags, companies and notes embed at most 10 items
MAX_CONVERSATION_PARTS = 500  # GET /conversations/{id} returns the 500 most recent parts
ATTACHMENT_HOST = "https://sandbox-attachments.intercom.example"
BOT_NAMES = {"9900001": "Fin", "9900002": "Operator"}
AI_AGENT_ID = "9900001"  # Fin: its parts are from_ai_agent


def admin(a: Admin) -> dict[str, Any]:
    return {
        "type": "admin",
        "id": a.id,
        "name": a.name,
        "email": a.email,
        "job_title": a.job_title,
        "away_mode_enabled": a.away_mode_enabled,
        "away_mode_reassign": False,
        "away_status_reason_id": None,
        "has_inbox_seat": a.has_inbox_seat,
        "team_ids": a.team_ids,
        "avatar": None,
        "team_priority_level": {
            "primary_team_ids": a.team_ids[:1],
            "secondary_team_ids": a.team_ids[1:],
        },
        "role": None,
    }


def team(t: Team) -> dict[str, Any]:
    return {
        "type": "team",
        "id": t.id,
        "name": t.name,
        "admin_ids": t.admin_ids,
        "admin_priority_level": {"primary_admin_ids": t.admin_ids, "secondary_admin_ids": []},
        "assignment_limit": t.assignment_limit,
        "distribution_method": t.distribution_method,
    }


def tag(t: Tag, applied: AppliedTag | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"type": "tag", "id": t.id, "name": t.name}
    if applied is not None:
        body["applied_at"] = applied.applied_at
        body["applied_by"] = {"type": "admin", "id": applied.admin_id}
    return body


def tag_list(ws: Workspace, applied: list[AppliedTag]) -> dict[str, Any]:
    """The `{type: tag.list, tags: [...]}` wrapper used on conversations and companies."""
    return {"type": "tag.list", "tags": [tag(ws.tag_by_id[a.tag_id], a) for a in applied]}


def segment(s: Segment, count: int | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": "segment",
        "id": s.id,
        "name": s.name,
        "created_at": s.created_at,
        "updated_at": s.updated_at,
        "person_type": s.person_type,
    }
    if count is not None:
        body["count"] = count
    return body


def data_attribute(d: DataAttribute) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": "data_attribute",
        "model": d.model,
        "name": d.name,
        "full_name": d.full_name,
        "label": d.label,
        "description": d.description,
        "data_type": d.data_type,
        "api_writable": d.api_writable,
        "messenger_writable": d.messenger_writable,
        "ui_writable": True,
        "custom": d.custom,
        "archived": d.archived,
        "created_at": d.created_at,
        "updated_at": d.updated_at,
    }
    if d.id is not None:  # only custom attributes have an id
        body["id"] = d.id
    if d.options:
        body["options"] = d.options
    if d.admin_id is not None:
        body["admin_id"] = d.admin_id
    return body


def help_center(h: HelpCenter, ws: Workspace) -> dict[str, Any]:
    return {
        "id": h.id,
        "workspace_id": ws.app_id,
        "created_at": h.created_at,
        "updated_at": h.updated_at,
        "identifier": h.identifier,
        "website_turned_on": True,
        "display_name": h.display_name,
        "url": f"https://intercom.help/{ws.app_id}-{h.identifier}",
        "custom_domain": None,
        "default": h.default,
        "locales": ["en"],
    }


def collection(c: Collection, ws: Workspace) -> dict[str, Any]:
    return {
        "id": c.id,
        "workspace_id": ws.app_id,
        "name": c.name,
        "description": c.description,
        "created_at": c.created_at,
        "updated_at": c.updated_at,
        "url": f"https://intercom.help/{ws.app_id}/en/collections/{c.id}",
        "icon": "book-bookmark",
        "order": c.order,
        "default_locale": "en",
        "parent_id": c.parent_id,
        "help_center_id": c.help_center_id,
    }


def article_url(app_id: str, a: Article) -> str | None:
    """A published article's help-center address (a draft has none)."""
    return f"https://intercom.help/{app_id}/en/articles/{a.id}" if a.state == "published" else None


def article(a: Article, ws: Workspace) -> dict[str, Any]:
    return {
        "type": "article",
        "id": a.id,
        "workspace_id": ws.app_id,
        "title": a.title,
        "description": a.description,
        "body": a.body,
        "author_id": a.author_id,
        "state": a.state,
        "created_at": a.created_at,
        "updated_at": a.updated_at,
        "has_unpublished_changes": False,
        "url": article_url(ws.app_id, a),
        "parent_ids": a.parent_ids,
        "default_locale": "en",
        "tags": {"type": "tag.list", "tags": []},
    }


def company(c: Company, ws: Workspace) -> dict[str, Any]:
    return {
        "type": "company",
        "id": c.id,
        "name": c.name,
        "app_id": ws.app_id,
        "plan": {"type": "plan", "id": str(100 + len(c.plan)), "name": c.plan},
        "company_id": c.company_id,
        "remote_created_at": c.remote_created_at,
        "created_at": c.created_at,
        "updated_at": c.updated_at,
        "last_request_at": c.last_request_at,
        "size": c.size,
        "website": c.website,
        "industry": c.industry,
        "monthly_spend": c.monthly_spend,
        "session_count": c.session_count,
        "user_count": c.user_count,
        "custom_attributes": c.custom_attributes,
        "tags": {
            "type": "tag.list",
            "tags": [tag(ws.tag_by_id[a.tag_id]) for a in c.tags],
        },
        "segments": {"type": "segment.list", "segments": []},
        "notes": {"type": "note.list", "notes": []},
    }


def _embedded(kind: str, ids: list[str], owner_url: str, item_path: str) -> dict[str, Any]:
    """A truncated nested list (at most 10 items) with the url to fetch the rest."""
    return {
        "type": "list",
        "data": [
            {"type": kind, "id": i, "url": f"/{item_path}/{i}"} for i in ids[:EMBEDDED_LIST_LIMIT]
        ],
        "url": owner_url,
        "total_count": len(ids),
        "has_more": len(ids) > EMBEDDED_LIST_LIMIT,
    }


def contact(c: Contact, ws: Workspace) -> dict[str, Any]:
    note_ids = [f"{int(c.id[-6:], 16) * 10 + n}" for n in range(c.notes_count)]
    return {
        "type": "contact",
        "id": c.id,
        "workspace_id": ws.app_id,
        "external_id": c.external_id,
        "role": c.role,
        "email": c.email,
        "email_domain": c.email.rsplit("@", 1)[-1],
        "phone": c.phone,
        "name": c.name,
        "owner_id": c.owner_id,
        "has_hard_bounced": c.has_hard_bounced,
        "marked_email_as_spam": c.marked_email_as_spam,
        "unsubscribed_from_emails": c.unsubscribed_from_emails,
        "created_at": c.created_at,
        "updated_at": c.updated_at,
        "signed_up_at": c.signed_up_at,
        "last_seen_at": c.last_seen_at,
        "last_replied_at": c.last_replied_at,
        "last_contacted_at": c.last_contacted_at,
        "last_email_opened_at": c.last_email_opened_at,
        "last_email_clicked_at": c.last_email_clicked_at,
        "language_override": c.language_override,
        "browser": c.browser,
        "browser_version": "131.0" if c.browser else None,
        "browser_language": c.browser_language,
        "os": c.os,
        "android_app_name": None,
        "android_app_version": None,
        "android_device": None,
        "android_os_version": None,
        "android_sdk_version": None,
        "android_last_seen_at": None,
        "ios_app_name": None,
        "ios_app_version": None,
        "ios_device": None,
        "ios_os_version": None,
        "ios_sdk_version": None,
        "ios_last_seen_at": None,
        "custom_attributes": c.custom_attributes,
        "avatar": None,
        "tags": _embedded("tag", [t.tag_id for t in c.tags], f"/contacts/{c.id}/tags", "tags"),
        "notes": _embedded("note", note_ids, f"/contacts/{c.id}/notes", "notes"),
        "companies": _embedded(
            "company", c.company_ids, f"/contacts/{c.id}/companies", "companies"
        ),
        "location": {"type": "location", "country": c.country, "region": c.region, "city": c.city},
        "social_profiles": {"type": "list", "data": []},
    }


def contact_reference(ws: Workspace, contact_id: str) -> dict[str, Any]:
    c = ws.contact_by_id.get(contact_id)
    return {"type": "contact", "id": contact_id, "external_id": c.external_id if c else None}


def _author(ws: Workspace, author_type: str, author_id: str) -> dict[str, Any]:
    """Name and email of whoever wrote a part or a message."""
    if author_type == "admin":
        a = ws.admin_by_id.get(author_id)
        return {
            "type": "admin",
            "id": author_id,
            "name": a.name if a else None,
            "email": a.email if a else "",
        }
    if author_type == "bot":
        return {
            "type": "bot",
            "id": author_id,
            "name": BOT_NAMES.get(author_id, "Bot"),
            "email": f"operator+{ws.app_id}@intercom.io",
        }
    c = ws.contact_by_id.get(author_id)
    return {
        "type": author_type,
        "id": author_id,
        "name": c.name if c else None,
        "email": c.email if c else "",
    }


def _attachment(part_id: int, attachment: tuple[str, str, int]) -> dict[str, Any]:
    name, content_type, size = attachment
    image = content_type.startswith("image/")
    return {
        "type": "upload",
        "name": name,
        "url": f"{ATTACHMENT_HOST}/{part_id}/{name}",
        "content_type": content_type,
        "filesize": size,
        "width": 1280 if image else 0,
        "height": 720 if image else 0,
    }


def part(p: Part, ws: Workspace) -> dict[str, Any]:
    author = _author(ws, p.author_type, p.author_id)
    author["from_ai_agent"] = p.author_type == "bot" and p.author_id == AI_AGENT_ID
    author["is_ai_answer"] = author["from_ai_agent"] and p.part_type == "comment" and p.ai_answer
    body: dict[str, Any] = {
        "type": "conversation_part",
        "id": str(p.id),
        "part_type": p.part_type,
        "body": p.body,
        "created_at": p.created_at,
        "updated_at": p.created_at,
        "notified_at": p.created_at,
        "author": author,
        "attachments": [_attachment(p.id, p.attachment)] if p.attachment else [],
        "external_id": None,
        "redacted": False,
        "state": p.state,
        "tags": [tag(ws.tag_by_id[t]) for t in p.tag_ids],
    }
    if p.assigned_to is not None:
        body["assigned_to"] = {"type": p.assigned_to[0], "id": p.assigned_to[1]}
    return body


def conversation(c: Conversation, ws: Workspace, with_parts: bool = False) -> dict[str, Any]:
    """A conversation; `with_parts` adds the 500 most recent parts as GET /conversations/{id}."""
    stats = c.statistics()
    body: dict[str, Any] = {
        "type": "conversation",
        "id": c.id,
        "title": c.title,
        "created_at": c.created_at,
        "updated_at": c.updated_at,
        "waiting_since": c.waiting_since,
        "snoozed_until": c.snoozed_until if c.state == "snoozed" else None,
        "open": c.open,
        "state": c.state,
        "read": c.read,
        "priority": c.priority,
        "admin_assignee_id": c.admin_assignee_id,
        "team_assignee_id": c.team_assignee_id,
        "tags": tag_list(ws, c.tags),
        "conversation_rating": _rating(c, ws),
        "source": _source(c, ws),
        "contacts": {
            "type": "contact.list",
            "contacts": [contact_reference(ws, i) for i in c.contact_ids],
        },
        "teammates": {"type": "admin.list", "teammates": _teammates(c)},
        "custom_attributes": c.custom_attributes,
        "first_contact_reply": _first_contact_reply(c, stats),
        "sla_applied": (
            {"type": "conversation_sla_summary", "sla_name": c.sla[0], "sla_status": c.sla[1]}
            if c.sla
            else None
        ),
        "statistics": stats,
        "linked_objects": _linked_objects(c),
        "ai_agent_participated": c.ai_agent_participated,
        "channel": {"initial": c.channel_initial, "current": c.channel_current},
        "external_references": [],
    }
    if c.company_id and c.company_id in ws.company_by_id:
        body["company"] = company(ws.company_by_id[c.company_id], ws)
    if c.ai_agent is not None:
        # Left out, like `company`, when there is none: the spec's `nullable` beside its `$ref`
        # is ignored by OpenAPI 3.0, so a null would not conform.
        body["ai_agent"] = _ai_agent(c.ai_agent)
    if with_parts:
        recent = c.parts[-MAX_CONVERSATION_PARTS:]
        body["conversation_parts"] = {
            "type": "conversation_part.list",
            "conversation_parts": [part(p, ws) for p in recent],
            "total_count": len(recent),
        }
    return body


def _ai_agent(ai: AiAgent) -> dict[str, Any]:
    """The `ai_agent` object of a conversation the AI agent took part in."""
    return {
        "source_type": ai.source_type,
        "source_title": ai.source_title,
        "last_answer_type": ai.last_answer_type,
        "resolution_state": ai.resolution_state,
        "rating": ai.rating,
        "rating_remark": ai.rating_remark,
        "created_at": ai.rated_at,
        "updated_at": ai.rated_at,
        "content_sources": {
            "type": "content_source.list",
            "total_count": len(ai.content_sources),
            "content_sources": [
                {
                    "content_type": s.content_type,
                    "url": s.url,
                    "title": s.title,
                    "locale": s.locale,
                }
                for s in ai.content_sources
            ],
        },
    }


def _source(c: Conversation, ws: Workspace) -> dict[str, Any]:
    """The message that started the conversation."""
    return {
        "type": c.source_type,
        "id": str(int(c.id) * 10 + 1),
        "delivered_as": c.delivered_as,
        "subject": c.subject,
        "body": c.body,
        "author": _author(ws, c.source_author_type, c.source_author_id),
        "attachments": [],
        "url": None,
        "redacted": False,
    }


def _teammates(c: Conversation) -> list[dict[str, Any]]:
    """Every admin who wrote a part, and the assignee."""
    ids = {p.author_id for p in c.parts if p.author_type == "admin"}
    if c.admin_assignee_id:
        ids.add(str(c.admin_assignee_id))
    return [{"type": "admin", "id": i} for i in sorted(ids)]


def _first_contact_reply(c: Conversation, stats: dict[str, Any]) -> dict[str, Any] | None:
    if "first_contact_reply_at" not in stats:
        return None
    return {"created_at": stats["first_contact_reply_at"], "type": c.source_type, "url": None}


def _linked_objects(c: Conversation) -> dict[str, Any]:
    """The conversation's ticket, if it became one."""
    return {
        "type": "list",
        "total_count": 1 if c.ticket_id else 0,
        "has_more": False,
        "data": [{"type": "ticket", "id": c.ticket_id, "category": "Customer"}]
        if c.ticket_id
        else [],
    }


def _rating(c: Conversation, ws: Workspace) -> dict[str, Any] | None:
    r = c.rating
    if r is None:
        return None
    body: dict[str, Any] = {
        "rating": r.rating,
        "remark": r.remark,
        "created_at": r.created_at,
        "updated_at": r.created_at,
        "contact": contact_reference(ws, r.contact_id),
        "teammate": {"type": "admin", "id": r.admin_id},
    }
    if r.remark is None:  # the spec types remark as a non-nullable string
        del body["remark"]
    return body


def ticket(t: Ticket, ws: Workspace) -> dict[str, Any]:
    ticket_type = ws.ticket_type_by_id[t.ticket_type_id]
    state = ws.ticket_state(t.state_id)
    body: dict[str, Any] = {
        "type": "ticket",
        "id": t.id,
        "ticket_id": t.ticket_id,
        "category": ticket_type.category,
        "ticket_attributes": {
            "_default_title_": t.title,
            "_default_description_": t.description,
        },
        "ticket_state": {
            "type": "ticket_state",
            "id": state.id,
            "category": state.category,
            "internal_label": state.internal_label,
            "external_label": state.external_label,
        },
        "ticket_type": {
            "type": "ticket_type",
            "id": ticket_type.id,
            "category": ticket_type.category,
            "name": ticket_type.name,
            "description": ticket_type.description,
            "icon": ticket_type.icon,
            "workspace_id": ws.app_id,
            "archived": False,
            "created_at": ticket_type.created_at,
            "updated_at": ticket_type.updated_at,
        },
        "contacts": {
            "type": "contact.list",
            "contacts": [contact_reference(ws, i) for i in t.contact_ids],
        },
        "admin_assignee_id": t.admin_assignee_id,
        "team_assignee_id": t.team_assignee_id,
        "created_at": t.created_at,
        "updated_at": t.updated_at,
        "open": state.category != "resolved",
        "linked_objects": {
            "type": "list",
            "total_count": 1 if t.conversation_id else 0,
            "has_more": False,
            "data": [{"type": "conversation", "id": t.conversation_id, "category": None}]
            if t.conversation_id
            else [],
        },
        "ticket_parts": {
            "type": "ticket_part.list",
            "ticket_parts": [ticket_part(p, ws) for p in t.parts[-MAX_CONVERSATION_PARTS:]],
            "total_count": len(t.parts[-MAX_CONVERSATION_PARTS:]),
        },
        "is_shared": ticket_type.category == "Customer",
        "previous_ticket_state_id": t.previous_state_id,
    }
    return body


def ticket_part(p: TicketPart, ws: Workspace) -> dict[str, Any]:
    return {
        "type": "ticket_part",
        "id": str(p.id),
        "part_type": p.part_type,
        "body": p.body,
        "previous_ticket_state": ws.ticket_state(p.previous_state).category,
        "ticket_state": ws.ticket_state(p.state).category,
        "created_at": p.created_at,
        "updated_at": p.created_at,
        "author": _author(ws, p.author_type, p.author_id),
        "attachments": [],
        "external_id": None,
        "redacted": False,
    }


def error(status_code: str, message: str | None, request_id: str | None) -> dict[str, Any]:
    """Intercom's `error.list` envelope."""
    return {
        "type": "error.list",
        "request_id": request_id,
        "errors": [{"code": status_code, "message": message}],
    }


def ticket_state(s: TicketState, types: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """A ticket state; GET /ticket_states adds the ticket types that use it (every type here)."""
    body: dict[str, Any] = {
        "type": "ticket_state",
        "id": s.id,
        "category": s.category,
        "internal_label": s.internal_label,
        "external_label": s.external_label,
    }
    if types is not None:
        body["archived"] = False
        body["ticket_types"] = {"type": "list", "data": types}
    return body


def ticket_type(t: TicketType, ws: Workspace, with_states: bool = True) -> dict[str, Any]:
    """A ticket type, its default title and description attributes, and its states."""
    body: dict[str, Any] = {
        "type": "ticket_type",
        "id": t.id,
        "category": t.category,
        "name": t.name,
        "description": t.description,
        "icon": t.icon,
        "workspace_id": ws.app_id,
        "archived": False,
        "created_at": t.created_at,
        "updated_at": t.updated_at,
        "ticket_type_attributes": {
            "type": "list",
            "ticket_type_attributes": [
                _ticket_type_attribute(t, ws, name, order)
                for order, name in enumerate(("_default_title_", "_default_description_"))
            ],
        },
    }
    if with_states:
        states = [ticket_state(s) for s in ws.ticket_states]
        body["ticket_states"] = {"type": "list", "data": states}
    return body


def _ticket_type_attribute(t: TicketType, ws: Workspace, name: str, order: int) -> dict[str, Any]:
    """The two default attributes every Intercom ticket type has."""
    return {
        "type": "ticket_type_attribute",
        "id": f"{t.id}{order + 1:02d}",
        "workspace_id": ws.app_id,
        "name": name,
        "description": "",
        "data_type": "string",
        "input_options": {"multiline": order == 1},
        "order": order,
        "required_to_create": False,
        "required_to_create_for_contacts": False,
        "visible_on_create": True,
        "visible_to_contacts": True,
        "default": True,
        "ticket_type_id": int(t.id) if t.id.isdigit() else None,
        "archived": False,
        "created_at": t.created_at,
        "updated_at": t.updated_at,
    }
