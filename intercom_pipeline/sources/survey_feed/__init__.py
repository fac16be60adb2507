"""The survey feed dlt source: survey answers from a folder of CSV / JSON Lines files.

Runs on its own, without Dagster (`intercom_pipeline.warehouse.survey_feed.load_survey_feed`). Every value
is loaded as text, exactly as written: dbt validates the rows and quarantines the bad ones with a
reason, so nothing may be coerced or dropped on the way in.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dlt
from dlt.extract.resource import DltResource

from intercom_pipeline.sources.survey_feed.reader import (
    FIELDS,
    feed_files,
    read_feed_file,
    require_folder,
)

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
def survey_feed_source(folder: Path) -> DltResource:
    """The `responses` resource over every feed file in `folder`.

    Raises:
        FileNotFoundError: `folder` does not exist (the message names SURVEY_FEED_DIR).
    """
    require_folder(folder)
    return dlt.resource(
        _responses(folder),
        name=TABLE,
        write_disposition="merge",
        primary_key=PRIMARY_KEY,
        columns={
            name: {"data_type": kind, "nullable": name not in PRIMARY_KEY}
            for name, kind in COLUMN_TYPES.items()
        },
    )


def _responses(folder: Path) -> Iterator[dict[str, Any]]:
    """Rows of the files that are new or changed since the last run.

    A file is re-read whole when its (size, mtime) differ from the ones remembered in the
    resource state; merging on (source_file, source_line) makes the re-read replace its rows.
    The state is updated only after the file's last row, so a failed run re-reads the file.
    """
    seen: dict[str, list[int]] = dlt.current.resource_state(TABLE).setdefault("files", {})
    for path in feed_files(folder):
        stat = path.stat()
        signature = [stat.st_size, stat.st_mtime_ns]
        if seen.get(path.name) == signature:
            continue
        yield from read_feed_file(path, datetime.fromtimestamp(stat.st_mtime, UTC))
        seen[path.name] = signature


__all__ = ["COLUMN_TYPES", "PRIMARY_KEY", "TABLE", "survey_feed_source"]
