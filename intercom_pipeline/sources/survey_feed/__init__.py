"""The survey feed dlt source: survey answers from a folder of CSV / JSON Lines files.

Runs on its own, without Dagster (`intercom_pipeline.warehouse.survey_feed.load_survey_feed`). Every value
is loaded as text, exactly as written: dbt validates the rows and quarantines the bad ones with a
reason, so nothing may be coerced or dropped on the way in.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dlt
from dlt.extract.resource import DltResource

from intercom_pipeline.sources.survey_feed.reader import (
    FIELDS,
    WHOLE_FILE_LINE,
    UnreadableFileError,
    feed_files,
    read_feed_file,
    require_folder,
    unreadable_file_row,
)

log = logging.getLogger(__name__)

TABLE = "responses"
PRIMARY_KEY = ("source_file", "source_line")
# Column -> dlt data type. Declared, not inferred: dlt would otherwise turn ISO dates into
# timestamps and numeric-looking scores into numbers, and a file lacking a column would leave it
# out of the table.
COLUMN_TYPES: dict[str, str] = {
    **dict.fromkeys(FIELDS, "text"),
    "source_file": "text",
    "source_line": "bigint",
    "file_modified_at": "timestamp",
    "parse_error": "text",
}


@dlt.source(name="survey_feed")
def survey_feed_source(folder: Path, logger: logging.Logger | None = None) -> DltResource:
    """The `responses` resource over every feed file in `folder`.

    `logger` (default: this module's) gets one warning per file quarantined whole.

    Raises:
        FileNotFoundError: `folder` does not exist (the message names SURVEY_FEED_DIR).
    """
    require_folder(folder)
    return dlt.resource(
        _responses(folder, logger or log),
        name=TABLE,
        write_disposition="merge",
        primary_key=PRIMARY_KEY,
        columns={
            name: {"data_type": kind, "nullable": name not in PRIMARY_KEY}
            for name, kind in COLUMN_TYPES.items()
        },
    )


def _responses(folder: Path, logger: logging.Logger) -> Iterator[dict[str, Any]]:
    """Rows of the files that are new or changed since the last run.

    A file is re-read whole when its (size, mtime) differ from the ones remembered in the
    resource state; merging on (source_file, source_line) makes the re-read replace its rows.
    The state is updated only after the file's last row, so a failed run re-reads the file.

    A file that is not UTF-8 CSV / JSON Lines at all becomes one row (line 0, the reason as
    `parse_error`, so dbt quarantines it) and is named in the state's `quarantined` with its
    reason; it stays in the folder and is read again once it changes. Its line-0 row is deleted
    after the run that reads it cleanly (`stale_quarantine_files`).
    """
    state = dlt.current.resource_state(TABLE)
    seen: dict[str, list[int]] = state.setdefault("files", {})
    quarantined: dict[str, str] = state.setdefault("quarantined", {})
    for path in feed_files(folder):
        stat = path.stat()
        signature = [stat.st_size, stat.st_mtime_ns]
        if seen.get(path.name) == signature:
            continue
        modified_at = datetime.fromtimestamp(stat.st_mtime, UTC)
        try:
            yield from read_feed_file(path, modified_at)
        except UnreadableFileError as exc:
            reason = str(exc)
            logger.warning(
                "Survey feed file %s quarantined whole, none of its rows loaded: %s (it stays in "
                "%s and is read again once it changes)",
                path.name,
                reason,
                folder,
            )
            yield unreadable_file_row(path, modified_at, reason)
            quarantined[path.name] = reason
        else:
            quarantined.pop(path.name, None)
        seen[path.name] = signature


def quarantined_files(resource_state: dict[str, Any]) -> dict[str, str]:
    """File name -> reason of the files quarantined whole, from the `responses` resource state."""
    return dict(resource_state.get("quarantined", {}))


__all__ = [
    "COLUMN_TYPES",
    "PRIMARY_KEY",
    "TABLE",
    "WHOLE_FILE_LINE",
    "quarantined_files",
    "survey_feed_source",
]
