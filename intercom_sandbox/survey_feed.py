"""A deterministic external survey feed about a sandbox workspace: one CSV, one JSON Lines file.

It gives the survey feed loader and the dbt checks realistic input: mostly valid answers from
the workspace's contacts, some sent but never answered, and a handful of deliberately bad rows
(an NPS of 11, an unknown metric, an unknown CSAT label, an unknown contact, a malformed JSON
line) that dbt must quarantine rather than count.
"""

from __future__ import annotations

import csv
import json
import random
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from intercom_sandbox.generator import HOUR, MINUTE, RATING_WEIGHTS, hex_id
from intercom_sandbox.model import Contact, Conversation
from intercom_sandbox.workspace import DAY, Workspace

NPS_FILE = "nps_2026.csv"
CSAT_CES_FILE = "csat_ces.jsonl"
SURVEYED_SHARE = 0.15  # of visible contacts; each gets one NPS/5-STAR and one CSAT/CES survey
WINDOW_DAYS = 90  # surveys were sent within this many days before the workspace clock
UNANSWERED_SHARE = 0.12
# The CSV has no conversation_id: relationship surveys are not about one conversation, and the
# loader must still give the table that column.
CSV_COLUMNS = (
    "response_id",
    "contact_id",
    "external_id",
    "email",
    "metric",
    "score",
    "comment",
    "sent_at",
    "responded_at",
)
CSAT_LABELS = ("Very unsatisfied", "Unsatisfied", "Neutral", "Satisfied", "Very satisfied")
NPS_WEIGHTS = (2, 1, 1, 2, 2, 4, 5, 9, 14, 25, 35)  # scores 0..10: mostly promoters
CSAT_WEIGHTS = (5, 8, 12, 35, 40)
CES_WEIGHTS = (30, 25, 15, 12, 8, 6, 4)  # 1 (effortless) .. 7
NPS_COMMENTS = {
    "detractor": (
        "Too expensive for what we get",
        "Support took days to answer, again",
        'The "new" dashboard is confusing',
        "Export to CSV keeps failing",
    ),
    "passive": (
        "Does the job, but setup was slow",
        "Good product; pricing could be clearer",
        "Fine overall",
    ),
    "promoter": (
        "Great support, fast answers",
        "Love the new reports!",
        "Would recommend to any team, honestly",
        "Saves us hours every week",
    ),
}
CONVERSATION_COMMENTS = (
    "Quick fix, thanks",
    "Had to explain my problem twice",
    "Easy",
    "Took too many steps to get an answer",
    "The agent was lovely",
)


def write_demo_survey_feed(workspace: Workspace, folder: Path, seed: int = 1) -> list[Path]:
    """Write the demo feed files into `folder` (created if missing); returns their paths.

    The same workspace and seed always give byte-identical files. At demo scale that is about
    300 rows in each file.
    """
    rng = random.Random(seed)
    visible = workspace.visible_contacts()
    surveyed = rng.sample(visible, round(len(visible) * SURVEYED_SHARE))
    conversations = _recent_conversations(workspace)
    nps = [_nps_row(rng, workspace.now, c, n) for n, c in enumerate(surveyed, start=1)]
    cx = [
        _csat_ces_row(rng, workspace.now, c, conversations.get(c.id), n)
        for n, c in enumerate(surveyed, start=1)
    ]
    _spoil_nps(rng, nps)
    lines = _spoil_csat_ces(rng, cx)
    folder.mkdir(parents=True, exist_ok=True)
    return [_write_csv(folder / NPS_FILE, nps), _write_lines(folder / CSAT_CES_FILE, lines)]


def _recent_conversations(workspace: Workspace) -> dict[str, Conversation]:
    """Each contact's latest conversation that a survey within the window can be about."""
    now = workspace.now
    latest: dict[str, Conversation] = {}
    for conversation in sorted(workspace.conversations, key=lambda c: c.created_at):
        if now - WINDOW_DAYS * DAY <= conversation.created_at <= now - 2 * DAY:
            latest.update(dict.fromkeys(conversation.contact_ids, conversation))
    return latest


def _nps_row(rng: random.Random, now: int, contact: Contact, number: int) -> dict[str, Any]:
    """One NPS (0-10) or 5-STAR (1-5) survey, with ISO-8601 times."""
    sent = now - rng.randint(DAY, WINDOW_DAYS * DAY)
    return {
        "response_id": f"NPS26-{number:04d}",
        **_identity(rng, contact),
        "sent_at": _time(sent, as_unix=False),
        **_answer(rng, sent, _nps_score(rng), as_unix=False),
    }


def _nps_score(rng: random.Random) -> tuple[str, int, str | None]:
    """(metric, score, comment) of an answered NPS or 5-STAR survey."""
    if rng.random() < 0.2:
        stars = rng.choices(range(1, 6), RATING_WEIGHTS)[0]
        return "5-STAR", stars, rng.choice(CONVERSATION_COMMENTS) if rng.random() < 0.3 else None
    score = rng.choices(range(11), NPS_WEIGHTS)[0]
    band = "detractor" if score <= 6 else "passive" if score <= 8 else "promoter"
    return "NPS", score, rng.choice(NPS_COMMENTS[band]) if rng.random() < 0.6 else None


def _csat_ces_row(
    rng: random.Random, now: int, contact: Contact, conversation: Conversation | None, number: int
) -> dict[str, Any]:
    """One CSAT or CES survey, about the contact's recent conversation when there is one.

    Times are unix seconds for about half the rows and ISO-8601 for the rest, as feeds mix them.
    """
    if conversation is None:
        sent = now - rng.randint(DAY, WINDOW_DAYS * DAY)
    else:
        sent = conversation.created_at + rng.randint(HOUR, DAY)
    as_unix = rng.random() < 0.5
    return {
        "response_id": f"CX-{number:04d}",
        **_identity(rng, contact),
        "conversation_id": conversation.id if conversation else None,
        "sent_at": _time(sent, as_unix),
        **_answer(rng, sent, _csat_ces_score(rng), as_unix),
    }


def _csat_ces_score(rng: random.Random) -> tuple[str, int | str, str | None]:
    """(metric, score, comment): CSAT as a button label or a number 1-5, or CES 1-7."""
    comment = rng.choice(CONVERSATION_COMMENTS) if rng.random() < 0.3 else None
    if rng.random() < 0.4:
        return "CES", rng.choices(range(1, 8), CES_WEIGHTS)[0], comment
    score = rng.choices(range(1, 6), CSAT_WEIGHTS)[0]
    return "CSAT", CSAT_LABELS[score - 1] if rng.random() < 0.5 else score, comment


def _identity(rng: random.Random, contact: Contact) -> dict[str, str]:
    """Mostly the Intercom contact id; sometimes the external id (users only) or the email."""
    roll = rng.random()
    if roll < 0.1 and contact.external_id:
        return {"external_id": contact.external_id}
    if roll < 0.2:
        return {"email": contact.email}
    return {"contact_id": contact.id}


def _answer(
    rng: random.Random, sent: int, answer: tuple[str, int | str, str | None], as_unix: bool
) -> dict[str, Any]:
    """Metric, score, comment and response time; no score, comment or time when unanswered.

    The response comes within a day of sending, so always before the clock (sent <= now - 1 day).
    """
    metric, score, comment = answer
    if rng.random() < UNANSWERED_SHARE:
        return {"metric": metric, "score": None, "comment": None, "responded_at": None}
    responded = sent + rng.randint(MINUTE, DAY - MINUTE)
    return {
        "metric": metric,
        "score": score,
        "comment": comment,
        "responded_at": _time(responded, as_unix),
    }


def _spoil_nps(rng: random.Random, rows: list[dict[str, Any]]) -> None:
    """An NPS score out of range (11) and an unknown metric ("NPX")."""
    out_of_range, unknown_metric = rng.sample(
        [row for row in rows if row["metric"] == "NPS" and row["score"] is not None], 2
    )
    out_of_range["score"] = 11
    unknown_metric["metric"] = "NPX"


def _spoil_csat_ces(rng: random.Random, rows: list[dict[str, Any]]) -> list[str]:
    """An unknown CSAT label ("Meh"), an unknown contact and a malformed line; returns the lines.

    Keys without a value are left out of a line, as many exporters do.
    """
    meh = rng.choice([row for row in rows if row["score"] in CSAT_LABELS])
    meh["score"] = "Meh"
    stranger, broken = rng.sample([row for row in rows if row is not meh], 2)
    for key in ("contact_id", "external_id", "email"):
        stranger.pop(key, None)
    stranger["contact_id"] = hex_id(rng)  # 96 random bits: no workspace contact has it
    lines = []
    for row in rows:
        line = json.dumps({k: v for k, v in row.items() if v is not None}, ensure_ascii=False)
        lines.append(line[: len(line) // 2] if row is broken else line)
    return lines


def _write_csv(path: Path, rows: list[dict[str, Any]]) -> Path:
    """With a BOM, like a spreadsheet's "CSV UTF-8" export."""
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.DictWriter(handle, CSV_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return path


def _write_lines(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    return path


def _time(moment: int, as_unix: bool) -> int | str:
    """Unix seconds as they are, or ISO-8601 in UTC."""
    return moment if as_unix else datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
