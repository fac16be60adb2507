"""Reading survey feed files (CSV, JSON Lines) into rows of text, without dlt.

Nothing is coerced or validated here: values arrive as written so that dbt can judge them and
quarantine bad rows with a reason. A line that cannot be parsed at all still becomes a row, with
only its lineage and a `parse_error`, instead of vanishing.
"""

from __future__ import annotations

import csv
import json
import logging
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

# The survey fields a file may carry, in table order.
FIELDS = (
    "response_id",
    "contact_id",
    "external_id",
    "email",
    "conversation_id",
    "metric",
    "score",
    "comment",
    "sent_at",
    "responded_at",
)
# File suffix (lowercase) -> format.
FORMATS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}

# (data row number, survey field values, parse error) of one parsed line.
Record = tuple[int, dict[str, str | None], str | None]


def require_folder(folder: Path) -> Path:
    """The folder itself; raises FileNotFoundError naming it and the setting that points at it."""
    if not folder.is_dir():
        raise FileNotFoundError(
            f"The survey feed folder {folder} does not exist or is not a folder. Create it, or set "
            "SURVEY_FEED_DIR to the folder holding the survey CSV / JSON Lines files."
        )
    return folder


def feed_files(folder: Path) -> list[Path]:
    """The folder's CSV and JSON Lines files (not its subfolders), sorted by name.

    Sorting makes the load order, and so which row wins a tie, the same on every run.
    """
    return sorted(
        (
            path
            for path in require_folder(folder).iterdir()
            if path.suffix.lower() in FORMATS and path.is_file()
        ),
        key=lambda path: path.name,
    )


def read_feed_file(path: Path, modified_at: datetime) -> Iterator[dict[str, Any]]:
    """Every data row of one file, with every survey field (None when absent) and its lineage.

    Args:
        path: A `.csv`, `.jsonl` or `.ndjson` file, UTF-8 (a BOM is tolerated).
        modified_at: The file's modification time, stored as `file_modified_at`.

    Yields:
        One dict per data row: the survey fields as text, `source_file` (the file name),
        `source_line` (1-based data row number: the line in JSON Lines, the record after the
        header in CSV), `file_modified_at` and `parse_error` (None unless the line is unusable).

    Raises:
        ValueError: The file is not UTF-8 text.
    """
    unknown: set[str] = set()
    records = _csv_records if FORMATS[path.suffix.lower()] == "csv" else _jsonl_records
    try:
        for line, values, error in records(path, unknown):
            yield {
                **dict.fromkeys(FIELDS),
                **values,
                "source_file": path.name,
                "source_line": line,
                "file_modified_at": modified_at,
                "parse_error": error,
            }
    except UnicodeDecodeError as exc:
        raise ValueError(
            f"Survey feed file {path} is not UTF-8 text ({exc}); save it as UTF-8."
        ) from exc
    if unknown:
        log.warning(
            "Survey feed file %s has columns that are not survey fields, ignored: %s",
            path.name,
            ", ".join(sorted(unknown)),
        )


def _csv_records(path: Path, unknown: set[str]) -> Iterator[Record]:
    """Rows after the header; a row is numbered by its position after the header.

    CSV cannot tell an empty cell from a missing value, so empty cells become None.
    """
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if header is None:
            return
        names = [_column_name(name) for name in header]
        unknown.update(name for name in names if name not in FIELDS)
        for number, row in enumerate(reader, start=1):
            if not row:  # a blank line
                continue
            if len(row) != len(names):
                error = f"line {reader.line_num}: expected {len(names)} fields, found {len(row)}"
                yield number, {}, error
                continue
            yield (
                number,
                {n: v or None for n, v in zip(names, row, strict=True) if n in FIELDS},
                None,
            )


def _jsonl_records(path: Path, unknown: set[str]) -> Iterator[Record]:
    """One JSON object per line; a row is numbered by its line, blank lines are skipped.

    Numbers are kept as written ("9.50" stays "9.50"), never parsed into floats.
    """
    with path.open(encoding="utf-8-sig") as handle:
        for number, line in enumerate(handle, start=1):
            text = line.rstrip()  # a line break inside a cut-off string is no "control character"
            if not text:
                continue
            try:
                value = json.loads(text, parse_int=str, parse_float=str, parse_constant=str)
            except json.JSONDecodeError as exc:
                yield number, {}, f"line {number}: invalid JSON: {exc.msg} (column {exc.colno})"
                continue
            if not isinstance(value, dict):
                yield number, {}, f"line {number}: not a JSON object"
                continue
            fields = {_column_name(key): _text(item) for key, item in value.items()}
            unknown.update(name for name in fields if name not in FIELDS)
            yield number, {n: v for n, v in fields.items() if n in FIELDS}, None


def _column_name(name: str) -> str:
    """Header and key names match case-insensitively, ignoring surrounding whitespace."""
    return name.strip().lower()


def _text(value: Any) -> str | None:
    """A JSON value as text: strings unchanged, true/false as written, objects as compact JSON."""
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
