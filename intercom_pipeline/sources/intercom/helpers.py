"""Record shaping and the companies spool (listed or scrolled to disk); no dlt, no Dagster."""

from __future__ import annotations

import fcntl
import hashlib
import logging
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path
from typing import Any, BinaryIO, TypeVar

from dlt.common import json

from intercom_pipeline.sources.intercom.client import (
    IntercomAuthError,
    IntercomClient,
    IntercomError,
    IntercomPermissionError,
)
from intercom_pipeline.sources.intercom.errors import NotIntercom, PaginationLoop
from intercom_pipeline.sources.intercom.settings import (
    COMPANIES_LISTING_REACH,
    COMPANIES_PER_PAGE,
    DELETIONS_ALWAYS_PLAUSIBLE,
    MAX_CONVERSATION_PARTS,
    SCROLL_ATTEMPTS,
    SCROLL_CONFLICT_WAIT_SECONDS,
    TIMESTAMPS,
)

log = logging.getLogger(__name__)

T = TypeVar("T")


def to_timestamp(value: Any) -> Any:
    """Unix seconds to an aware UTC datetime; anything else is returned unchanged."""
    if isinstance(value, int) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, UTC)
    return value


def shape(table: str, record: dict[str, Any], workspace_id: str) -> dict[str, Any]:
    """A raw row: the record as Intercom sent it, its workspace id, and typed timestamps."""
    row = {"workspace_id": workspace_id, **record}
    for column in TIMESTAMPS.get(table, ()):
        if column in row:
            row[column] = to_timestamp(row[column])
    return row


# A link-table column set only on marker rows: dlt's `hard_delete` hint drops them at the merge.
PARENT_MARKER = "parent_marker"


def with_parent_markers(
    rows: list[dict[str, Any]], parents: Iterable[dict[str, str]], child_key: str
) -> list[dict[str, Any]]:
    """Link rows plus one marker row per parent that was read.

    The merge deletes a parent's stored rows only when the load carries its key; the marker
    carries it even when the parent has no children left (its last tag removed), and is itself
    never stored.
    """
    return [*rows, *({**parent, child_key: "", PARENT_MARKER: True} for parent in parents)]


def team_admin_rows(team: dict[str, Any], workspace_id: str) -> list[dict[str, Any]]:
    """Team membership; admin ids become text, as admins' own ids are."""
    return [
        {"workspace_id": workspace_id, "team_id": str(team["id"]), "admin_id": str(admin_id)}
        for admin_id in team.get("admin_ids") or []
    ]


def conversation_row(conversation: dict[str, Any], workspace_id: str) -> dict[str, Any]:
    """A conversation without its parts, flagged when the API cannot return all of them."""
    record = {k: v for k, v in conversation.items() if k != "conversation_parts"}
    total = (record.get("statistics") or {}).get("count_conversation_parts")
    record["count_parts_total"] = total
    record["parts_truncated_by_api"] = bool(total and total > MAX_CONVERSATION_PARTS)
    record.update(ai_agent_columns(record.get("ai_agent")))
    return shape("conversations", record, workspace_id)


# The typed columns of a conversation's `ai_agent` object: column -> its key in the object.
AI_AGENT_FIELDS = {
    "ai_agent_source_type": "source_type",
    "ai_agent_source_title": "source_title",
    "ai_agent_last_answer_type": "last_answer_type",
    "ai_agent_resolution_state": "resolution_state",
    "ai_agent_rating": "rating",
    "ai_agent_rating_remark": "rating_remark",
}


def ai_agent_columns(ai_agent: dict[str, Any] | None) -> dict[str, Any]:
    """The AI agent's fields as columns, all null without the AI agent.

    Its `created_at` (when its rating was given) becomes `ai_agent_rated_at`.
    """
    agent = ai_agent or {}
    columns = {column: agent.get(key) for column, key in AI_AGENT_FIELDS.items()}
    columns["ai_agent_rated_at"] = to_timestamp(agent.get("created_at"))
    return columns


def content_source_rows(conversation: dict[str, Any], workspace_id: str) -> list[dict[str, Any]]:
    """The content sources the AI agent answered a conversation from, in the API's order.

    Intercom gives them no id: `id` is "<conversation id>:<position>", stable because the list
    is replaced whole whenever the conversation is read.
    """
    listing = (conversation.get("ai_agent") or {}).get("content_sources") or {}
    conversation_id = str(conversation["id"])
    return [
        {
            "workspace_id": workspace_id,
            "id": f"{conversation_id}:{position}",
            "conversation_id": conversation_id,
            "position": position,
            "content_type": source.get("content_type"),
            "title": source.get("title"),
            "url": source.get("url"),
            "locale": source.get("locale"),
        }
        for position, source in enumerate(listing.get("content_sources") or [])
    ]


def conversation_contact_rows(
    conversation: dict[str, Any], workspace_id: str
) -> list[dict[str, Any]]:
    contacts = (conversation.get("contacts") or {}).get("contacts") or []
    return [
        {
            "workspace_id": workspace_id,
            "conversation_id": str(conversation["id"]),
            "contact_id": str(c["id"]),
            "external_id": c.get("external_id"),
        }
        for c in contacts
    ]


def part_rows(conversation: dict[str, Any], workspace_id: str) -> list[dict[str, Any]]:
    """Parts of a GET /conversations/{id} answer, each tied to its conversation."""
    parts = (conversation.get("conversation_parts") or {}).get("conversation_parts") or []
    return [
        shape(
            "conversation_parts",
            {**p, "id": str(p["id"]), "conversation_id": str(conversation["id"])},
            workspace_id,
        )
        for p in parts
    ]


def handling_event_rows(
    events: list[dict[str, Any]], conversation_id: str, workspace_id: str
) -> list[dict[str, Any]]:
    """Pause/resume events of one conversation, keyed by their place in its list.

    Intercom gives them no id; the list is replaced whole each time the conversation is read,
    so `<conversation id>:<position>` is stable between loads. `timestamp` (ISO 8601) becomes
    `occurred_at`.
    """
    return [
        {
            "workspace_id": workspace_id,
            "id": f"{conversation_id}:{position}",
            "conversation_id": conversation_id,
            "type": event.get("type"),
            "occurred_at": _iso_timestamp(event.get("timestamp")),
            "teammate_id": text_id((event.get("teammate") or {}).get("id")),
            "teammate": event.get("teammate"),
            "reason": event.get("reason"),
        }
        for position, event in enumerate(events)
    ]


def _iso_timestamp(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def text_id(value: Any) -> str | None:
    """An id as text (Intercom sends some as numbers), None staying None."""
    return None if value is None else str(value)


def ticket_part_rows(ticket: dict[str, Any], workspace_id: str) -> list[dict[str, Any]]:
    parts = (ticket.get("ticket_parts") or {}).get("ticket_parts") or []
    return [
        shape(
            "ticket_parts", {**p, "id": str(p["id"]), "ticket_id": str(ticket["id"])}, workspace_id
        )
        for p in parts
    ]


def ticket_row(ticket: dict[str, Any], workspace_id: str) -> dict[str, Any]:
    return shape("tickets", {k: v for k, v in ticket.items() if k != "ticket_parts"}, workspace_id)


def embedded_ids(contact: dict[str, Any], key: str) -> list[str] | None:
    """Ids of a contact's embedded list, or None when Intercom truncated it (has_more)."""
    embedded = contact.get(key) or {}
    if embedded.get("has_more"):
        return None
    return [str(item["id"]) for item in embedded.get("data") or []]


def workspace_key(client: IntercomClient) -> str:
    """A stable, secret-free name for one workspace's credentials (for lock files)."""
    token = client.settings.access_token.reveal()
    return hashlib.sha256(f"{client.settings.base_url}|{token}".encode()).hexdigest()[:16]


@contextmanager
def scroll_lock(client: IntercomClient, lock_dir: Path | None = None) -> Iterator[None]:
    """Hold the workspace's one companies scroll across every thread and process on this host."""
    directory = lock_dir or Path(tempfile.gettempdir())
    path = directory / f"intercom-scroll-{workspace_key(client)}.lock"
    with path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextmanager
def spooled_companies(
    client: IntercomClient,
    *,
    conflict_wait: float = SCROLL_CONFLICT_WAIT_SECONDS,
    lock_dir: Path | None = None,
    listing_reach: int = COMPANIES_LISTING_REACH,
) -> Iterator[BinaryIO]:
    """Every company, read into an unnamed temporary file (a JSON line each).

    By the pages of GET /companies where they reach every company (`spool_listing`): a failed
    page is sent again on its own. Otherwise through the scroll, whose failed page costs a
    restart that waits for the broken scroll to expire; it must be read to its end under the
    lock and without pausing (an idle scroll expires after a minute), so it cannot be yielded
    page by page to dlt. Either way the file, not a list, holds the companies: memory stays flat
    whatever their number. The file is gone once closed, and with the process if it dies. Read
    it with `spooled_pages`.
    """
    with tempfile.TemporaryFile(prefix="intercom-companies-") as spool:
        if not spool_listing(client, spool, reach=listing_reach):
            with scroll_lock(client, lock_dir):
                spool_scroll(client, spool, conflict_wait=conflict_wait)
        spool.seek(0)
        yield spool


def spool_listing(
    client: IntercomClient, spool: BinaryIO, *, reach: int = COMPANIES_LISTING_REACH
) -> bool:
    """Write every company to `spool` from GET /companies' pages; False if the scroll must.

    The pages reach `reach` companies at most, so the first answer's total_count decides. The
    listing is sorted (by last_request_at) and live: a company that moves or goes while it is
    paged shifts others across a page boundary, unseen, and the deletions reconciliation would
    mark one it missed deleted. So the listing counts only when proven complete, with as many
    distinct ids as the largest total_count reported before and after it; a company seen twice
    is written twice (the merge keeps its latest values).
    """
    before = _listed_total(client)
    if before is None or before > reach:
        reported = "no total_count" if before is None else f"{before:,}, over {reach:,}"
        log.info("companies read through the scroll: GET /companies counts %s", reported)
        return False
    seen: set[str] = set()
    for company in client.numbered_pages("/companies", per_page=COMPANIES_PER_PAGE):
        seen.add(company["id"])
        spool.write(json.dumpb(company) + b"\n")
    total = max(before, _listed_total(client) or 0)
    if len(seen) >= total:
        spool.flush()
        return True
    log.warning(
        "GET /companies listed %d distinct companies of the %d it reported: some moved between "
        "its pages while they were read (or it reaches fewer than %d); reading them through the "
        "scroll instead",
        len(seen),
        total,
        reach,
    )
    return False


def _listed_total(client: IntercomClient) -> int | None:
    """GET /companies' total_count now (one company asked for), None if it reports none."""
    answer = client.request("GET", "/companies", params={"page": 1, "per_page": 1})
    total = answer.get("total_count")
    return total if isinstance(total, int) and not isinstance(total, bool) else None


def spool_scroll(
    client: IntercomClient,
    spool: BinaryIO,
    *,
    conflict_wait: float = SCROLL_CONFLICT_WAIT_SECONDS,
    attempts: int = SCROLL_ATTEMPTS,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Write every company once to `spool`, restarting the scroll from scratch when it fails.

    Intercom allows one open scroll per app. A `scroll_exists` answer means another client holds
    it: wait for it to expire, then start again. An expired or broken scroll cannot be resumed, so
    it restarts too, into an emptied spool: nothing is duplicated, and nothing is remembered
    between attempts. A scroll broken by a failed page is still open on Intercom's side until it
    expires, so that restart waits as long as a conflict; only an expired one restarts at once.
    """
    for attempt in range(1, attempts + 1):
        spool.seek(0)
        spool.truncate()
        try:
            for company in client.scroll():
                spool.write(json.dumpb(company) + b"\n")
            spool.flush()
            return
        except (IntercomAuthError, IntercomPermissionError, PaginationLoop, NotIntercom):
            raise  # a refused token, a missing plan, a scroll that never ends: not fixed by restarting
        except IntercomError as exc:
            if attempt == attempts:
                raise IntercomError(
                    f"the companies scroll failed {attempts} times, last: {exc}. Another "
                    "integration may hold this workspace's only scroll; try again later."
                ) from None
            wait = 1.0 if exc.code == "scroll_param_not_found" else conflict_wait
            log.warning("companies scroll failed (%s); restarting in %.0fs", exc, wait)
            sleep(wait)


def spooled_pages(spool: BinaryIO, size: int) -> Iterator[list[dict[str, Any]]]:
    """The spooled records, `size` at a time: only one page is ever in memory."""
    return in_pages((json.loadb(line) for line in spool), size)


def in_pages(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """`items`, `size` at a time (the last page shorter), read lazily: one page in memory."""
    iterator = iter(items)
    while page := list(islice(iterator, size)):
        yield page


class ImplausibleDeletions(RuntimeError):
    """The reconciliation would mark too many of a table's stored ids deleted; it marks none."""

    def __init__(
        self, table: str, workspace_id: str, vanished: int, stored: int, max_share: float
    ) -> None:
        self.table, self.vanished, self.stored = table, vanished, stored
        super().__init__(
            f"{table}: {vanished} of the {stored} ids stored for workspace {workspace_id} are "
            f"missing from Intercom's full listing, more than the {max_share:.0%} allowed; none "
            "was marked deleted. A listing cut short is likelier than a mass deletion, so the "
            "next run checks again. If they really were deleted, accept it for one run: "
            "`intercom-pipeline ingest --accept-mass-deletions deletions`, or in Dagster the "
            "run config `accept_mass_deletions: true` (or SOURCES__INTERCOM__MAX_DELETION_SHARE=1 "
            "for the runs it is set)."
        )


def check_deletion_share(
    table: str, workspace_id: str, vanished: int, stored: int, max_share: float
) -> None:
    """Refuse to mark more than `max_share` of the stored ids deleted (beyond a handful)."""
    if vanished > max(DELETIONS_ALWAYS_PLAUSIBLE, stored * max_share):
        raise ImplausibleDeletions(table, workspace_id, vanished, stored, max_share)


def write_ids(path: Path, ids: Iterable[str]) -> None:
    """Ids as JSON lines (`{"id": ...}`), for DuckDB to read with `read_json` in bounded memory."""
    with path.open("wb") as out:
        for record_id in ids:
            out.write(json.dumpb({"id": record_id}) + b"\n")
