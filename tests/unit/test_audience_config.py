"""The audiences file: what it accepts, what it adds, and the errors that name the fix."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from intercom_pipeline.activation.audiences.config import DEFAULT_PROPERTIES, load_audiences
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
            CUSTOM + '    properties: {"Plan\'; drop table x; --": custom_attributes.plan}\n',
            r"properties: .* is rejected: a property name cannot contain quotes",
        ),
        (
            CUSTOM + "    properties: {Plan: \"custom_attributes.plan' or '1\"}\n",
            r"properties\['Plan'\]: .* is rejected",
        ),
        (
            CUSTOM.replace("value: USA", 'value: "x\'); drop table analytics.contacts; --"'),
            r"audience 1: filter\.value: .* is rejected: a value cannot contain",
        ),
        (
            CUSTOM.replace("property: country", 'property: "email; drop table t"'),
            r"audience 1: filter\.property: .* is rejected: a property name cannot contain",
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
