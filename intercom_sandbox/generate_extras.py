"""Data the read-only routes need that the generator never made: activity and handling events.

Drawn from its own `random.Random`, seeded from the workspace seed, so adding it leaves every
object the generator makes byte-identical for a given seed and scale.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime
from functools import cache
from typing import Any

from intercom_sandbox.model import Conversation
from intercom_sandbox.workspace import DAY, Workspace

ACTIVITY_SPAN_DAYS = 365
# (activity_type, description template, weight): logins dominate, settings changes are rare.
ACTIVITY_KINDS: tuple[tuple[str, str, int], ...] = (
    ("admin_login_success", "{name} successfully logged in.", 20),
    ("admin_logout", "{name} logged out.", 8),
    ("admin_login_failure", "{name} failed to log in.", 2),
    ("admin_away_mode_change", "{name} changed their away mode.", 6),
    ("app_team_membership_modification", "{name} changed a team's membership.", 2),
    ("admin_permission_change", "{name} changed a teammate's permissions.", 1),
    ("app_timezone_change", "{name} changed the workspace timezone.", 1),
    ("messenger_look_and_feel_change", "{name} changed the Messenger's look and feel.", 1),
    ("office_hours_change", "{name} changed the office hours.", 1),
)

# The activity types the generated history uses: what GET /admins/activity_log_event_types lists.
EVENT_TYPES: tuple[str, ...] = tuple(sorted(kind for kind, _, _ in ACTIVITY_KINDS))
PAUSE_REASONS: tuple[str, ...] = ("Paused", "Lunch", "Meeting", "End of shift")


def activity_logs(ws: Workspace) -> list[dict[str, Any]]:
    """The workspace's admin activity logs, oldest first; the same list for a seed and `now`."""
    return [dict(log) for log in _activity_logs(ws.seed, ws.now, tuple(_admin_keys(ws)))]


def _admin_keys(ws: Workspace) -> list[tuple[str, str, str]]:
    return [(a.id, a.name, a.email) for a in ws.admins]


@cache
def _activity_logs(
    seed: int, now: int, admins: tuple[tuple[str, str, str], ...]
) -> tuple[dict[str, Any], ...]:
    """A few events per admin per week across the last year, from a dedicated RNG."""
    rng = random.Random(f"{seed}-activity-logs")
    weights = [w for _, _, w in ACTIVITY_KINDS]
    start = now - ACTIVITY_SPAN_DAYS * DAY
    logs = []
    for admin_id, name, email in admins:
        for _ in range(ACTIVITY_SPAN_DAYS // 3):
            kind, template, _ = rng.choices(ACTIVITY_KINDS, weights)[0]
            logs.append(
                {
                    "created_at": rng.randrange(start, now),
                    "performed_by": {
                        "type": "admin",
                        "id": admin_id,
                        "email": email,
                        "ip": f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}",
                    },
                    "activity_type": kind,
                    "activity_description": template.format(name=name),
                    "metadata": _metadata(kind, rng),
                }
            )
    logs.sort(key=lambda log: (log["created_at"], log["performed_by"]["id"]))
    for number, log in enumerate(logs, 1):
        log["id"] = str(number)
    return tuple(logs)


def _metadata(kind: str, rng: random.Random) -> dict[str, Any] | None:
    """The spec's activity_log_metadata fields that fit the kind of activity."""
    if kind == "admin_login_success":
        return {"sign_in_method": rng.choice(("email_password", "google_sso", "saml"))}
    if kind == "admin_away_mode_change":
        return {"away_mode": rng.random() < 0.5, "reassign_conversations": rng.random() < 0.3}
    return None


def handling_events(ws: Workspace, conversation: Conversation) -> list[dict[str, Any]]:
    """Pause/resume pairs of the conversation's assigned admin, between creation and last update.

    Each conversation draws from its own RNG (seed and id), so the answer never depends on which
    conversations were asked for before.
    """
    admin = ws.admin_by_id.get(str(conversation.admin_assignee_id))
    if admin is None or conversation.updated_at <= conversation.created_at:
        return []
    rng = random.Random(f"{ws.seed}-handling-events-{conversation.id}")
    moments = sorted(
        rng.randrange(conversation.created_at, conversation.updated_at)
        for _ in range(2 * rng.choice((0, 0, 1, 1, 2)))
    )
    teammate = {"type": "admin", "id": int(admin.id), "name": admin.name, "email": admin.email}
    return [
        {
            "teammate": teammate,
            "type": "paused" if index % 2 == 0 else "resumed",
            "timestamp": datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "reason": rng.choice(PAUSE_REASONS) if index % 2 == 0 else None,
        }
        for index, moment in enumerate(moments)
    ]
