"""The audiences file: what it accepts, what it adds, and the errors that name the fix."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import duckdb
import pytest

from intercom_pipeline.activation.audiences.config import DEFAULT_PROPERTIES, load_audiences
from intercom_pipeline.activation.audiences.filters import FilterError, compile_filter
from intercom_pipeline.activation.audiences.sync import segment_audience_id
from intercom_pipeline.activation.surveys.settings import survey_settings
from intercom_pipeline.settings import ConfigurationError

CUSTOM = """
  - type: custom
    id: trial
    name: Trial
    filter: {property: country, operator: is, value: USA}
"""


def load(tmp_path: Path, body: str) -> list:
    path = tmp_path / "audiences.yaml"
    path.write_text("audiences:\n" + textwrap.dedent(body))
    return load_audiences(path)


def test_without_a_file_the_audiences_are_users_and_leads(tmp_path: Path) -> None:
    audiences = load_audiences(tmp_path / "missing.yaml")
    assert [(a.id, a.name, a.kind, a.auto_sync) for a in audiences] == [
        ("users", "Users", "users", False),
        ("leads", "Leads", "leads", False),
    ]


def test_users_and_leads_are_always_audiences(tmp_path: Path) -> None:
    audiences = load(tmp_path, "  - {type: leads, auto_sync: true}\n" + CUSTOM)
    assert [(a.id, a.kind, a.auto_sync) for a in audiences] == [
        ("users", "users", False),
        ("leads", "leads", True),
        ("trial", "custom", False),
    ]


def test_a_custom_audience_reads_every_setting(tmp_path: Path) -> None:
    (_, _, trial) = load(
        tmp_path,
        CUSTOM
        + """
    source: leads
    duplicates: skip
    tag: trial
    tag_in_intercom: true
    on_deleted: remove
    on_unsubscribed: keep
    properties: {Free Trial: custom_attributes.plan, Plan Name: custom_attributes.plan_name}
    events: {removed: left}
""",
    )
    assert (trial.id, trial.name) == ("trial", "Trial")  # not the mapped property's name
    assert (trial.source, trial.duplicates, trial.tag, trial.tag_in_intercom) == (
        "leads",
        "skip",
        "trial",
        True,
    )
    assert (trial.on_deleted, trial.on_unsubscribed, trial.events) == (
        "remove",
        "keep",
        {"removed": "left"},
    )
    assert trial.properties == {
        **DEFAULT_PROPERTIES,
        "Free Trial": "custom_attributes.plan",
        "Plan Name": "custom_attributes.plan_name",
    }
    assert (trial.auto_sync, trial.filter) == (
        False,
        {"property": "country", "operator": "is", "value": "USA"},
    )


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("  - {type: users, name: Everyone}\n", "the name of a list comes from Intercom"),
        ("  - {type: leads, name: Prospects}\n", "the name of a list comes from Intercom"),
        (
            "  - {type: intercom_segment, id: usa, segment: USA, name: America}\n",
            "the name of an Intercom segment comes from Intercom",
        ),
        (CUSTOM + "    duplicates: merge\n", "`duplicates` is 'merge'; choose one of update, skip"),
        (CUSTOM + "    on_deleted: delete\n", "`on_deleted` is 'delete'; choose one of keep, mark"),
        (
            CUSTOM + "    on_unsubscribed: ignore\n",
            "`on_unsubscribed` is 'ignore'; choose one of keep, mark, remove",
        ),
        (CUSTOM + "    source: companies\n", "`source` is 'companies'; choose one of users, leads"),
        ("  - {type: list}\n", "`type` is 'list'; choose one of users, leads"),
        (CUSTOM + "    colour: red\n", r"unknown keys \['colour'\]"),
        (CUSTOM.replace("id: trial", "id: Trial-1"), "`id` must be lower-case letters"),
        (CUSTOM + CUSTOM, "two audiences have the id 'trial'"),
        (
            "  - {type: custom, id: users, name: U, filter: {property: email, operator: is_set}}\n",
            "the id 'users'",
        ),
        ("  - {type: intercom_segment, id: usa}\n", "`segment` must be the segment's name or id"),
        ("  - {type: custom, id: x, filter: {}}\n", "a custom audience needs a `name`"),
        (
            CUSTOM + "    events: {joined: hello}\n",
            "`events` maps unsubscribed and/or removed",
        ),
        (
            CUSTOM + "    properties: {Plan: [custom_attributes.plan]}\n",
            "`properties` maps your names to contact properties",
        ),
        (
            CUSTOM + "    properties: {Plan: \"custom_attributes.plan' or '1\"}\n",
            r"properties\['Plan'\]: \"plan' or '1\" is not a custom attribute name",
        ),
        (
            CUSTOM + '    properties: {Plan: "plan; drop table x"}\n',
            r"properties\['Plan'\]: 'plan; drop table x' is rejected: a property name must be",
        ),
        (
            CUSTOM.replace("property: country", 'property: "email; drop table t"'),
            r"audience 1: filter\.property: 'email; drop table t' is rejected: a property name",
        ),
        (
            CUSTOM.replace("operator: is", "operator: like"),
            r"audience 1: filter: unknown operator 'like'",
        ),
    ],
)
def test_a_bad_audience_fails_with_the_fix(tmp_path: Path, body: str, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message) as caught:
        load(tmp_path, body)
    assert str(tmp_path / "audiences.yaml") in str(caught.value)


def test_a_file_without_a_list_fails(tmp_path: Path) -> None:
    path = tmp_path / "audiences.yaml"
    path.write_text("audiences: {users: true}\n")
    with pytest.raises(ConfigurationError, match="expected a list under `audiences:`"):
        load_audiences(path)


def test_survey_audience_accepts_an_intercom_segment_outside_the_file(tmp_path: Path) -> None:
    """`segment_<id>` audiences come from Intercom (the intercom_segments asset), not the file."""
    load(tmp_path, CUSTOM)
    env = {"AUDIENCES_FILE": str(tmp_path / "audiences.yaml")}
    segment = segment_audience_id("5f3a9c0e1b2d4e6f7a8b9c0d")
    for audience in ("trial", "users", segment):
        assert survey_settings({**env, "SURVEY_AUDIENCE": audience}).audience == audience
    for wrong in ("segment_", "segment_zeta", "segments_5f3a", "trials"):
        with pytest.raises(
            ConfigurationError, match=rf"'{wrong}' is not an audience .*segment_<Intercom segment"
        ):
            survey_settings({**env, "SURVEY_AUDIENCE": wrong})


TRICKY_FILE = r"""
  - type: custom
    id: select_plan
    name: Plan "Select"
    filter: {property: custom_attributes.plan, operator: is, value: 'Plan "Select"'}
    properties: {'Plan "Select"': custom_attributes.plan, "Bed & Table's": company_name}
  - type: custom
    id: bed_and_table
    name: Bed & Table's
    filter: {property: company_name, operator: is, value: "Bed & Table's"}
  - type: custom
    id: injection_text
    name: Injection text
    filter: {property: company_name, operator: is, value: "'; drop table x; --"}
  - type: custom
    id: keyword
    name: Keyword
    filter: {property: custom_attributes.plan, operator: is, value: select}
  - type: custom
    id: obrien
    name: O'Brien
    filter: {property: contact_name, operator: starts_with, value: "O'Brien"}
  - type: custom
    id: unicode
    name: Unicode
    filter:
      all:
        - {property: country, operator: is, value: "Côte d\u2019Ivoire"}  # a curly apostrophe
        - {property: contact_name, operator: contains, value: 東京}
  - type: custom
    id: newline
    name: Newline
    filter: {property: company_name, operator: is, value: "Line one\nLine two"}
"""
# contact_id, contact_name, country, company_name, plan (a custom attribute)
TRICKY_CONTACTS = [
    ("c1", "Ada", "USA", "Acme", 'Plan "Select"'),
    ("c2", "Bob", "USA", "Bed & Table's", "Plan Select"),
    ("c3", "Cy", "France", "'; drop table x; --", "select"),
    ("c4", "O'Brien Dee", "Ireland", "Bed and Table's", "select *"),
    ("c5", "Eve 東京", "Côte d\u2019Ivoire", "Line one\nLine two", None),
    ("c6", "O'Briant", "Côte d'Ivoire", "Line one Line two", "free"),
]


def test_values_load_as_written_and_select_exactly_their_contacts(tmp_path: Path) -> None:
    """Quotes, keywords, ampersands, semicolons, unicode and newlines are values like any other."""
    audiences = {a.id: a for a in load(tmp_path, TRICKY_FILE)}
    assert audiences["select_plan"].filter == {
        "property": "custom_attributes.plan",
        "operator": "is",
        "value": 'Plan "Select"',
    }
    assert audiences["select_plan"].properties == {
        **DEFAULT_PROPERTIES,
        'Plan "Select"': "custom_attributes.plan",  # a mapping's names are bound values too
        "Bed & Table's": "company_name",
    }
    assert audiences["bed_and_table"].name == "Bed & Table's"
    with duckdb.connect() as conn:
        conn.execute("create schema analytics")
        conn.execute("create table x (id integer)")
        conn.execute(
            "create table analytics.contacts (contact_id varchar, contact_name varchar,"
            " country varchar, company_name varchar, custom_attributes json)"
        )
        conn.executemany(
            "insert into analytics.contacts values (?, ?, ?, ?, ?)",
            [(*row[:4], json.dumps({"plan": row[4]})) for row in TRICKY_CONTACTS],
        )
        columns = {"contact_id", "contact_name", "country", "company_name", "custom_attributes"}
        members = {}
        for audience_id, audience in audiences.items():
            if audience.kind == "custom":
                sql, params = compile_filter(audience.filter, columns)
                rows = conn.execute(
                    f"select contact_id from analytics.contacts where {sql}", params
                )
                members[audience_id] = {contact_id for (contact_id,) in rows.fetchall()}
        assert conn.execute("select count(*) from x").fetchone() == (0,)  # not dropped
    assert members == {
        "select_plan": {"c1"},
        "bed_and_table": {"c2"},
        "injection_text": {"c3"},
        "keyword": {"c3"},
        "obrien": {"c4"},
        "unicode": {"c5"},
        "newline": {"c5"},
    }


def test_a_malformed_property_fails_with_its_place_in_the_file_and_the_fix(
    tmp_path: Path,
) -> None:
    body = CUSTOM.replace(
        "filter: {property: country, operator: is, value: USA}",
        "filter: {any: [{property: country, operator: is, value: USA},"
        " {property: plan seats, operator: is_set}]}",
    )
    with pytest.raises(FilterError) as caught:
        load(tmp_path, body)
    assert str(caught.value) == (
        f"{tmp_path / 'audiences.yaml'}, audience 1: filter.any[1].property: 'plan seats' is "
        "rejected: a property name must be a column of analytics.contacts (letters, digits and "
        "underscores, as in country or signed_up_at) or custom_attributes.<name> for a custom "
        "attribute"
    )


def test_an_unknown_operator_fails_with_its_place_in_the_file_and_the_choices(
    tmp_path: Path,
) -> None:
    with pytest.raises(FilterError) as caught:
        load(tmp_path, "  - {type: users}\n" + CUSTOM.replace("operator: is", "operator: equals"))
    assert str(caught.value) == (
        f"{tmp_path / 'audiences.yaml'}, audience 2: filter: unknown operator 'equals': use one "
        "of is, is_not, contains, not_contains, starts_with, greater_than, less_than, is_set, "
        'is_unset (spaces work too, as in "is not")'
    )


def test_a_well_formed_property_that_is_not_a_column_fails_at_the_sync(tmp_path: Path) -> None:
    """Only the warehouse knows its columns: the file loads, compiling names the valid ones."""
    (_, _, trial) = load(tmp_path, CUSTOM.replace("property: country", "property: contry"))
    with pytest.raises(FilterError) as caught:
        compile_filter(trial.filter, {"country", "email", "custom_attributes"})
    assert str(caught.value) == (
        "filter.property: unknown property 'contry': use one of country, custom_attributes, "
        "email or custom_attributes.<name>"
    )
