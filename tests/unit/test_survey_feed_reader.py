"""Parsing survey feed files: values arrive as written, bad lines become parse_error rows."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path

import pytest

from intercom_pipeline.defs.resources import resources_from_environment
from intercom_pipeline.settings import PROJECT_ROOT
from intercom_pipeline.sources.survey_feed import COLUMN_TYPES, survey_feed_source
from intercom_pipeline.sources.survey_feed.reader import (
    FIELDS,
    UnreadableFileError,
    feed_files,
    file_problem,
    read_feed_file,
    unreadable_file_row,
)

MODIFIED = datetime(2026, 10, 1, 12, 0, tzinfo=UTC)


def read(path: Path) -> list[dict]:
    return list(read_feed_file(path, MODIFIED))


def test_csv_with_bom_and_odd_header_case_keeps_values_as_text(tmp_path: Path) -> None:
    path = tmp_path / "nps.csv"
    path.write_text(
        " Response_ID ,CONTACT_ID,Metric,  SCORE,Comment,Responded_At\n"
        'r1,c1,NPS,ten,"Great, really ""great""",1793000000\n'
        "r2,c2,CSAT,Very satisfied,,2026-10-01T10:00:00Z\n"
        "\n"
        "r3,c3,NPS,07,,\n",
        encoding="utf-8-sig",
    )

    rows = read(path)

    assert [r["response_id"] for r in rows] == ["r1", "r2", "r3"]  # no BOM glued to the name
    assert rows[0] == {
        "response_id": "r1",
        "contact_id": "c1",
        "external_id": None,  # not in the file
        "email": None,
        "conversation_id": None,
        "metric": "NPS",
        "score": "ten",
        "comment": 'Great, really "great"',
        "sent_at": None,
        "responded_at": "1793000000",
        "source_file": "nps.csv",
        "source_line": 1,
        "file_modified_at": MODIFIED,
        "parse_error": None,
    }
    assert rows[1]["score"] == "Very satisfied"
    assert rows[1]["comment"] is None  # an empty cell
    assert rows[1]["responded_at"] == "2026-10-01T10:00:00Z"
    assert rows[2]["score"] == "07"  # leading zero kept
    assert [r["source_line"] for r in rows] == [1, 2, 4]  # the blank row keeps its number


def test_csv_row_with_wrong_field_count_becomes_a_parse_error_row(tmp_path: Path) -> None:
    path = tmp_path / "broken.csv"
    path.write_text("response_id,score\nr1,9\nr2,8,extra\nr3\nr4,7\n", encoding="utf-8")

    rows = read(path)

    assert [(r["source_line"], r["response_id"], r["score"]) for r in rows] == [
        (1, "r1", "9"),
        (2, None, None),
        (3, None, None),
        (4, "r4", "7"),
    ]
    assert [r["parse_error"] for r in rows] == [
        None,
        "line 3: expected 2 fields, found 3",
        "line 4: expected 2 fields, found 1",
        None,
    ]
    assert all(rows[1][field] is None for field in FIELDS)


def test_header_only_and_empty_csv_give_no_rows(tmp_path: Path) -> None:
    (tmp_path / "header.csv").write_text("response_id,score\n", encoding="utf-8")
    (tmp_path / "empty.csv").write_text("", encoding="utf-8")

    assert read(tmp_path / "header.csv") == []
    assert read(tmp_path / "empty.csv") == []


def test_jsonl_keeps_values_as_written_and_flags_malformed_lines(tmp_path: Path) -> None:
    path = tmp_path / "csat.jsonl"
    path.write_text(
        '{"Response_ID": "j1", " score ": 4.50, "metric": "CSAT", "sent_at": 1793000000}\n'
        '{"response_id": "j2", "score": \n'
        "\n"
        '["not", "an", "object"]\n'
        '{"response_id": "j5", "score": "Very satisfied", "comment": "", "email": null}\n'
        '{"response_id": "j6", "score": true, "comment": {"text": "nested"}}\n',
        encoding="utf-8",
    )

    rows = read(path)

    assert [r["source_line"] for r in rows] == [1, 2, 4, 5, 6]
    first = rows[0]
    assert (first["response_id"], first["score"], first["metric"], first["sent_at"]) == (
        "j1",
        "4.50",  # not the float 4.5
        "CSAT",
        "1793000000",
    )
    assert rows[1]["parse_error"] == "line 2: invalid JSON: Expecting value (column 31)"
    assert all(rows[1][field] is None for field in FIELDS)
    assert rows[2]["parse_error"] == "line 4: not a JSON object"
    assert (rows[3]["score"], rows[3]["comment"], rows[3]["email"]) == ("Very satisfied", "", None)
    assert (rows[4]["score"], rows[4]["comment"]) == ("true", '{"text":"nested"}')
    assert {r["source_file"] for r in rows} == {"csat.jsonl"}


def test_unknown_columns_are_ignored_with_a_warning_naming_them(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "a.csv").write_text("response_id,Channel,score, Survey Name\nr1,email,9,Q3\n")
    (tmp_path / "b.ndjson").write_text('{"response_id": "j1", "device": "ios"}\n{"lang": "de"}\n')

    with caplog.at_level(logging.WARNING):
        csv_rows = read(tmp_path / "a.csv")
        json_rows = read(tmp_path / "b.ndjson")

    assert set(csv_rows[0]) == {
        *FIELDS,
        "source_file",
        "source_line",
        "file_modified_at",
        "parse_error",
    }
    assert (csv_rows[0]["response_id"], csv_rows[0]["score"]) == ("r1", "9")
    assert [r["response_id"] for r in json_rows] == ["j1", None]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == [
        "Survey feed file a.csv has columns that are not survey fields, ignored: channel, survey name",
        "Survey feed file b.ndjson has columns that are not survey fields, ignored: device, lang",
    ]


def test_latin1_file_is_not_utf8_with_the_byte_and_the_fix_and_yields_no_row(
    tmp_path: Path,
) -> None:
    path = tmp_path / "latin1.csv"
    path.write_bytes("response_id,comment\nr1,très bien\n".encode("latin-1"))

    rows = read_feed_file(path, MODIFIED)
    with pytest.raises(UnreadableFileError) as raised:
        next(rows)  # checked whole before the first row: no half-read file
    assert str(raised.value) == (
        "not UTF-8: invalid continuation byte at byte 25 — save it as UTF-8"
    )
    assert file_problem(path) == str(raised.value)


def test_utf8_with_or_without_bom_has_no_problem(tmp_path: Path) -> None:
    for name, encoding in (("bom.csv", "utf-8-sig"), ("plain.jsonl", "utf-8")):
        text = (
            "response_id,comment\nr1,très bien\n"
            if name.endswith(".csv")
            else '{"response_id": "r1", "comment": "très bien"}\n'
        )
        (tmp_path / name).write_text(text, encoding=encoding)
        assert file_problem(tmp_path / name) is None
        assert [(r["response_id"], r["comment"]) for r in read(tmp_path / name)] == [
            ("r1", "très bien")
        ]
    (tmp_path / "empty.jsonl").write_text("\n")
    assert file_problem(tmp_path / "empty.jsonl") is None  # no lines: nothing to load, no problem


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        (
            "export.csv",
            b"PK\x03\x04\x14\x00\x06\x00 rest of a workbook",
            "not a CSV file: it is a ZIP archive (an Excel .xlsx workbook is one) — export it as "
            "CSV UTF-8",
        ),
        (
            "report.csv",
            b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n",
            "not a CSV file: it is a PDF document — export it as CSV UTF-8",
        ),
        (
            "garbage.csv",
            b"\x00\x01\x02\xfe\xfd\xfc garbage",
            "not a CSV file: binary data (a NUL byte at byte 0) — export it as CSV UTF-8",
        ),
        (
            "nul.jsonl",
            b'{"response_id": "r1"}\n\x00\x00\n',
            "not a JSON Lines file: binary data (a NUL byte at byte 22) — write one JSON object "
            "per line, UTF-8",
        ),
        (
            "utf16.csv",
            "response_id\nr1\n".encode("utf-16"),
            "not UTF-8: it is UTF-16 text — save it as UTF-8",
        ),
        (
            "notes.jsonl",
            b"This is a plain note.\nNot JSON at all.\n\n[1, 2]\n",
            "not a JSON Lines file: none of its 3 lines is a JSON object — write one JSON object "
            "per line, UTF-8",
        ),
        (
            "pretty.ndjson",
            b'{\n  "response_id": "r1",\n  "score": 9\n}\n',
            "not a JSON Lines file: none of its 4 lines is a JSON object — write one JSON object "
            "per line, UTF-8",
        ),
    ],
)
def test_file_that_is_not_csv_or_json_lines_at_all_names_the_problem_and_the_fix(
    tmp_path: Path, name: str, content: bytes, reason: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)

    assert file_problem(path) == reason
    with pytest.raises(UnreadableFileError, match=r"^not "):
        read(path)


def test_json_lines_with_one_object_is_read_line_by_line_not_quarantined_whole(
    tmp_path: Path,
) -> None:
    path = tmp_path / "mostly_bad.jsonl"
    path.write_text('oops\n{"response_id": "j2"}\n', encoding="utf-8")

    assert file_problem(path) is None
    assert [(r["source_line"], r["response_id"], r["parse_error"] is None) for r in read(path)] == [
        (1, None, False),
        (2, "j2", True),
    ]


def test_whole_file_row_is_line_zero_with_the_reason_as_parse_error(tmp_path: Path) -> None:
    row = unreadable_file_row(tmp_path / "x.csv", MODIFIED, "not UTF-8: ...")

    assert row == {
        **dict.fromkeys(FIELDS),
        "source_file": "x.csv",
        "source_line": 0,
        "file_modified_at": MODIFIED,
        "parse_error": "whole file not loaded: not UTF-8: ...",
    }


def test_feed_files_are_the_folders_csv_and_json_lines_sorted_by_name(tmp_path: Path) -> None:
    for name in ("b.jsonl", "a.csv", "c.NDJSON", "notes.txt", "d.json"):
        (tmp_path / name).write_text("")
    (tmp_path / "nested").mkdir()
    (tmp_path / "nested" / "inner.csv").write_text("")
    (tmp_path / "folder.csv").mkdir()

    assert [p.name for p in feed_files(tmp_path)] == ["a.csv", "b.jsonl", "c.NDJSON"]


def test_missing_folder_error_names_the_folder_and_the_setting(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"

    with pytest.raises(FileNotFoundError) as raised:
        feed_files(missing)
    assert str(missing) in str(raised.value)
    assert "SURVEY_FEED_DIR" in str(raised.value)
    with pytest.raises(FileNotFoundError, match="SURVEY_FEED_DIR"):
        survey_feed_source(missing)


def test_every_column_is_declared_text_except_lineage() -> None:
    assert COLUMN_TYPES == {
        **dict.fromkeys(FIELDS, "text"),
        "source_file": "text",
        "source_line": "bigint",
        "file_modified_at": "timestamp",
        "parse_error": "text",
    }


def survey_feed_dir(env: dict[str, str]) -> Path:
    """The feed folder the survey feed resource reads from `env` (SURVEY_FEED_DIR)."""
    return resources_from_environment(env, resolved=True)["survey_feed"].path()


def test_survey_feed_dir_defaults_to_data_and_resolves_relative_paths(tmp_path: Path) -> None:
    assert survey_feed_dir({}) == PROJECT_ROOT / "data" / "survey_feed"
    assert survey_feed_dir({"SURVEY_FEED_DIR": " "}) == PROJECT_ROOT / "data" / "survey_feed"
    assert survey_feed_dir({"SURVEY_FEED_DIR": "feeds/surveys"}) == (
        PROJECT_ROOT / "feeds" / "surveys"
    )
    assert survey_feed_dir({"SURVEY_FEED_DIR": str(tmp_path)}) == tmp_path.resolve()
