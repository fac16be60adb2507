"""Intercom's pagination styles: opaque forward cursors, page numbers, and `pages` objects.

Cursors are keyset cursors (the sort key of the last item returned, base64 JSON, so they look
like Intercom's `WzE3...`): a walk never repeats or skips an item that did not change meanwhile.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from intercom_sandbox.errors import ApiError

SortKey = tuple[Any, str]


def encode_cursor(key: SortKey) -> str:
    return base64.b64encode(json.dumps(list(key), separators=(",", ":")).encode()).decode()


def decode_cursor(cursor: str) -> SortKey:
    try:
        value, item_id = json.loads(base64.b64decode(cursor, validate=True))
        return (value, str(item_id))
    except (binascii.Error, ValueError, TypeError) as exc:
        raise ApiError(
            400,
            "client_error",
            f"Invalid starting_after param: {cursor!r} is not a cursor from a previous page",
        ) from exc


def per_page_param(raw: Any, default: int, maximum: int) -> int:
    """Validate a per_page value; Intercom rejects values outside 1..maximum."""
    if raw is None:
        return default
    # A JSON body's per_page must be an integer (the spec's type): int(True) or int(2.5) would
    # quietly turn a client's mistake into a page size.
    if isinstance(raw, bool) or (isinstance(raw, float) and not raw.is_integer()):
        raise ApiError(400, "parameter_invalid", f"per_page must be an integer, got {raw!r}")
    try:
        value = int(raw)
    except (TypeError, ValueError) as exc:
        raise ApiError(
            400, "parameter_invalid", f"per_page must be an integer, got {raw!r}"
        ) from exc
    if not 1 <= value <= maximum:
        raise ApiError(
            400, "parameter_invalid", f"per_page must be between 1 and {maximum}, got {value}"
        )
    return value


@dataclass(frozen=True)
class SortedResult:
    """A result set in ascending key order, walked forwards or backwards by cursor pages."""

    keys: list[SortKey]
    items: list[Any]
    descending: bool

    def page(self, per_page: int, starting_after: str | None) -> tuple[list[Any], dict[str, Any]]:
        """One page and Intercom's `cursor_pages` object for it."""
        total = len(self.items)
        if starting_after:
            key = decode_cursor(starting_after)
            if self.descending:
                start = total - bisect.bisect_left(self.keys, key)
            else:
                start = bisect.bisect_right(self.keys, key)
        else:
            start = 0
        if self.descending:
            chunk_indexes = range(total - 1 - start, max(-1, total - 1 - start - per_page), -1)
        else:
            chunk_indexes = range(start, min(total, start + per_page))
        chunk = [self.items[i] for i in chunk_indexes]
        pages: dict[str, Any] = {
            "type": "pages",
            "page": start // per_page + 1,
            "per_page": per_page,
            "total_pages": max(1, -(-total // per_page)),
        }
        if chunk and start + len(chunk) < total:
            last = chunk_indexes[-1]
            pages["next"] = {
                "page": pages["page"] + 1,
                "starting_after": encode_cursor(self.keys[last]),
            }
        return chunk, pages


def sort_result(items: Sequence[Any], keys: Sequence[SortKey], descending: bool) -> SortedResult:
    order = sorted(range(len(items)), key=keys.__getitem__)
    return SortedResult([keys[i] for i in order], [items[i] for i in order], descending)


def number_page(items: Sequence[Any], page: int, per_page: int) -> tuple[list[Any], dict[str, Any]]:
    """Page-number paging: one page and the `pages` object (next is null on the last page)."""
    total_pages = max(1, -(-len(items) // per_page))
    start = (page - 1) * per_page
    pages: dict[str, Any] = {
        "type": "pages",
        "page": page,
        "per_page": per_page,
        "total_pages": total_pages,
        "next": None,
    }
    if page < total_pages:
        pages["next"] = {"page": page + 1, "starting_after": None}
    return list(items[start : start + per_page]), pages


def page_param(raw: Any) -> int:
    if raw is None:
        return 1
    try:
        value = int(raw)
    except (TypeError, ValueError) as exc:
        raise ApiError(400, "parameter_invalid", f"page must be an integer, got {raw!r}") from exc
    if value < 1:
        raise ApiError(400, "parameter_invalid", f"page must be 1 or more, got {value}")
    return value
