from __future__ import annotations

from collections.abc import Callable

import pytest

from intercom_sandbox.search import FieldType, SearchError, compile_query

FIELD_TYPES: dict[str, FieldType] = {
    "id": "string",
    "name": "string",
    "email": "string",
    "external_id": "string",
    "contact_ids": "string",
    "tag_ids": "string",
    "tag_id": "string",
    "segment_id": "string",
    "source.body": "string",
    "custom_attributes.Plan Name": "string",
    "admin_assignee_id": "integer",
    "statistics.count_reopens": "integer",
    "custom_attributes.score": "float",
    "open": "boolean",
    "unsubscribed_from_emails": "boolean",
    "created_at": "date",
    "updated_at": "date",
    "last_seen_at": "date",
}

DAY = 86_400
JAN_1_2020 = 1577836800  # 2020-01-01 00:00 UTC
JAN_1_2020_9AM = 1577869200
JAN_2_2020 = 1577923200


def field_type(name: str) -> FieldType | None:
    return FIELD_TYPES.get(name)


def compile_for(
    query: object, *, endpoint: str = "conversations", utc_offset_seconds: int = 0
) -> Callable[[Callable[[str], object]], bool]:
    """Compile with the date rules of one endpoint."""
    if endpoint == "contacts":
        return compile_query(
            query, field_type, day_granular_dates=True, utc_offset_seconds=utc_offset_seconds
        )
    if endpoint == "tickets":
        return compile_query(
            query,
            field_type,
            day_granular_dates=False,
            date_range_operators=frozenset({"created_at"}),
        )
    return compile_query(query, field_type, day_granular_dates=False)


def matching(query: object, records: list[dict[str, object]], **kwargs: object) -> list[object]:
    """Ids of the records the query matches."""
    predicate = compile_for(query, **kwargs)  # type: ignore[arg-type]
    return [record["id"] for record in records if predicate(record.get)]


def rejected(query: object, **kwargs: object) -> SearchError:
    with pytest.raises(SearchError) as info:
        compile_for(query, **kwargs)  # type: ignore[arg-type]
    assert info.value.code == "parameter_invalid"
    assert str(info.value) == info.value.message
    return info.value


def flt(field: str, operator: str, value: object) -> dict[str, object]:
    return {"field": field, "operator": operator, "value": value}


# --- strings -----------------------------------------------------------------------------------

NAMES = [
    {"id": "a", "name": "Alice Smith"},
    {"id": "b", "name": "alice jones"},
    {"id": "c", "name": "Bob Smith"},
    {"id": "d", "name": None},
    {"id": "e"},
]


@pytest.mark.parametrize(
    ("operator", "value", "expected"),
    [
        ("=", "Alice Smith", ["a"]),
        ("=", "alice smith", []),
        ("!=", "Alice Smith", ["b", "c", "d", "e"]),
        ("IN", ["Alice Smith", "Bob Smith"], ["a", "c"]),
        ("IN", [], []),
        ("NIN", ["Alice Smith", "Bob Smith"], ["b", "d", "e"]),
        ("~", "SMITH", ["a", "c"]),
        ("~", "ice", ["a", "b"]),
        ("!~", "smith", ["b", "d", "e"]),
        ("^", "ALICE", ["a", "b"]),
        ("^", "Smith", []),
        ("$", "smith", ["a", "c"]),
        ("$", "alice", []),
    ],
)
def test_string_operators(operator: str, value: object, expected: list[str]) -> None:
    assert matching(flt("name", operator, value), NAMES) == expected


def test_string_field_accepts_numbers_compared_as_their_string_form() -> None:
    records = [
        {"id": "a", "external_id": "123"},
        {"id": "b", "external_id": 123},
        {"id": "c", "external_id": "1234"},
        {"id": "d", "external_id": "1.5"},
    ]
    assert matching(flt("external_id", "=", 123), records) == ["a", "b"]
    assert matching(flt("external_id", "IN", [1.5, "1234"]), records) == ["c", "d"]
    assert matching(flt("external_id", "^", 12), records) == ["a", "b", "c"]


def test_dotted_field_with_spaces_is_passed_to_the_getter() -> None:
    records = [
        {"id": "a", "custom_attributes.Plan Name": "Pro"},
        {"id": "b", "custom_attributes.Plan Name": "Free"},
    ]
    assert matching(flt("custom_attributes.Plan Name", "=", "Pro"), records) == ["a"]


def test_string_field_ignores_non_scalar_record_values() -> None:
    records = [{"id": "a", "name": {"first": "x"}}, {"id": "b", "name": True}]
    assert matching(flt("name", "~", "x"), records) == []
    assert matching(flt("name", "!=", "x"), records) == ["a", "b"]


# --- integers and floats ---------------------------------------------------------------------

COUNTS = [
    {"id": "a", "statistics.count_reopens": 0},
    {"id": "b", "statistics.count_reopens": 2},
    {"id": "c", "statistics.count_reopens": 5},
    {"id": "d", "statistics.count_reopens": None},
    {"id": "e", "statistics.count_reopens": "5"},
]


@pytest.mark.parametrize(
    ("operator", "value", "expected"),
    [
        ("=", 2, ["b"]),
        ("=", "5", ["c", "e"]),
        ("!=", 2, ["a", "c", "d", "e"]),
        ("IN", [0, 5], ["a", "c", "e"]),
        ("NIN", [0, "5"], ["b", "d"]),
        ("<", 2, ["a"]),
        ("<=", 2, ["a", "b"]),
        (">", 2, ["c", "e"]),
        (">=", 2, ["b", "c", "e"]),
        (">", -1, ["a", "b", "c", "e"]),
    ],
)
def test_integer_operators(operator: str, value: object, expected: list[str]) -> None:
    assert matching(flt("statistics.count_reopens", operator, value), COUNTS) == expected


@pytest.mark.parametrize(
    ("operator", "value", "expected"),
    [
        ("=", 1.5, ["b"]),
        ("=", 2, ["c"]),
        ("!=", 1.5, ["a", "c", "d"]),
        ("IN", [0.25, "2"], ["a", "c"]),
        ("NIN", [0.25], ["b", "c", "d"]),
        ("<", 1.5, ["a"]),
        ("<=", "1.5", ["a", "b"]),
        (">", 0.25, ["b", "c"]),
        (">=", 1.5, ["b", "c"]),
    ],
)
def test_float_operators(operator: str, value: object, expected: list[str]) -> None:
    records = [
        {"id": "a", "custom_attributes.score": 0.25},
        {"id": "b", "custom_attributes.score": 1.5},
        {"id": "c", "custom_attributes.score": 2},
        {"id": "d", "custom_attributes.score": None},
    ]
    assert matching(flt("custom_attributes.score", operator, value), records) == expected


def test_numeric_field_ignores_booleans_and_junk_in_records() -> None:
    records = [
        {"id": "a", "admin_assignee_id": True},
        {"id": "b", "admin_assignee_id": "abc"},
        {"id": "c", "admin_assignee_id": 1},
    ]
    assert matching(flt("admin_assignee_id", "=", 1), records) == ["c"]
    assert matching(flt("admin_assignee_id", ">", 0), records) == ["c"]
    assert matching(flt("admin_assignee_id", "!=", 1), records) == ["a", "b"]


# --- booleans --------------------------------------------------------------------------------

FLAGS = [
    {"id": "a", "open": True},
    {"id": "b", "open": False},
    {"id": "c", "open": None},
    {"id": "d", "open": 1},
]


@pytest.mark.parametrize(
    ("operator", "value", "expected"),
    [
        ("=", True, ["a"]),
        ("=", False, ["b"]),
        ("!=", True, ["b", "c", "d"]),
        ("IN", [True, False], ["a", "b"]),
        ("NIN", [False], ["a", "c", "d"]),
    ],
)
def test_boolean_operators(operator: str, value: object, expected: list[str]) -> None:
    assert matching(flt("open", operator, value), FLAGS) == expected


@pytest.mark.parametrize("operator", ["<", "<=", ">", ">=", "~", "!~", "^", "$"])
def test_boolean_rejects_other_operators(operator: str) -> None:
    error = rejected(flt("open", operator, True))
    assert f"'{operator}'" in error.message
    assert "'open'" in error.message


@pytest.mark.parametrize("operator", ["<", "<=", ">", ">="])
def test_string_rejects_comparison_operators(operator: str) -> None:
    error = rejected(flt("name", operator, "x"))
    assert f"'{operator}'" in error.message
    assert "string field 'name'" in error.message


@pytest.mark.parametrize("operator", ["~", "!~", "^", "$"])
def test_integer_rejects_string_operators(operator: str) -> None:
    error = rejected(flt("admin_assignee_id", operator, 1))
    assert "integer field 'admin_assignee_id'" in error.message


# --- multi-valued fields ------------------------------------------------------------------------

TAGGED = [
    {"id": "a", "tag_ids": ["1", "2"]},
    {"id": "b", "tag_ids": ["3"]},
    {"id": "c", "tag_ids": []},
    {"id": "d", "tag_ids": None},
    {"id": "e", "tag_ids": ["20", "abc"]},
]


@pytest.mark.parametrize(
    ("operator", "value", "expected"),
    [
        ("=", "2", ["a"]),
        ("!=", "2", ["b", "c", "d", "e"]),
        ("IN", ["3", "20"], ["b", "e"]),
        ("NIN", ["1", "3"], ["c", "d", "e"]),
        ("~", "2", ["a", "e"]),
        ("!~", "2", ["b", "c", "d"]),
        ("^", "A", ["e"]),
        ("$", "0", ["e"]),
    ],
)
def test_list_field_any_element_for_positive_none_for_negative(
    operator: str, value: object, expected: list[str]
) -> None:
    assert matching(flt("tag_ids", operator, value), TAGGED) == expected


def test_list_of_integers_with_comparisons() -> None:
    records = [
        {"id": "a", "statistics.count_reopens": [1, 10]},
        {"id": "b", "statistics.count_reopens": [1, 2]},
        {"id": "c", "statistics.count_reopens": []},
    ]
    assert matching(flt("statistics.count_reopens", ">", 5), records) == ["a"]
    assert matching(flt("statistics.count_reopens", "<", 2), records) == ["a", "b"]
    assert matching(flt("statistics.count_reopens", "NIN", [10]), records) == ["b", "c"]


def test_contact_segment_id_list() -> None:
    records = [{"id": "a", "segment_id": ["s1", "s2"]}, {"id": "b", "segment_id": ["s3"]}]
    assert matching(flt("segment_id", "=", "s2"), records, endpoint="contacts") == ["a"]
    assert matching(flt("segment_id", "!=", "s2"), records, endpoint="contacts") == ["b"]


# --- null --------------------------------------------------------------------------------------


def test_equals_null_matches_missing_none_and_empty_list() -> None:
    records = [
        {"id": "a", "email": "x@example.com"},
        {"id": "b", "email": None},
        {"id": "c"},
        {"id": "d", "email": ""},
    ]
    assert matching(flt("email", "=", None), records) == ["b", "c"]
    assert matching(flt("email", "!=", None), records) == ["a", "d"]
    assert matching(flt("tag_ids", "=", None), TAGGED) == ["c", "d"]
    assert matching(flt("tag_ids", "!=", None), TAGGED) == ["a", "b", "e"]


def test_null_on_date_and_boolean_fields() -> None:
    records = [{"id": "a", "last_seen_at": JAN_1_2020}, {"id": "b", "last_seen_at": None}]
    assert matching(flt("last_seen_at", "=", None), records, endpoint="contacts") == ["b"]
    assert matching(flt("last_seen_at", "!=", None), records) == ["a"]
    assert matching(flt("open", "=", None), FLAGS) == ["c"]


@pytest.mark.parametrize("operator", ["IN", "NIN", "~", "!~", "^", "$"])
def test_null_with_other_operators_is_rejected(operator: str) -> None:
    error = rejected(flt("email", operator, None))
    assert "null" in error.message
    assert "'email'" in error.message


def test_null_with_comparison_is_rejected() -> None:
    assert "null" in rejected(flt("admin_assignee_id", ">", None)).message


def test_null_record_value_never_matches_positive_operators() -> None:
    records = [{"id": "a", "name": None}]
    for operator, value in [("=", "x"), ("IN", ["x"]), ("~", "x"), ("^", "x"), ("$", "x")]:
        assert matching(flt("name", operator, value), records) == []
    for operator, value in [("!=", "x"), ("NIN", ["x"]), ("!~", "x")]:
        assert matching(flt("name", operator, value), records) == ["a"]
    for operator in ["<", "<=", ">", ">="]:
        assert matching(flt("admin_assignee_id", operator, 0), [{"id": "a"}]) == []
        assert matching(flt("created_at", "<", 0), [{"id": "a"}], endpoint="contacts") == []


# --- source.body -------------------------------------------------------------------------------

BODIES = [
    {"id": "a", "source.body": "<p>I need support</p>"},
    {"id": "b", "source.body": "<p>Supported?</p>"},
    {"id": "c", "source.body": "SUPPORT,please&nbsp;now"},
    {"id": "d", "source.body": "<b>sup</b>port"},
    {"id": "e", "source.body": None},
]


def test_source_body_equals_matches_a_single_word() -> None:
    assert matching(flt("source.body", "=", "support"), BODIES) == ["a", "c"]
    assert matching(flt("source.body", "=", "Please"), BODIES) == ["c"]
    assert matching(flt("source.body", "=", "now"), BODIES) == ["c"]


def test_source_body_phrase_does_not_match() -> None:
    assert matching(flt("source.body", "=", "need support"), BODIES) == []


def test_source_body_html_tags_are_not_words() -> None:
    assert matching(flt("source.body", "=", "p"), BODIES) == []
    assert matching(flt("source.body", "=", "sup"), BODIES) == ["d"]


def test_source_body_negative_and_list_operators() -> None:
    assert matching(flt("source.body", "!=", "support"), BODIES) == ["b", "d", "e"]
    assert matching(flt("source.body", "IN", ["supported", "need"]), BODIES) == ["a", "b"]
    assert matching(flt("source.body", "NIN", ["supported", "need"]), BODIES) == ["c", "d", "e"]


def test_source_body_contains_looks_at_the_text_not_the_markup() -> None:
    assert matching(flt("source.body", "~", "SUPPORT"), BODIES) == ["a", "b", "c"]
    assert matching(flt("source.body", "~", "<p>"), BODIES) == []
    assert matching(flt("source.body", "^", "supported"), BODIES) == []
    assert matching(flt("source.body", "$", "now"), BODIES) == ["c"]


def test_other_string_fields_are_not_word_matched() -> None:
    records = [{"id": "a", "name": "I need support"}]
    assert matching(flt("name", "=", "support"), records) == []


# --- contact dates: calendar days ------------------------------------------------------------

DAY_RECORDS = [
    {"id": "dec31_late", "created_at": JAN_1_2020 - 1},
    {"id": "jan1_start", "created_at": JAN_1_2020},
    {"id": "jan1_9am", "created_at": JAN_1_2020_9AM},
    {"id": "jan1_9am_plus1", "created_at": JAN_1_2020_9AM + 1},
    {"id": "jan1_end", "created_at": JAN_2_2020 - 1},
    {"id": "jan2_start", "created_at": JAN_2_2020},
    {"id": "jan3", "created_at": JAN_2_2020 + DAY},
    {"id": "none", "created_at": None},
]


def test_spec_example_greater_than_starts_at_next_day() -> None:
    assert JAN_2_2020 == 1577923200
    found = matching(flt("created_at", ">", JAN_1_2020_9AM), DAY_RECORDS, endpoint="contacts")
    assert found == ["jan2_start", "jan3"]


def test_spec_example_equals_matches_the_whole_day() -> None:
    found = matching(flt("created_at", "=", JAN_1_2020), DAY_RECORDS, endpoint="contacts")
    assert found == ["jan1_start", "jan1_9am", "jan1_9am_plus1", "jan1_end"]
    again = matching(flt("created_at", "=", JAN_1_2020_9AM), DAY_RECORDS, endpoint="contacts")
    assert again == found


def test_contact_less_than_is_before_the_start_of_that_day() -> None:
    found = matching(flt("created_at", "<", JAN_1_2020_9AM), DAY_RECORDS, endpoint="contacts")
    assert found == ["dec31_late"]


def test_contact_day_uses_workspace_timezone_east_of_utc() -> None:
    # UTC+2: Jan 1 local runs from 2019-12-31 22:00 UTC to 2020-01-01 22:00 UTC.
    offset = 2 * 3600
    local_start = JAN_1_2020 - offset
    records = [
        {"id": "before", "created_at": local_start - 1},
        {"id": "start", "created_at": local_start},
        {"id": "end", "created_at": local_start + DAY - 1},
        {"id": "next", "created_at": local_start + DAY},
    ]
    kwargs = {"endpoint": "contacts", "utc_offset_seconds": offset}
    assert matching(flt("created_at", "=", JAN_1_2020_9AM), records, **kwargs) == ["start", "end"]
    assert matching(flt("created_at", ">", JAN_1_2020_9AM), records, **kwargs) == ["next"]
    assert matching(flt("created_at", "<", JAN_1_2020_9AM), records, **kwargs) == ["before"]


def test_contact_day_uses_workspace_timezone_west_of_utc() -> None:
    # UTC-5: 2020-01-01 03:00 UTC is still Dec 31 locally, which ends at 05:00 UTC.
    offset = -5 * 3600
    value = JAN_1_2020 + 3 * 3600
    records = [
        {"id": "dec31_local", "created_at": JAN_1_2020},
        {"id": "dec31_local_end", "created_at": JAN_1_2020 + 5 * 3600 - 1},
        {"id": "jan1_local", "created_at": JAN_1_2020 + 5 * 3600},
    ]
    kwargs = {"endpoint": "contacts", "utc_offset_seconds": offset}
    assert matching(flt("created_at", "=", value), records, **kwargs) == [
        "dec31_local",
        "dec31_local_end",
    ]
    assert matching(flt("created_at", ">", value), records, **kwargs) == ["jan1_local"]


def test_contact_date_matches_iso_strings_in_custom_date_attributes() -> None:
    records = [
        {"id": "a", "created_at": "2020-01-01T09:00:00Z"},
        {"id": "b", "created_at": "2020-01-02T00:00:00+00:00"},
        {"id": "c", "created_at": "not a date"},
    ]
    assert matching(flt("created_at", "=", JAN_1_2020), records, endpoint="contacts") == ["a"]
    assert matching(flt("created_at", ">", JAN_1_2020), records, endpoint="contacts") == ["b"]


@pytest.mark.parametrize(
    ("operator", "value"),
    [("!=", JAN_1_2020), (">=", JAN_1_2020), ("<=", JAN_1_2020), ("IN", [1]), ("NIN", [1])],
)
def test_contact_date_rejects_operators(operator: str, value: object) -> None:
    error = rejected(flt("created_at", operator, value), endpoint="contacts")
    assert "not supported on date fields" in error.message
    assert f"'{operator}'" in error.message
    assert "'created_at'" in error.message


@pytest.mark.parametrize("operator", ["~", "!~", "^", "$"])
def test_contact_date_rejects_string_operators(operator: str) -> None:
    rejected(flt("created_at", operator, 1), endpoint="contacts")


# --- conversation and ticket dates: seconds ----------------------------------------------------

SECOND_RECORDS = [
    {"id": "t0", "created_at": JAN_1_2020_9AM - 1},
    {"id": "t1", "created_at": JAN_1_2020_9AM},
    {"id": "t2", "created_at": JAN_1_2020_9AM + 1},
    {"id": "none", "created_at": None},
]


@pytest.mark.parametrize(
    ("operator", "value", "expected"),
    [
        ("=", JAN_1_2020_9AM, ["t1"]),
        ("!=", JAN_1_2020_9AM, ["t0", "t2", "none"]),
        ("IN", [JAN_1_2020_9AM - 1, JAN_1_2020_9AM + 1], ["t0", "t2"]),
        ("NIN", [JAN_1_2020_9AM], ["t0", "t2", "none"]),
        (">", JAN_1_2020_9AM, ["t2"]),
        ("<", JAN_1_2020_9AM, ["t0"]),
    ],
)
def test_conversation_dates_have_second_precision(
    operator: str, value: object, expected: list[str]
) -> None:
    assert matching(flt("created_at", operator, value), SECOND_RECORDS) == expected


@pytest.mark.parametrize("operator", ["<=", ">="])
def test_conversation_dates_reject_inclusive_operators(operator: str) -> None:
    error = rejected(flt("created_at", operator, JAN_1_2020_9AM))
    assert "date field 'created_at'" in error.message


def test_ticket_created_at_accepts_inclusive_operators() -> None:
    ge = flt("created_at", ">=", JAN_1_2020_9AM)
    le = flt("created_at", "<=", JAN_1_2020_9AM)
    assert matching(ge, SECOND_RECORDS, endpoint="tickets") == ["t1", "t2"]
    assert matching(le, SECOND_RECORDS, endpoint="tickets") == ["t0", "t1"]


def test_ticket_inclusive_operators_only_on_created_at() -> None:
    rejected(flt("updated_at", ">=", JAN_1_2020_9AM), endpoint="tickets")
    found = matching(flt("created_at", ">", JAN_1_2020_9AM), SECOND_RECORDS, endpoint="tickets")
    assert found == ["t2"]


# --- value types -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("created_at", "foobar"),
        ("created_at", "1577836800"),
        ("created_at", 1577836800.5),
        ("created_at", True),
        ("admin_assignee_id", "12a"),
        ("admin_assignee_id", 1.5),
        ("admin_assignee_id", True),
        ("custom_attributes.score", "1.5x"),
        ("custom_attributes.score", False),
        ("open", "true"),
        ("open", 1),
        ("name", True),
        ("name", {"a": 1}),
    ],
)
def test_type_mismatch_is_rejected(field: str, value: object) -> None:
    error = rejected(flt(field, "=", value))
    assert f"'{field}'" in error.message
    assert "does not match" in error.message


def test_type_mismatch_inside_an_in_list() -> None:
    error = rejected(flt("admin_assignee_id", "IN", [1, "x"]))
    assert '"x"' in error.message
    rejected(flt("name", "IN", ["a", None]))


def test_in_and_nin_need_an_array() -> None:
    assert "array" in rejected(flt("name", "IN", "a")).message
    assert "array" in rejected(flt("name", "NIN", "a")).message


def test_scalar_operators_reject_an_array() -> None:
    error = rejected(flt("name", "=", ["a"]))
    assert "IN" in error.message


def test_integer_accepts_digit_strings_and_negative_numbers() -> None:
    records = [{"id": "a", "admin_assignee_id": -1}, {"id": "b", "admin_assignee_id": 7}]
    assert matching(flt("admin_assignee_id", "=", "-1"), records) == ["a"]
    assert matching(flt("admin_assignee_id", ">", "0"), records) == ["b"]


# --- fields and operators -----------------------------------------------------------------------


def test_unknown_field_is_rejected() -> None:
    error = rejected(flt("nope", "=", "x"))
    assert "'nope'" in error.message
    assert "searchable" in error.message


def test_unknown_operator_is_rejected() -> None:
    error = rejected(flt("name", "LIKE", "x"))
    assert '"LIKE"' in error.message
    assert "'name'" in error.message


def test_tag_id_only_supports_equality() -> None:
    records = [{"id": "a", "tag_id": ["t1", "t2"]}, {"id": "b", "tag_id": []}]
    assert matching(flt("tag_id", "=", "t1"), records, endpoint="contacts") == ["a"]
    assert matching(flt("tag_id", "!=", "t1"), records, endpoint="contacts") == ["b"]
    for operator, value in [("IN", ["t1"]), ("NIN", ["t1"]), ("~", "t")]:
        error = rejected(flt("tag_id", operator, value), endpoint="contacts")
        assert "only '=' and '!='" in error.message


# --- groups, nesting and limits ----------------------------------------------------------------

PEOPLE = [
    {"id": "a", "name": "Ann", "open": True, "admin_assignee_id": 1},
    {"id": "b", "name": "Ben", "open": True, "admin_assignee_id": 2},
    {"id": "c", "name": "Cat", "open": False, "admin_assignee_id": 1},
    {"id": "d", "name": "Dan", "open": False, "admin_assignee_id": 2},
]


def test_and_group() -> None:
    query = {"operator": "AND", "value": [flt("open", "=", True), flt("admin_assignee_id", "=", 1)]}
    assert matching(query, PEOPLE) == ["a"]


def test_or_group() -> None:
    query = {"operator": "OR", "value": [flt("name", "=", "Ann"), flt("name", "=", "Dan")]}
    assert matching(query, PEOPLE) == ["a", "d"]


def test_single_item_group() -> None:
    assert matching({"operator": "OR", "value": [flt("name", "=", "Cat")]}, PEOPLE) == ["c"]


def test_nested_groups_like_the_docs_example() -> None:
    # (1 OR 2) AND (3 OR 4)
    query = {
        "operator": "AND",
        "value": [
            {"operator": "OR", "value": [flt("name", "=", "Ann"), flt("name", "=", "Cat")]},
            {
                "operator": "OR",
                "value": [flt("open", "=", False), flt("admin_assignee_id", "=", 1)],
            },
        ],
    }
    assert matching(query, PEOPLE) == ["a", "c"]


def nested(depth: int) -> dict[str, object]:
    """A top-level group with `depth` groups nested below it."""
    query: dict[str, object] = {"operator": "OR", "value": [flt("name", "=", "Ann")]}
    for _ in range(depth):
        query = {"operator": "AND", "value": [query, flt("open", "=", True)]}
    return query


def test_two_nested_levels_are_allowed() -> None:
    assert matching(nested(2), PEOPLE) == ["a"]


def test_three_nested_levels_are_rejected() -> None:
    error = rejected(nested(3))
    assert "at most 2 nested" in error.message


def group_of(count: int, operator: str = "OR") -> dict[str, object]:
    return {"operator": operator, "value": [flt("admin_assignee_id", "=", i) for i in range(count)]}


def test_fifteen_filters_per_group_are_allowed() -> None:
    assert matching(group_of(15), PEOPLE) == ["a", "b", "c", "d"]
    assert matching({"operator": "AND", "value": [group_of(15), group_of(15)]}, PEOPLE) == [
        "a",
        "b",
        "c",
        "d",
    ]


def test_sixteen_filters_in_a_group_are_rejected() -> None:
    error = rejected(group_of(16, "AND"))
    assert "16" in error.message
    assert "at most 15" in error.message
    rejected({"operator": "AND", "value": [group_of(16)]})


def test_empty_group_is_rejected() -> None:
    assert "empty" in rejected({"operator": "AND", "value": []}).message


def test_group_value_must_be_an_array() -> None:
    assert "array" in rejected({"operator": "OR", "value": flt("name", "=", "x")}).message


@pytest.mark.parametrize("operator", ["and", "XOR", 1, None])
def test_unknown_group_operator_is_rejected(operator: object) -> None:
    error = rejected({"operator": operator, "value": [flt("name", "=", "x")]})
    assert "'AND' or 'OR'" in error.message


@pytest.mark.parametrize("query", [None, "name=x", [flt("name", "=", "x")], 3])
def test_non_object_query_is_rejected(query: object) -> None:
    assert "JSON object" in rejected(query).message


def test_non_object_item_in_group_is_rejected() -> None:
    assert "JSON object" in rejected({"operator": "AND", "value": ["x"]}).message


def test_filter_missing_parts_is_rejected() -> None:
    assert "missing 'field'" in rejected({"operator": "=", "value": "x"}).message
    assert "missing 'operator'" in rejected({"field": "name", "value": "x"}).message
    assert "missing 'value'" in rejected({"field": "name", "operator": "="}).message
    assert "non-empty string" in rejected({"field": "", "operator": "=", "value": "x"}).message
    assert "neither" in rejected({}).message


def test_errors_deep_in_the_tree_are_raised_at_compile_time() -> None:
    query = {"operator": "AND", "value": [flt("name", "=", "x"), flt("created_at", "=", "x")]}
    assert "'created_at'" in rejected(query).message


def test_search_error_carries_code_and_message() -> None:
    error = SearchError("parameter_invalid", "bad")
    assert (error.code, error.message, str(error)) == ("parameter_invalid", "bad", "bad")


def test_predicate_is_reusable_across_many_records() -> None:
    predicate = compile_for(
        {"operator": "AND", "value": [flt("admin_assignee_id", ">=", 50), flt("open", "=", True)]}
    )
    records = [{"admin_assignee_id": i, "open": i % 2 == 0} for i in range(100_000)]
    assert sum(1 for record in records if predicate(record.get)) == 49_975
