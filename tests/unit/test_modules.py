"""INTERCOM_MODULES and INTERCOM_EXCLUDE_FIELDS: parsing, the tables a module reads, and which
models a module turned off leaves out of the build."""

from __future__ import annotations

import pytest

from intercom_pipeline.defs.modules import MODULES_META, dbt_manifest, models_off
from intercom_pipeline.settings import ConfigurationError
from intercom_pipeline.sources.intercom.selection import SetupSelection, setup_selection
from intercom_pipeline.sources.intercom.tables import MODULES, RAW_TABLES, module_of, module_tables


def test_every_module_by_default_and_every_raw_table_belongs_to_one() -> None:
    selection = setup_selection({})
    assert selection.modules == tuple(MODULES)
    assert selection.tables == RAW_TABLES
    assert setup_selection({"INTERCOM_MODULES": " ALL "}).modules == tuple(MODULES)
    assert {module_of(t) for t in RAW_TABLES} == {*MODULES, "deletions"}


def test_a_module_reads_its_families_and_deletions_follow_what_they_mark() -> None:
    assert module_tables(["tickets"]) == (
        "ticket_types",
        "ticket_states",
        "tickets",
        "ticket_parts",
    )
    assert module_tables(["admins"]) == ("admins", "teams", "team_admins")
    assert module_tables(["contacts"]) == (
        "contacts",
        "contact_tags",
        "contact_companies",
        "deletions",
    )
    assert "deletions" not in module_tables(["help_center", "tags"])


def test_modules_keep_their_declared_order_and_name_unknown_ones() -> None:
    chosen = setup_selection({"INTERCOM_MODULES": "tags, conversations"})
    assert chosen.modules == ("conversations", "tags")
    assert chosen.modules_off == tuple(m for m in MODULES if m not in ("conversations", "tags"))
    with pytest.raises(ConfigurationError, match=r"INTERCOM_MODULES names ticket\b.*tickets"):
        setup_selection({"INTERCOM_MODULES": "conversations,ticket"})


def test_excluded_fields_are_grouped_by_table() -> None:
    chosen = setup_selection({"INTERCOM_EXCLUDE_FIELDS": "contacts.phone, Contacts.location,"})
    assert chosen.excluded_fields == ("contacts.location", "contacts.phone")
    assert chosen.excluded_by_table() == {"contacts": ["location", "phone"]}


@pytest.mark.parametrize(
    ("entry", "says"),
    [
        ("phone", r"write table\.field"),
        ("people.phone", r"write table\.field"),
        ("contacts.location.city", r"top-level fields.*contacts\.location"),
        ("contacts.id", r"key or cursor"),
        ("conversations.updated_at", r"key or cursor"),
        ("contacts.owner_id", r"key or cursor"),
    ],
)
def test_an_excluded_field_the_sync_cannot_do_without_is_refused(entry: str, says: str) -> None:
    with pytest.raises(ConfigurationError, match=says):
        setup_selection({"INTERCOM_EXCLUDE_FIELDS": entry})


def test_every_mart_declares_the_modules_its_rows_stand_for() -> None:
    manifest = dbt_manifest()
    for node in manifest["nodes"].values():
        if node["resource_type"] == "model" and node["fqn"][1] == "marts":
            declared = node["config"].get("meta", {}).get(MODULES_META)
            assert declared is not None, f"{node['name']} declares no meta.{MODULES_META}"
            assert set(declared) <= set(MODULES), node["name"]


def test_a_module_off_leaves_out_its_marts_what_reads_them_and_unused_staging() -> None:
    off = models_off(dbt_manifest(), SetupSelection(tuple(m for m in MODULES if m != "contacts")))
    reasons = off.reasons
    assert reasons["contacts"] == "Not built: its module contacts is off (INTERCOM_MODULES)."
    assert reasons["audience_survey_responses"].startswith("Not built: its module contacts")
    # Built from a mart that is off, so off too, saying which.
    assert "contact_survey_profile" in reasons
    # Marts that only look contacts up still build, and so does the staging they read.
    assert "conversations" not in reasons and "stg_intercom__contacts" not in reasons
    assert off.dbt_exclude() == " ".join(sorted(reasons))
    everything = models_off(dbt_manifest(), SetupSelection(tuple(MODULES)))
    assert everything.reasons == {} and everything.dbt_exclude() is None


def test_tickets_off_takes_its_staging_out_too() -> None:
    off = models_off(dbt_manifest(), SetupSelection(tuple(m for m in MODULES if m != "tickets")))
    assert set(off.reasons) == {
        "tickets",
        "stg_intercom__tickets",
        "stg_intercom__ticket_parts",
        "stg_intercom__ticket_types",
        "stg_intercom__ticket_states",
    }
