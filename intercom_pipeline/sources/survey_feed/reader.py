"""Reading survey feed files (CSV, JSON Lines) into rows of text, without dlt.

Nothing is coerced or validated here: values arrive as written so that dbt can judge them and
quarantine bad rows with a reason. A line that cannot be parsed at all still becomes a row, with
only its lineage and a `parse_error`, instead of vanishing.
"""

from __future__ import annotations

import csv
import io
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
# A whole file that cannot be read is one row with this source_line and the reason as parse_error.
WHOLE_FILE_LINE = 0
# Leading bytes of files that are often saved with a .csv / .jsonl name by mistake.
SIGNATURES = (
    (b"PK\x03\x04", "a ZIP archive (an Excel .xlsx workbook is one)"),
    (b"%PDF", "a PDF document"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"\xd0\xcf\x11\xe0", "an old Excel .xls workbook"),
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
)
FORMAT_NAMES = {"csv": "a CSV file", "jsonl": "a JSON Lines file"}


class UnreadableFileError(ValueError):
    """A feed file that is not UTF-8 CSV / JSON Lines at all; the message says why and the fix."""


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

    The file is checked whole before its first row: one that is not UTF-8 text, or not CSV /
    JSON Lines at all, raises and yields nothing (see `file_problem`).

    Args:
        path: A `.csv`, `.jsonl` or `.ndjson` file, UTF-8 (a BOM is tolerated).
        modified_at: The file's modification time, stored as `file_modified_at`.

    Yields:
        One dict per data row: the survey fields as text, `source_file` (the file name),
        `source_line` (1-based data row number: the line in JSON Lines, the record after the
        header in CSV), `file_modified_at` and `parse_error` (None unless the line is unusable).

    Raises:
        UnreadableFileError: The file is not UTF-8 text, or not CSV / JSON Lines at all.
    """
    text = _file_text(path)
    unknown: set[str] = set()
    records = _csv_records if FORMATS[path.suffix.lower()] == "csv" else _jsonl_records
    for line, values, error in records(text, unknown):
        yield _row(path, line, modified_at, values, error)
    if unknown:
        log.warning(
            "Survey feed file %s has columns that are not survey fields, ignored: %s",
            path.name,
            ", ".join(sorted(unknown)),
        )


def unreadable_file_row(path: Path, modified_at: datetime, reason: str) -> dict[str, Any]:
    """The one row standing for a whole unreadable file: line 0, the reason as `parse_error`."""
    return _row(path, WHOLE_FILE_LINE, modified_at, {}, f"whole file not loaded: {reason}")


def file_problem(path: Path) -> str | None:
    """Why the file cannot be read at all ("not UTF-8: ... — save it as UTF-8"), or None."""
    try:
        _file_text(path)
    except UnreadableFileError as exc:
        return str(exc)
    return None


def _row(
    path: Path,
    line: int,
    modified_at: datetime,
    values: dict[str, str | None],
    error: str | None,
) -> dict[str, Any]:
    return {
        **dict.fromkeys(FIELDS),
        **values,
        "source_file": path.name,
        "source_line": line,
        "file_modified_at": modified_at,
        "parse_error": error,
    }


def _file_text(path: Path) -> str:
    """The file's text (a UTF-8 BOM dropped), after checking it is UTF-8 CSV / JSON Lines at all.

    Encodings are never guessed: Latin-1 or UTF-16 text is "not UTF-8", with the fix.

    Raises:
        UnreadableFileError: Binary data, another encoding, or (JSON Lines) no line is a JSON
            object; the message names the problem and the fix.
    """
    kind = FORMATS[path.suffix.lower()]
    expected = FORMAT_NAMES[kind]
    fix = "export it as CSV UTF-8" if kind == "csv" else "write one JSON object per line, UTF-8"
    data = path.read_bytes()
    for signature, what in SIGNATURES:
        if data.startswith(signature):
            raise UnreadableFileError(f"not {expected}: it is {what} — {fix}")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise UnreadableFileError("not UTF-8: it is UTF-16 text — save it as UTF-8")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        if b"\x00" in data:
            raise UnreadableFileError(
                f"not {expected}: binary data (a NUL byte at byte {data.index(0):,}) — {fix}"
            ) from exc
        raise UnreadableFileError(
            f"not UTF-8: {exc.reason} at byte {exc.start:,} — save it as UTF-8"
        ) from exc
    if "\x00" in text:
        raise UnreadableFileError(
            f"not {expected}: binary data (a NUL byte at byte {data.index(0):,}) — {fix}"
        )
    if kind == "jsonl":
        _require_a_json_object(text, fix)
    return text


def _require_a_json_object(text: str, fix: str) -> None:
    """A JSON Lines file must have at least one line that is a JSON object (or no lines at all)."""
    lines = [line for line in io.StringIO(text, newline=None) if line.strip()]
    for line in lines:
        try:
            if isinstance(json.loads(line), dict):
                return
        except json.JSONDecodeError:
            continue
    if lines:
        raise UnreadableFileError(
            f"not a JSON Lines file: none of its {len(lines):,} lines is a JSON object — {fix}"
        )


def _csv_records(text: str, unknown: set[str]) -> Iterator[Record]:
    """Rows after the header; a row is numbered by its position after the header.

    CSV cannot tell an empty cell from a missing value, so empty cells become None.
    """
    reader = csv.reader(io.StringIO(text, newline=""))
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


def _jsonl_records(content: str, unknown: set[str]) -> Iterator[Record]:
    """One JSON object per line; a row is numbered by its line, blank lines are skipped.

    Numbers are kept as written ("9.50" stays "9.50"), never parsed into floats.
    """
    with io.StringIO(content, newline=None) as handle:
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
