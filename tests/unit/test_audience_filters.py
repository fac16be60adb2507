"""Custom-segment filters: each operator against a real DuckDB table, nesting, names and values."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import duckdb
import pytest

from intercom_pipeline.activation.audiences.filters import (
    MAX_CONDITIONS,
    MAX_DEPTH,
    MAX_VALUE_LENGTH,
    OPERATORS,
    FilterError,
    check_filter,
    compile_filter,
    property_sql,
)
from intercom_pipeline.settings import ConfigurationError

CONTACTS = [
    # contact_id, role, email, country, unsubscribed, created_at, count_companies, attributes
    (
        "c1",
        "user",
        "ada@acme.com",
        "USA",
        False,
        "2024-01-15 09:00:00",
        2,
        {"subscription_status": "Free Trial", "plan seats": 5, "beta": True},
    ),
    (
        "c2",
        "lead",
        "Bob@Example.org",
        "France",
        True,
        "2024-06-01 00:00:00",
        1,
        {"subscription_status": "Paid", "plan seats": 50},
    ),
    ("c3", "user", None, None, None, None, None, None),
    (
        "c4",
        "user",
        "",
        "Germany",
        False,
        "2023-03-10 12:00:00",
        0,
        {"subscription_status": "free trial", "plan seats": "12", "beta": False},
    ),
    (
        "c5",
        "lead",
        "eve@acme.io",
        "usa",
        False,
        "2025-02-01 00:00:00",
        3,
        {"subscription_status": "Churned", "note": "50% off_"},
    ),
]


@pytest.fixture
def conn() -> Iterator[duckdb.DuckDBPyConnection]:
    with duckdb.connect() as con:
        con.execute("create schema analytics")
        con.execute(
            "create table analytics.contacts (contact_id varchar, role varchar, email varchar,"
            " country varchar, is_unsubscribed_from_emails boolean, created_at timestamp,"
            " count_companies integer, custom_attributes json)"
        )
        con.executemany(
            "insert into analytics.contacts values (?, ?, ?, ?, ?, ?, ?, ?)",
            [(*row[:-1], None if row[-1] is None else json.dumps(row[-1])) for row in CONTACTS],
        )
        yield con


def columns(con: duckdb.DuckDBPyConnection) -> frozenset[str]:
    """The table's columns, read the way the audience sync reads them."""
    rows = con.execute(
        "select column_name from information_schema.columns"
        " where table_schema = 'analytics' and table_name = 'contacts'"
    ).fetchall()
    return frozenset(name for (name,) in rows)


def selected(con: duckdb.DuckDBPyConnection, node: Any) -> set[str]:
    sql, params = compile_filter(node, columns(con))
    rows = con.execute(f"select contact_id from analytics.contacts where {sql}", params)
    return {contact_id for (contact_id,) in rows.fetchall()}


def cond(prop: str, operator: str, *value: Any) -> dict[str, Any]:
    return {"property": prop, "operator": operator, **({"value": value[0]} if value else {})}


@pytest.mark.parametrize(
    ("node", "expected"),
    [
        # is: case-insensitive text
        (cond("country", "is", "USA"), {"c1", "c5"}),
        (cond("custom_attributes.subscription_status", "is", "FREE TRIAL"), {"c1", "c4"}),
        # is_not: contacts without the property are "not USA" too
        (cond("country", "is_not", "usa"), {"c2", "c3", "c4"}),
        (cond("custom_attributes.subscription_status", "is_not", "Paid"), {"c1", "c3", "c4", "c5"}),
        # contains / not_contains / starts_with: case-insensitive, nulls are "not containing"
        (cond("email", "contains", "ACME"), {"c1", "c5"}),
        (cond("email", "not_contains", "acme"), {"c2", "c3", "c4"}),
        (cond("email", "starts_with", "bob@"), {"c2"}),
        (cond("email", "starts_with", "acme"), set()),
        # LIKE wildcards in a value are plain characters
        (cond("custom_attributes.note", "contains", "50%"), {"c5"}),
        (cond("email", "contains", "%"), set()),
        (cond("email", "contains", "_"), set()),
        # numbers: a column, and a custom attribute stored as a number or as text
        (cond("count_companies", "greater_than", 1), {"c1", "c5"}),
        (cond("count_companies", "less_than", 1.5), {"c2", "c4"}),
        (cond("count_companies", "is", 2), {"c1"}),
        (cond("custom_attributes.plan seats", "greater_than", 10), {"c2", "c4"}),
        (cond("custom_attributes.plan seats", "less_than", 10), {"c1"}),
        # dates: an ISO date, a naive datetime, and one with an offset converted to UTC
        (cond("created_at", "greater_than", "2024-03-01"), {"c2", "c5"}),
        (cond("created_at", "less_than", "2024-01-15T10:00:00"), {"c1", "c4"}),
        (cond("created_at", "less_than", "2024-01-15T10:00:00+02:00"), {"c4"}),
        (cond("created_at", "greater_than", "2024-01-15T09:00:00Z"), {"c2", "c5"}),
        # booleans: a column and a custom attribute; is_not true includes unknown
        (cond("is_unsubscribed_from_emails", "is", True), {"c2"}),
        (cond("is_unsubscribed_from_emails", "is", False), {"c1", "c4", "c5"}),
        (cond("is_unsubscribed_from_emails", "is_not", True), {"c1", "c3", "c4", "c5"}),
        (cond("custom_attributes.beta", "is", True), {"c1"}),
        (cond("custom_attributes.beta", "is", False), {"c4"}),
        # is_set / is_unset: an empty string counts as unset
        (cond("email", "is_set"), {"c1", "c2", "c5"}),
        (cond("email", "is_unset"), {"c3", "c4"}),
        (cond("custom_attributes.beta", "is_set"), {"c1", "c4"}),
        (cond("custom_attributes.beta", "is_unset"), {"c2", "c3", "c5"}),
        (cond("is_unsubscribed_from_emails", "is_set"), {"c1", "c2", "c4", "c5"}),
    ],
)
def test_each_operator_selects_exactly_the_matching_contacts(
    conn: duckdb.DuckDBPyConnection, node: dict[str, Any], expected: set[str]
) -> None:
    assert selected(conn, node) == expected


@pytest.mark.parametrize(
    ("spelling", "canonical"),
    [
        ("IS NOT", "is_not"),
        ("is  not", "is_not"),
        ("Is_Not", "is_not"),
        ("greater than", "greater_than"),
        ("less than", "less_than"),
        ("starts with", "starts_with"),
        ("not contains", "not_contains"),
        ("is set", "is_set"),
        ("IS UNSET", "is_unset"),
        ("Contains", "contains"),
    ],
)
def test_operators_are_case_insensitive_and_accept_spaces(spelling: str, canonical: str) -> None:
    cols = frozenset({"email", "count_companies"})
    prop, value = ("count_companies", (3,)) if "than" in canonical else ("email", ("acme",))
    value = () if canonical in ("is_set", "is_unset") else value
    assert compile_filter(cond(prop, spelling, *value), cols) == compile_filter(
        cond(prop, canonical, *value), cols
    )


def test_operators_lists_every_supported_operator() -> None:
    assert OPERATORS == (
        "is",
        "is_not",
        "contains",
        "not_contains",
        "starts_with",
        "greater_than",
        "less_than",
        "is_set",
        "is_unset",
    )


def test_any_inside_all(conn: duckdb.DuckDBPyConnection) -> None:
    node = {
        "all": [
            cond("role", "is", "user"),
            {
                "any": [
                    cond("custom_attributes.subscription_status", "is", "free trial"),
                    cond("country", "is", "USA"),
                ]
            },
        ]
    }
    # users c1, c3, c4; free trial c1, c4; USA c1, c5
    assert selected(conn, node) == {"c1", "c4"}


def test_all_inside_any(conn: duckdb.DuckDBPyConnection) -> None:
    node = {
        "any": [
            {"all": [cond("role", "is", "lead"), cond("email", "contains", "acme")]},
            cond("country", "is", "germany"),
        ]
    }
    assert selected(conn, node) == {"c4", "c5"}


def test_negating_the_whole_filter_keeps_contacts_with_missing_properties(
    conn: duckdb.DuckDBPyConnection,
) -> None:
    sql, params = compile_filter(cond("country", "is", "USA"), columns(conn))
    rows = conn.execute(
        f"select contact_id from analytics.contacts where not ({sql})", params
    ).fetchall()
    assert {contact_id for (contact_id,) in rows} == {"c2", "c3", "c4"}


def test_custom_attribute_with_a_space_is_a_json_path_parameter(
    conn: duckdb.DuckDBPyConnection,
) -> None:
    sql, params = compile_filter(cond("custom_attributes.plan seats", "is", 50), columns(conn))
    assert params == ['$."plan seats"', 50.0]
    assert "plan seats" not in sql
    assert (
        sql
        == 'coalesce(try_cast(json_extract_string("custom_attributes", ?) as double) = ?, false)'
    )
    assert selected(conn, cond("custom_attributes.plan seats", "is", 50)) == {"c2"}


def test_parameters_follow_the_placeholders_in_order(conn: duckdb.DuckDBPyConnection) -> None:
    node = {
        "any": [
            cond("custom_attributes.subscription_status", "is", "Paid"),
            cond("email", "is_set"),
            cond("created_at", "greater_than", "2024-05-01T12:00:00+00:00"),
        ]
    }
    sql, params = compile_filter(node, columns(conn))
    assert sql.count("?") == len(params) == 3
    assert params[:2] == ['$."subscription_status"', "Paid"]
    assert params[2].isoformat() == "2024-05-01T12:00:00"  # naive UTC, like the *_at columns


@pytest.mark.parametrize(
    "node",
    [
        cond("country", "is", "Sunny Valley"),
        cond("email", "contains", "zebra-crossing"),
        cond("email", "starts_with", "walrus"),
        cond("custom_attributes.subscription_status", "is_not", "Platinum Plus"),
        {"all": [cond("role", "is", "narwhal"), {"any": [cond("country", "is", "Atlantis")]}]},
    ],
)
def test_sql_never_contains_the_users_text(
    conn: duckdb.DuckDBPyConnection, node: dict[str, Any]
) -> None:
    sql, params = compile_filter(node, columns(conn))
    for value in _values(node):
        assert value.lower() not in sql.lower()
        assert value in params
    assert "subscription_status" not in sql


def _values(node: dict[str, Any]) -> list[str]:
    if "property" in node:
        return [node["value"]]
    return [value for child in next(iter(node.values())) for value in _values(child)]


def test_an_unknown_property_is_rejected_with_the_ones_that_exist(
    conn: duckdb.DuckDBPyConnection,
) -> None:
    with pytest.raises(FilterError, match="unknown property") as caught:
        compile_filter(cond("country_code", "is", "USA"), columns(conn))
    assert "'country_code'" in str(caught.value)
    assert "country, created_at" in str(caught.value)  # the fix: the properties that exist
    assert "custom_attributes.<name>" in str(caught.value)


@pytest.mark.parametrize(
    "prop",
    [
        "country; drop table analytics.contacts; --",
        "country' or '1'='1",
        'country" = "country',
        'country"',
        "country`",
        "country -- note",
        "country /* note */",
        "country)",
        "lower(country)",
        "analytics.contacts.country",
        "country\n",
        "country\x00",
        "plan seats",
        "Custom_Attributes.plan",
        "",
    ],
)
def test_a_name_that_cannot_be_a_property_is_rejected(
    conn: duckdb.DuckDBPyConnection, prop: str
) -> None:
    """A property becomes SQL, so it must be a plain column name: refused when the file loads."""
    message = (
        rf"^filter\.property: {re.escape(repr(prop))} is rejected: a property name must be a column"
    )
    with pytest.raises(FilterError, match=message):
        compile_filter(cond(prop, "is", "USA"), columns(conn))
    with pytest.raises(FilterError, match=message):
        check_filter(cond(prop, "is", "USA"))
    assert conn.execute("select count(*) from analytics.contacts").fetchone() == (5,)


@pytest.mark.parametrize(
    "prop",
    [
        "custom_attributes.plan'); drop table analytics.contacts; --",
        'custom_attributes.plan"] or 1=1',
        "custom_attributes.plan\\",
        "custom_attributes.plan\x00",
        "custom_attributes.a.b",
    ],
)
def test_injection_through_a_custom_attribute_name_is_refused(
    conn: duckdb.DuckDBPyConnection, prop: str
) -> None:
    cols = columns(conn)
    for check in (
        lambda: check_filter(cond(prop, "is", "USA")),
        lambda: compile_filter(cond(prop, "is", "USA"), cols),
        lambda: property_sql(prop, cols),
    ):
        with pytest.raises(FilterError, match="is not a custom attribute name: use its name as"):
            check()
    assert conn.execute("select count(*) from analytics.contacts").fetchone() == (5,)


def test_a_well_formed_name_must_still_be_a_column_of_the_table(
    conn: duckdb.DuckDBPyConnection,
) -> None:
    """The identifier check is only the shape: the SQL gets a name only if the table has it."""
    assert check_filter(cond("select", "is", "x")) is None
    for prop in ("select", "contact_id_", "information_schema"):
        with pytest.raises(FilterError, match=rf"^filter\.property: unknown property '{prop}'"):
            compile_filter(cond(prop, "is", "x"), columns(conn))


def test_a_bad_property_error_names_it_and_the_choices() -> None:
    with pytest.raises(FilterError) as caught:
        compile_filter({"any": [cond("contry", "is", "USA")]}, {"country", "custom_attributes"})
    assert str(caught.value) == (
        "filter.any[0].property: unknown property 'contry': use one of country, "
        "custom_attributes or custom_attributes.<name>"
    )
    with pytest.raises(FilterError) as caught:
        check_filter(cond("email; drop table t", "is", "x"))
    assert str(caught.value) == (
        "filter.property: 'email; drop table t' is rejected: a property name must be a column of "
        "analytics.contacts (letters, digits and underscores, as in country or signed_up_at) or "
        "custom_attributes.<name> for a custom attribute"
    )


def test_a_bad_operator_error_names_it_and_the_choices() -> None:
    with pytest.raises(FilterError) as caught:
        check_filter({"all": [cond("country", "is", "USA"), cond("country", "= 'x' or", "y")]})
    assert str(caught.value) == (
        "filter.all[1]: unknown operator \"= 'x' or\": use one of is, is_not, contains, "
        "not_contains, starts_with, greater_than, less_than, is_set, is_unset "
        '(spaces work too, as in "is not")'
    )


TRICKY = {
    # contact_id: the text stored, in a column and in a custom attribute
    "t1": 'Plan "Select"',
    "t2": "Bed & Table's",
    "t3": "'; drop table x; --",
    "t4": "select",
    "t5": "O'Brien",
    "t6": "Zürich \u2013 東京 🚀",  # an en dash, CJK and an emoji
    "t7": "line one\nline two",
    "t8": "x'); drop table analytics.contacts; --",
    "t9": "' or 1=1 /* a; b */",
    # near misses, which must not match
    "n1": "Plan Select",
    "n2": "Bed and Table's",
    "n3": "drop table x",
    "n4": "select *",
    "n5": "O'Brian",
    "n6": "Zurich",
    "n7": "line one line two",
}


@pytest.fixture
def tricky() -> Iterator[duckdb.DuckDBPyConnection]:
    """Contacts whose plan is text a keyword filter would reject, next to near misses."""
    with duckdb.connect() as con:
        con.execute("create schema analytics")
        con.execute("create table x (id integer)")
        con.execute(
            "create table analytics.contacts"
            " (contact_id varchar, plan varchar, custom_attributes json)"
        )
        con.executemany(
            "insert into analytics.contacts values (?, ?, ?)",
            [(c, text, json.dumps({"plan name": text})) for c, text in TRICKY.items()],
        )
        yield con


@pytest.mark.parametrize("contact_id", [c for c in TRICKY if c.startswith("t")])
def test_any_value_is_matched_exactly_as_written(
    tricky: duckdb.DuckDBPyConnection, contact_id: str
) -> None:
    """Quotes, keywords, ampersands, semicolons, unicode and newlines are plain text in a value."""
    value = TRICKY[contact_id]
    prefixed = {c for c, text in TRICKY.items() if text.lower().startswith(value.lower())}
    assert check_filter(cond("plan", "is", value)) is None
    for prop in ("plan", "custom_attributes.plan name"):
        assert selected(tricky, cond(prop, "is", value)) == {contact_id}
        assert selected(tricky, cond(prop, "is", value.upper())) == {contact_id}
        assert selected(tricky, cond(prop, "is_not", value)) == set(TRICKY) - {contact_id}
        assert selected(tricky, cond(prop, "starts_with", value)) == prefixed
    sql, params = compile_filter(cond("plan", "contains", value), columns(tricky))
    assert sql == 'coalesce(contains(lower(cast("plan" as varchar)), lower(?)), false)'
    assert params == [value]
    assert tricky.execute("select count(*) from x").fetchone() == (0,)  # not dropped
    assert tricky.execute("select count(*) from analytics.contacts").fetchone() == (len(TRICKY),)


def test_values_with_sql_in_them_match_by_contents(tricky: duckdb.DuckDBPyConnection) -> None:
    quoted = {"t2", "t3", "t5", "t8", "t9", "n2", "n5"}
    assert selected(tricky, cond("plan", "contains", "select")) == {"t1", "t4", "n1", "n4"}
    assert selected(tricky, cond("plan", "contains", "drop table")) == {"t3", "t8", "n3"}
    assert selected(tricky, cond("plan", "contains", "'")) == quoted
    assert selected(tricky, cond("plan", "contains", ";")) == {"t3", "t8", "t9"}
    assert selected(tricky, cond("plan", "contains", "&")) == {"t2"}
    assert selected(tricky, cond("plan", "contains", "\n")) == {"t7"}
    assert selected(tricky, cond("plan", "contains", "東京")) == {"t6"}
    node = {"any": [cond("plan", "is", "select"), cond("plan", "is", "' or 1=1 /* a; b */")]}
    assert selected(tricky, node) == {"t4", "t9"}


@pytest.mark.parametrize("value", ["a\x00b", "\t", " ", "x" * MAX_VALUE_LENGTH])
def test_any_character_and_up_to_the_length_limit_is_accepted(value: str) -> None:
    sql, params = compile_filter(cond("plan", "is", value), {"plan"})
    assert (sql, params) == (compile_filter(cond("plan", "is", "x"), {"plan"})[0], [value])


@pytest.mark.parametrize("value", ["?", "O'Brien", "50% off_", 'Côte "d\'Ivoire"', "a-b"])
def test_other_values_are_bound_literals(conn: duckdb.DuckDBPyConnection, value: str) -> None:
    for operator in ("is", "contains", "starts_with"):
        node = cond("country", operator, value)
        sql, params = compile_filter(node, columns(conn))
        assert (sql, params) == (
            compile_filter(cond("country", operator, "x"), columns(conn))[0],
            [value],
        )
        assert selected(conn, node) == set()
    assert selected(conn, cond("custom_attributes.note", "is", "50% off_")) == {"c5"}


@pytest.mark.parametrize(
    "prop",
    [
        "custom_attributes.a.b",
        "custom_attributes.a&b",
        "custom_attributes.",
        "custom_attributes.   ",
        "custom_attributes." + "x" * 101,
    ],
)
def test_invalid_custom_attribute_names_are_rejected(prop: str) -> None:
    with pytest.raises(FilterError, match="not a custom attribute name"):
        compile_filter(cond(prop, "is", "x"), frozenset({"custom_attributes", "email"}))


def test_custom_attribute_names_allow_intercom_characters() -> None:
    name = "Plan tier_2-é" + "x" * 87
    _, params = compile_filter(cond(f"custom_attributes.{name}", "is_set"), {"custom_attributes"})
    assert params == [f'$."{name}"']


def test_custom_attributes_need_the_column() -> None:
    with pytest.raises(
        FilterError, match=r"unknown property 'custom_attributes\.plan': use one of email$"
    ):
        compile_filter(cond("custom_attributes.plan", "is", "x"), {"email"})


def test_properties_are_matched_exactly() -> None:
    with pytest.raises(FilterError, match="unknown property 'Country'"):
        compile_filter(cond("Country", "is", "USA"), {"country"})


@pytest.mark.parametrize(
    ("node", "message"),
    [
        ("country is USA", "expected a mapping, got str"),
        ([cond("country", "is", "USA")], "expected a mapping, got list"),
        ({}, "either a condition"),
        ({"all": [cond("country", "is", "USA")], "any": []}, "either a condition"),
        ({"property": "country", "operator": "is", "value": "x", "all": []}, "either a condition"),
        ({"all": [cond("country", "is", "USA")], "name": "x"}, r"unknown keys \['name'\]"),
        ({"all": []}, r"filter\.all: expected a non-empty list"),
        ({"any": cond("country", "is", "USA")}, r"filter\.any: expected a non-empty list"),
        ({**cond("country", "is", "USA"), "negate": True}, r"unknown keys \['negate'\]"),
        ({"property": "country", "value": "USA"}, "unknown operator None"),
        (cond("country", "like", "USA"), "unknown operator 'like': use one of is, is_not"),
        (cond("country", "equals", "USA"), "greater_than, less_than, is_set, is_unset"),
        (cond("country", "is"), "`is` needs a `value`"),
        (cond("email", "is_set", True), "`is_set` takes no value"),
        (cond("email", "is unset", ""), "`is_unset` takes no value"),
        (cond(42, "is", "USA"), "`property` must be a text"),
        (cond("country", "is", None), "the value is empty: use `is_set` or `is_unset`"),
        (cond("country", "is", ""), "the value is empty"),
        (cond("country", "is", ["USA", "France"]), "got list: write one value per condition"),
        (cond("country", "is", {"eq": "USA"}), "expected a text, a number or true/false, got dict"),
        (cond("country", "is", "x" * 1001), "1001 characters, more than 1000"),
        (cond("country\t", "is", "USA"), r"filter\.property: 'country\\t' is rejected"),
        (cond("email", "contains", 5), "`contains` needs a text, got 5"),
        (cond("email", "starts_with", True), "`starts_with` needs a text, got true"),
        (cond("created_at", "greater_than", "last week"), "needs a number .* or an ISO date"),
        (cond("created_at", "less_than", "5"), "got '5'"),
        (cond("created_at", "greater_than", False), "`greater_than` needs a number"),
        (cond("count_companies", "less_than", float("nan")), "is not a finite number"),
        (cond("count_companies", "less_than", 10**400), "is not a finite number"),
    ],
)
def test_malformed_filters_are_rejected_with_the_fix(node: Any, message: str) -> None:
    with pytest.raises(FilterError, match=message):
        compile_filter(node, frozenset({"country", "email", "created_at", "count_companies"}))
    with pytest.raises(FilterError, match=message):
        check_filter(node)


def test_errors_say_where_in_the_filter() -> None:
    node = {
        "all": [
            cond("country", "is", "USA"),
            {"any": [cond("role", "is", "user"), cond("x", "is", "y")]},
        ]
    }
    with pytest.raises(
        FilterError, match=r"^filter\.all\[1\]\.any\[1\]\.property: unknown property 'x'"
    ):
        compile_filter(node, {"country", "role"})


def test_filter_errors_are_configuration_errors() -> None:
    assert issubclass(FilterError, ConfigurationError)
    assert issubclass(FilterError, ValueError)


def test_nesting_depth_is_limited() -> None:
    node: dict[str, Any] = cond("country", "is", "USA")
    for _ in range(MAX_DEPTH):
        node = {"all": [node]}
    assert compile_filter(node, {"country"})[0].startswith("(" * MAX_DEPTH + "coalesce(")
    with pytest.raises(FilterError, match=f"more than {MAX_DEPTH} levels deep"):
        compile_filter({"any": [node]}, {"country"})


def test_condition_count_is_limited() -> None:
    many = [cond("country", "is", f"c{i}") for i in range(MAX_CONDITIONS)]
    _, params = compile_filter({"any": many}, {"country"})
    assert len(params) == MAX_CONDITIONS
    with pytest.raises(FilterError, match=f"more than {MAX_CONDITIONS} conditions"):
        compile_filter({"any": [*many[:100], {"all": many[:101]}]}, {"country"})


def test_check_filter_needs_no_table() -> None:
    """The audiences file checks filters when it loads; only the sync knows the columns."""
    node = {"any": [cond("custom_attributes.plan", "is", "Free Trial"), cond("nope", "is_set")]}
    assert check_filter(node) is None
    with pytest.raises(FilterError, match=r"^filter\.any\[1\]: unknown operator 'is maybe'"):
        check_filter({"any": [cond("country", "is", "USA"), cond("nope", "is maybe", 1)]})


def test_property_sql_reads_columns_and_custom_attributes(conn: duckdb.DuckDBPyConnection) -> None:
    cols = columns(conn)
    assert property_sql("country", cols) == ('"country"', [])
    sql, params = property_sql("custom_attributes.plan seats", cols)
    rows = conn.execute(f"select {sql} from analytics.contacts order by contact_id", params)
    assert [value for (value,) in rows.fetchall()] == ["5", "50", None, "12", None]
    with pytest.raises(FilterError, match="unknown property 'nope'"):
        property_sql("nope", cols)
