"""Loading the demo survey feed into a temporary warehouse with the survey_feed pipeline."""

from __future__ import annotations

import csv
import json
import logging
import os
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import pytest

from intercom_pipeline.defs.resources import resources_from_environment
from intercom_pipeline.sources.survey_feed import COLUMN_TYPES
from intercom_pipeline.warehouse import Warehouse
from intercom_pipeline.warehouse.survey_feed import load_survey_feed
from intercom_sandbox import Sandbox, SandboxConfig
from intercom_sandbox.survey_feed import (
    CSAT_CES_FILE,
    NPS_FILE,
    WINDOW_DAYS,
    write_demo_survey_feed,
)
from intercom_sandbox.workspace import DAY, Workspace

DECLARED_TYPES = {
    **{name: "VARCHAR" for name, kind in COLUMN_TYPES.items() if kind == "text"},
    "source_line": "BIGINT",
    "file_modified_at": "TIMESTAMP WITH TIME ZONE",
}


@pytest.fixture(scope="module")
def workspace() -> Workspace:
    return Sandbox(SandboxConfig(seed=1, scale="demo")).workspace


@pytest.fixture
def feed(workspace: Workspace, tmp_path: Path) -> Path:
    folder = tmp_path / "feed"
    write_demo_survey_feed(workspace, folder)
    return folder


def load(folder: Path, tmp_path: Path) -> dict[str, int]:
    return load_survey_feed(Warehouse.at(tmp_path / "warehouse.duckdb"), folder)


def configured() -> tuple[Warehouse, Path]:
    """The warehouse (DUCKDB_PATH) and the feed folder (SURVEY_FEED_DIR) of the environment."""
    resources = resources_from_environment(resolved=True)
    return resources["warehouse"].get(), resources["survey_feed"].path()


def query(warehouse: Path, sql: str) -> list[tuple[Any, ...]]:
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        return conn.execute(sql).fetchall()


def column_types(warehouse: Path) -> dict[str, str]:
    return dict(
        query(
            warehouse,
            "select column_name, data_type from information_schema.columns "
            "where table_schema = 'survey_feed_raw' and table_name = 'responses' "
            "and column_name not like '\\_dlt%' escape '\\'",
        )
    )


def data_rows(folder: Path) -> dict[str, int]:
    """Data rows written per file: every line, less the CSV header."""
    return {
        path.name: len(path.read_text(encoding="utf-8-sig").splitlines()) - (path.suffix == ".csv")
        for path in sorted(folder.iterdir())
    }


def test_demo_feed_loads_every_row_as_text(feed: Path, tmp_path: Path) -> None:
    written = data_rows(feed)

    result = load(feed, tmp_path)

    warehouse = tmp_path / "warehouse.duckdb"
    assert result == {
        "rows_loaded": sum(written.values()),
        "rows_total": sum(written.values()),
        "files_quarantined": 0,
    }
    assert column_types(warehouse) == DECLARED_TYPES
    per_file = query(
        warehouse,
        "select source_file, count(*), count(distinct source_line), min(source_line), "
        "max(source_line) from survey_feed_raw.responses group by all order by 1",
    )
    assert per_file == [(name, n, n, 1, n) for name, n in sorted(written.items())]
    # The deliberately bad values arrive intact, for dbt to quarantine.
    bad = query(
        warehouse,
        "select metric, score from survey_feed_raw.responses "
        "where score in ('11', 'Meh') or metric = 'NPX' order by metric, score",
    )
    assert [(m, s) for m, s in bad if m != "NPX"] == [("CSAT", "Meh"), ("NPS", "11")]
    assert [m for m, _ in bad].count("NPX") == 1
    errors = query(
        warehouse,
        "select source_file, source_line, parse_error, response_id, score "
        "from survey_feed_raw.responses where parse_error is not null",
    )
    assert len(errors) == 1
    source_file, source_line, message, response_id, score = errors[0]
    assert (source_file, response_id, score) == (CSAT_CES_FILE, None, None)
    assert message.startswith(f"line {source_line}: invalid JSON: Unterminated string")
    labels = query(
        warehouse,
        "select distinct score from survey_feed_raw.responses "
        "where metric = 'CSAT' and score ilike '%satisfied'",
    )
    assert {s for (s,) in labels} == {
        "Very satisfied",
        "Satisfied",
        "Unsatisfied",
        "Very unsatisfied",
    }
    # Unix seconds stay digits and ISO-8601 stays as written.
    formats = query(
        warehouse,
        "select count(*) filter (where regexp_full_match(sent_at, '[0-9]{10}')), "
        "count(*) filter (where regexp_full_match(sent_at, '\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ')) "
        "from survey_feed_raw.responses where parse_error is null",
    )
    unix, iso = formats[0]
    assert unix > 50
    assert unix + iso == sum(written.values()) - 1


def test_rerun_reloads_only_changed_files_and_keeps_removed_ones(
    feed: Path, tmp_path: Path
) -> None:
    written = data_rows(feed)
    total = load(feed, tmp_path)["rows_total"]

    assert load(feed, tmp_path) == {"rows_loaded": 0, "rows_total": total, "files_quarantined": 0}

    line = {"response_id": "CX-LATE", "contact_id": "abc", "metric": "CES", "score": 2}
    with (feed / CSAT_CES_FILE).open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(line) + "\n")
    # The whole changed file is read again (merged on file and line), the other one is not.
    assert load(feed, tmp_path) == {
        "rows_loaded": written[CSAT_CES_FILE] + 1,
        "rows_total": total + 1,
        "files_quarantined": 0,
    }
    warehouse = tmp_path / "warehouse.duckdb"
    assert query(
        warehouse,
        "select count(*), count(distinct (source_file, source_line)), count(distinct _dlt_load_id) "
        "from survey_feed_raw.responses",
    ) == [(total + 1, total + 1, 2)]
    assert query(
        warehouse,
        "select source_line, metric, score from survey_feed_raw.responses "
        "where response_id = 'CX-LATE'",
    ) == [(written[CSAT_CES_FILE] + 1, "CES", "2")]

    (feed / NPS_FILE).unlink()
    assert load(feed, tmp_path) == {
        "rows_loaded": 0,
        "rows_total": total + 1,
        "files_quarantined": 0,
    }


def test_empty_folder_creates_the_empty_table_then_loads_into_it(
    workspace: Workspace, tmp_path: Path
) -> None:
    folder = tmp_path / "feed"
    folder.mkdir()

    # The environment's warehouse: DUCKDB_PATH (a temporary file here, see conftest).
    warehouse, _ = configured()
    assert load_survey_feed(warehouse, folder) == {
        "rows_loaded": 0,
        "rows_total": 0,
        "files_quarantined": 0,
    }

    assert column_types(warehouse.path) == DECLARED_TYPES
    assert list(column_types(warehouse.path)) == list(COLUMN_TYPES)
    write_demo_survey_feed(workspace, folder)
    rows = sum(data_rows(folder).values())
    assert load_survey_feed(warehouse, folder) == {
        "rows_loaded": rows,
        "rows_total": rows,
        "files_quarantined": 0,
    }


def test_missing_folder_from_the_setting_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SURVEY_FEED_DIR", str(tmp_path / "nowhere"))

    with pytest.raises(FileNotFoundError, match="SURVEY_FEED_DIR") as raised:
        load_survey_feed(*configured())
    assert str(tmp_path / "nowhere") in str(raised.value)
    assert not configured()[0].exists()


def test_demo_feed_is_deterministic_and_mostly_valid(workspace: Workspace, tmp_path: Path) -> None:
    first = write_demo_survey_feed(workspace, tmp_path / "a")
    again = write_demo_survey_feed(workspace, tmp_path / "b")
    other = write_demo_survey_feed(workspace, tmp_path / "c", seed=2)

    assert [p.name for p in first] == [NPS_FILE, CSAT_CES_FILE]
    assert [p.read_bytes() for p in first] == [p.read_bytes() for p in again]
    assert [p.read_bytes() for p in first] != [p.read_bytes() for p in other]
    assert first[0].read_bytes().startswith(b"\xef\xbb\xbf")  # a spreadsheet's CSV UTF-8

    with first[0].open(encoding="utf-8-sig", newline="") as handle:
        nps = list(csv.DictReader(handle))
    cx_lines = first[1].read_text(encoding="utf-8").splitlines()
    cx = [json.loads(line) for line in cx_lines if line.endswith("}")]
    assert 550 <= len(nps) + len(cx_lines) <= 650
    assert len(cx) == len(cx_lines) - 1  # one malformed line

    known = {c.id for c in workspace.contacts}
    rows = [*nps, *cx]
    assert sum(1 for r in rows if r.get("contact_id") and r["contact_id"] not in known) == 1
    assert {r["metric"] for r in rows} == {"NPS", "5-STAR", "CSAT", "CES", "NPX"}
    assert sum(1 for r in rows if r.get("external_id")) > 10
    assert sum(1 for r in rows if r.get("email")) > 10
    unanswered = [r for r in rows if r.get("score") in ("", None)]
    assert unanswered
    assert all(not r.get("responded_at") for r in unanswered)

    def moment(value: str | int) -> int:
        if isinstance(value, int):
            return value
        return int(datetime.strptime(value, "%Y-%m-%dT%H:%M:%S%z").timestamp())

    now = workspace.now
    for row in rows:
        sent = moment(row["sent_at"])
        assert now - WINDOW_DAYS * DAY <= sent < now
        if row.get("responded_at"):
            assert sent < moment(row["responded_at"]) < now


def write_mixed_feed(folder: Path) -> None:
    """Two good files and three that are not UTF-8 CSV / JSON Lines at all."""
    folder.mkdir()
    (folder / "a_good.csv").write_text(
        "response_id,contact_id,metric,score,comment\nG1,c1,NPS,9,Très bien\nG2,c2,CSAT,4,\n",
        encoding="utf-8-sig",
    )
    (folder / "b_good.jsonl").write_text(
        '{"response_id": "J1", "contact_id": "c3", "metric": "CES", "score": 2.50}\n',
        encoding="utf-8",
    )
    (folder / "c_latin1.csv").write_bytes(
        "response_id,contact_id,metric,score,comment\nL1,c4,NPS,7,très bien\n".encode("latin-1")
    )
    (folder / "d_binary.csv").write_bytes(bytes(range(256)) * 4)
    (folder / "e_notes.jsonl").write_text("not json\nstill not json\n", encoding="utf-8")


def test_bad_files_are_quarantined_whole_and_the_good_ones_still_load(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder = tmp_path / "feed"
    write_mixed_feed(folder)
    warehouse = tmp_path / "warehouse.duckdb"

    with caplog.at_level(logging.WARNING):
        result = load(folder, tmp_path)

    assert result == {"rows_loaded": 6, "rows_total": 6, "files_quarantined": 3}
    good = query(
        warehouse,
        "select source_file, source_line, response_id, contact_id, metric, score, comment "
        "from survey_feed_raw.responses where parse_error is null order by 1, 2",
    )
    assert good == [
        ("a_good.csv", 1, "G1", "c1", "NPS", "9", "Très bien"),
        ("a_good.csv", 2, "G2", "c2", "CSAT", "4", None),
        ("b_good.jsonl", 1, "J1", "c3", "CES", "2.50", None),
    ]
    bad = query(
        warehouse,
        "select source_file, source_line, parse_error, response_id, file_modified_at is not null "
        "from survey_feed_raw.responses where parse_error is not null order by 1",
    )
    assert [(f, line, r, t) for f, line, _, r, t in bad] == [
        ("c_latin1.csv", 0, None, True),
        ("d_binary.csv", 0, None, True),
        ("e_notes.jsonl", 0, None, True),
    ]
    reasons = [reason for _, _, reason, _, _ in bad]
    assert reasons == [
        "whole file not loaded: not UTF-8: invalid continuation byte at byte 58 — save it as UTF-8",
        "whole file not loaded: not a CSV file: binary data (a NUL byte at byte 0) — export it as "
        "CSV UTF-8",
        "whole file not loaded: not a JSON Lines file: none of its 2 lines is a JSON object — "
        "write one JSON object per line, UTF-8",
    ]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 3
    for name, reason in zip(
        ("c_latin1.csv", "d_binary.csv", "e_notes.jsonl"), reasons, strict=True
    ):
        [warning] = [w for w in warnings if name in w]
        assert reason.removeprefix("whole file not loaded: ") in warning
    # Nothing is moved or deleted: the bad files stay in the folder.
    assert sorted(p.name for p in folder.iterdir()) == [
        "a_good.csv",
        "b_good.jsonl",
        "c_latin1.csv",
        "d_binary.csv",
        "e_notes.jsonl",
    ]

    # Unchanged, a bad file is not read (nor warned about) again; it stays quarantined.
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        assert load(folder, tmp_path) == {
            "rows_loaded": 0,
            "rows_total": 6,
            "files_quarantined": 3,
        }
    assert not [r for r in caplog.records if r.levelno == logging.WARNING]


def test_a_fixed_file_loads_on_the_next_run_and_leaves_quarantine(tmp_path: Path) -> None:
    folder = tmp_path / "feed"
    write_mixed_feed(folder)
    warehouse = tmp_path / "warehouse.duckdb"
    load(folder, tmp_path)

    latin1 = folder / "c_latin1.csv"
    latin1.write_text(latin1.read_bytes().decode("latin-1"), encoding="utf-8")
    stat = latin1.stat()  # the same second on a coarse clock: make the change visible
    os.utime(latin1, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    (folder / "e_notes.jsonl").write_text(
        '{"response_id": "N1", "metric": "NPS", "score": 10}\n', encoding="utf-8"
    )

    assert load(folder, tmp_path) == {"rows_loaded": 2, "rows_total": 6, "files_quarantined": 1}
    assert query(
        warehouse,
        "select source_file, source_line, response_id, metric, score, comment, parse_error "
        "from survey_feed_raw.responses where source_file in ('c_latin1.csv', 'e_notes.jsonl') "
        "order by 1, 2",
    ) == [
        ("c_latin1.csv", 1, "L1", "NPS", "7", "très bien", None),
        ("e_notes.jsonl", 1, "N1", "NPS", "10", None, None),
    ]
    assert query(
        warehouse,
        "select source_file from survey_feed_raw.responses where source_line = 0",
    ) == [("d_binary.csv",)]
