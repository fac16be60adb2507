"""Data the read-only routes need beside the generated objects: activity logs, handling events.

Drawn from their own `random.Random`s, seeded from the workspace seed, so adding them leaves every
object the generator makes byte-identical for a given seed and scale. Activity logs are built once
with the workspace and grow when the clock moves; handling events are derived on request.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime
from typing import Any

from intercom_sandbox.model import Admin, Conversation
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


def add_history_logs(ws: Workspace) -> None:
    """The year of logs before the build's clock: a few per admin per week, from a dedicated RNG.

    Built once with the workspace, so moving the clock keeps every log and its id.
    """
    rng = random.Random(f"{ws.seed}-activity-logs")
    start = ws.now - ACTIVITY_SPAN_DAYS * DAY
    logs = [
        _log(rng, admin, start, ws.now)
        for admin in ws.admins
        for _ in range(ACTIVITY_SPAN_DAYS // 3)
    ]
    _append_logs(ws, logs)


def add_activity_logs(
    ws: Workspace, count: int, rng: random.Random, start: int, end: int
) -> list[str]:
    """`count` logs by random admins inside (start, end]; returns their ids, above every older one."""
    logs = [_log(rng, rng.choice(ws.admins), start + 1, end + 1) for _ in range(count)]
    return _append_logs(ws, logs)


def _append_logs(ws: Workspace, logs: list[dict[str, Any]]) -> list[str]:
    """Number the logs in time order after the workspace's last one, and keep them."""
    logs.sort(key=lambda log: (log["created_at"], log["performed_by"]["id"]))
    for number, log in enumerate(logs, len(ws.activity_logs) + 1):
        log["id"] = str(number)
    ws.activity_logs.extend(logs)
    return [log["id"] for log in logs]


def _log(rng: random.Random, admin: Admin, low: int, high: int) -> dict[str, Any]:
    """One log by `admin`, created in [low, high), of a kind drawn by weight."""
    kind, template, _ = rng.choices(ACTIVITY_KINDS, [w for _, _, w in ACTIVITY_KINDS])[0]
    return {
        "created_at": rng.randrange(low, high),
        "performed_by": {
            "type": "admin",
            "id": admin.id,
            "email": admin.email,
            "ip": f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}",
        },
        "activity_type": kind,
        "activity_description": template.format(name=admin.name),
        "metadata": _metadata(kind, rng),
    }


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
