"""Constants of the Intercom source: page sizes, lookbacks, and the typed columns of each table."""

from typing import Any

PAGE_SIZE = 150  # the largest page Intercom serves on lists and searches
DAY = 86_400
# Contact search matches dates by whole day, so an incremental contact sync re-reads a day.
CONTACTS_LOOKBACK_SECONDS = DAY
DELETED_CONVERSATIONS_PAGE = 60  # the most GET /conversations/deleted serves a page
DEFAULT_PART_FETCH_WORKERS = 48
MAX_CONVERSATION_PARTS = 500  # GET /conversations/{id} returns at most the 500 most recent
SCROLL_ATTEMPTS = 5
SCROLL_CONFLICT_WAIT_SECONDS = 61.0  # an unused scroll expires after a minute
# The deletions reconciliation refuses to mark more than this share of a table's stored (not yet
# deleted) ids in one run, beyond a handful: a listing cut short is likelier than a mass deletion.
MAX_DELETION_SHARE = 0.5
DELETIONS_ALWAYS_PLAUSIBLE = 10

# Unix-second fields that become timestamps, per table.
TIMESTAMPS: dict[str, tuple[str, ...]] = {
    "segments": ("created_at", "updated_at"),
    "data_attributes": ("created_at", "updated_at"),
    "help_centers": ("created_at", "updated_at"),
    "collections": ("created_at", "updated_at"),
    "articles": ("created_at", "updated_at"),
    "companies": ("created_at", "updated_at", "remote_created_at", "last_request_at"),
    "contacts": (
        "created_at",
        "updated_at",
        "signed_up_at",
        "last_seen_at",
        "last_replied_at",
        "last_contacted_at",
        "last_email_opened_at",
        "last_email_clicked_at",
        "android_last_seen_at",
        "ios_last_seen_at",
    ),
    "conversations": ("created_at", "updated_at", "waiting_since", "snoozed_until"),
    "conversation_parts": ("created_at", "updated_at", "notified_at"),
    "tickets": ("created_at", "updated_at", "snoozed_until"),
    "ticket_parts": ("created_at", "updated_at"),
    "deletions": ("deleted_at",),
    "admin_activity_logs": ("created_at",),
    "conversation_handling_events": ("occurred_at",),
    "ticket_types": ("created_at", "updated_at"),
}

# Columns whose type is fixed whatever the data says: ids stay text, assignees are integers
# (0 or null when unassigned), nested objects and custom attributes are kept whole as JSON.
_TEXT = {"data_type": "text"}
_JSON = {"data_type": "json"}
_BIGINT = {"data_type": "bigint"}
_BOOL = {"data_type": "bool"}
COLUMNS: dict[str, dict[str, dict[str, Any]]] = {
    "admins": {"id": _TEXT, "team_ids": _JSON},
    "teams": {"id": _TEXT, "admin_ids": _JSON},
    "team_admins": {"team_id": _TEXT, "admin_id": _TEXT},
    "tags": {"id": _TEXT},
    "segments": {"id": _TEXT, "count": _BIGINT},
    "data_attributes": {"id": _BIGINT, "name": _TEXT, "model": _TEXT, "options": _JSON},
    "help_centers": {"id": _TEXT},
    "collections": {"id": _TEXT, "parent_id": _TEXT, "help_center_id": _BIGINT},
    "articles": {"id": _TEXT, "author_id": _BIGINT, "parent_ids": _JSON, "body": _TEXT},
    "companies": {
        "id": _TEXT,
        "company_id": _TEXT,
        # A company read twice in one load (the scroll may return it again) keeps its latest.
        "updated_at": {"data_type": "timestamp", "dedup_sort": "desc"},
        "custom_attributes": _JSON,
        "monthly_spend": _BIGINT,
    },
    "contacts": {
        "id": _TEXT,
        "external_id": _TEXT,
        "owner_id": _TEXT,
        "phone": _TEXT,
        "name": _TEXT,
        "custom_attributes": _JSON,
        "unsubscribed_from_emails": _BOOL,
    },
    "contact_tags": {"contact_id": _TEXT, "tag_id": _TEXT},
    "contact_companies": {"contact_id": _TEXT, "company_id": _TEXT},
    "conversations": {
        "id": _TEXT,
        "title": _TEXT,
        "admin_assignee_id": _BIGINT,
        "team_assignee_id": _BIGINT,
        "custom_attributes": _JSON,
        "statistics": _JSON,
        "conversation_rating": _JSON,
        "sla_applied": _JSON,
        "source": _JSON,
        "tags": _JSON,
        "count_parts_total": _BIGINT,
        "parts_truncated_by_api": _BOOL,
        # The AI agent's part (Fin), kept whole and its fields typed; null without the AI agent.
        "ai_agent": _JSON,
        "ai_agent_source_type": _TEXT,
        "ai_agent_source_title": _TEXT,
        "ai_agent_last_answer_type": _TEXT,
        "ai_agent_resolution_state": _TEXT,
        "ai_agent_rating": _BIGINT,
        "ai_agent_rating_remark": _TEXT,
        "ai_agent_rated_at": {"data_type": "timestamp"},
    },
    "conversation_parts": {
        "id": _TEXT,
        "conversation_id": _TEXT,
        "body": _TEXT,
        "author": _JSON,
        "attachments": _JSON,
        "assigned_to": _JSON,
        "tags": _JSON,
    },
    "conversation_contacts": {
        "conversation_id": _TEXT,
        "contact_id": _TEXT,
        "external_id": _TEXT,
    },
    "conversation_content_sources": {
        "id": _TEXT,
        "conversation_id": _TEXT,
        "position": _BIGINT,
        "content_type": _TEXT,
        "title": _TEXT,
        "url": _TEXT,
        "locale": _TEXT,
    },
    "tickets": {
        "id": _TEXT,
        "ticket_id": _TEXT,
        "admin_assignee_id": _BIGINT,
        "team_assignee_id": _BIGINT,
        "ticket_attributes": _JSON,
        "ticket_state": _JSON,
        "ticket_type": _JSON,
        "linked_objects": _JSON,
        "contacts": _JSON,
        "previous_ticket_state_id": _TEXT,
    },
    "ticket_parts": {"id": _TEXT, "ticket_id": _TEXT, "body": _TEXT, "author": _JSON},
    "deletions": {"object_type": _TEXT, "id": _TEXT, "metrics_retained": _BOOL},
    "admin_activity_logs": {
        "id": _TEXT,
        "performed_by": _JSON,
        "performed_by_id": _TEXT,
        "performed_by_email": _TEXT,
        "performed_by_ip": _TEXT,
        "metadata": _JSON,
        "activity_type": _TEXT,
        "activity_description": _TEXT,
    },
    "conversation_handling_events": {
        "id": _TEXT,
        "conversation_id": _TEXT,
        "type": _TEXT,
        "teammate_id": _TEXT,
        "teammate": _JSON,
        "reason": _TEXT,
    },
    "ticket_types": {
        "id": _TEXT,
        "name": _TEXT,
        "description": _TEXT,
        "ticket_type_attributes": _JSON,
    },
    "ticket_states": {
        "id": _TEXT,
        "category": _TEXT,
        "internal_label": _TEXT,
        "external_label": _TEXT,
        "ticket_type_ids": _JSON,
    },
}

# A paginated walk stops with an error past this many pages, whatever the server says: the
# bench scale (100,000 conversations, 150 a page) needs 667; this allows 1,000,000 records.
MAX_WALK_PAGES = 1_000_000 // PAGE_SIZE

# Companies are read by the pages of GET /companies where those reach them all: Intercom's page
# listings stop at 10,000 companies (only the scroll reaches more). 60 a page: the most known to
# be served for companies (the spec states no maximum).
COMPANIES_LISTING_REACH = 10_000
COMPANIES_PER_PAGE = 60
