"""Audiences against the sandbox: each kind, a custom-attribute filter, property mapping, update
versus skip, the report after the sandbox clock moves, and a hostile filter."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
import pytest
import requests

from intercom_pipeline.audiences import store
from intercom_pipeline.audiences.config import load_audiences
from intercom_pipeline.audiences.filters import FilterError
from intercom_pipeline.audiences.sync import sync_audience
from intercom_pipeline.sandbox import DEFAULT_TOKEN, RunningSandbox, Sandbox, SandboxConfig
from intercom_pipeline.sandbox.model import Contact
from intercom_pipeline.settings import intercom_settings
from intercom_pipeline.sources.intercom import connect

AUDIENCES = """
audiences:
  - type: users
  - type: leads
    auto_sync: true
  - type: intercom_segment
    id: usa
    segment: Everyone in the USA
  - type: custom
    id: trial_or_japan
    name: Free trial or Japan
    source: users
    filter:
      any:
        - {property: custom_attributes.plan, operator: is, value: Free Trial}
        - {property: country, operator: is, value: Japan}
    properties: {Free Trial: custom_attributes.plan}
    tag: trial-or-japan
    tag_in_intercom: true
    on_deleted: remove
    on_unsubscribed: mark
    events: {unsubscribed: audience-unsubscribed, removed: audience-removed}
  - type: custom
    id: trial_or_japan_skip
    name: Same, duplicates skipped
    source: users
    duplicates: skip
    filter:
      any:
        - {property: custom_attributes.plan, operator: is, value: Free Trial}
        - {property: country, operator: is, value: Japan}
"""


def in_trial_or_japan(c: Contact) -> bool:
    return c.role == "user" and (
        c.custom_attributes.get("plan") == "Free Trial" or c.country == "Japan"
    )


@dataclass
class World:
    running: RunningSandbox
    warehouse: Path
    env: dict[str, str]

    def build(self, job: str = "intercom_build_all", **kwargs: Any) -> dg.ExecuteInProcessResult:
        from intercom_pipeline.definitions import defs

        with pytest.MonkeyPatch.context() as patch:
            for key, value in self.env.items():
                patch.setenv(key, value)
            with dg.instance_for_test() as instance:
                result = (
                    defs()
                    .resolve_job_def(job)
                    .execute_in_process(instance=instance, raise_on_error=False, **kwargs)
                )
        assert result.success
        return result

    def reports(self, result: dg.ExecuteInProcessResult) -> dict[str, dict[str, int]]:
        return {
            m.asset_key.path[-1]: {k: v.value for k, v in m.metadata.items() if k != "failures"}
            for m in (
                e.step_materialization_data.materialization
                for e in result.get_asset_materialization_events()
            )
            if m is not None and m.asset_key.path[0] == "audiences"
        }

    def members(self, audience_id: str, status: str = "active") -> set[str]:
        with duckdb.connect(str(self.warehouse), read_only=True) as conn:
            rows = conn.execute(
                f"select contact_id from {store.MEMBERS} where audience_id = ? and status = ?",
                [audience_id, status],
            ).fetchall()
        return {r[0] for r in rows}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root = tmp_path_factory.mktemp("audiences")
    (root / "audiences.yaml").write_text(textwrap.dedent(AUDIENCES))
    (root / "feed").mkdir()
    with RunningSandbox(Sandbox(SandboxConfig(seed=9, scale="tiny"))) as running:
        env = {
            "DUCKDB_PATH": str(root / "intercom.duckdb"),
            "DUCKDB_SERVING_DIR": str(root / "serving"),
            "SURVEY_FEED_DIR": str(root / "feed"),
            "DLT_DATA_DIR": str(root / "dlt"),
            "AUDIENCES_FILE": str(root / "audiences.yaml"),
            "INTERCOM_BASE_URL": running.base_url,
            "INTERCOM_ACCESS_TOKEN": DEFAULT_TOKEN,
        }
        world = World(running, root / "intercom.duckdb", env)
        world.first = world.reports(world.build())  # type: ignore[attr-defined]
        yield world


def test_each_kind_of_audience_holds_its_contacts(world: World) -> None:
    ws = world.running.sandbox.workspace
    visible = ws.visible_contacts()
    for role in ("user", "lead"):  # unsubscribed contacts are marked, by default
        everyone = {c.id for c in visible if c.role == role}
        marked = {c.id for c in visible if c.role == role and c.unsubscribed_from_emails}
        assert world.members(f"{role}s") == everyone - marked
        assert world.members(f"{role}s", "unsubscribed") == marked
    usa = next(s for s in ws.segments if s.name == "Everyone in the USA")
    in_usa = ws.segment_members(usa)
    assert world.members("usa") == {c.id for c in in_usa if not c.unsubscribed_from_emails}
    assert world.members("usa", "unsubscribed") == {
        c.id for c in in_usa if c.unsubscribed_from_emails
    }
    expected = {c.id for c in visible if in_trial_or_japan(c)}
    unsubscribed = {c.id for c in visible if in_trial_or_japan(c) and c.unsubscribed_from_emails}
    assert world.members("trial_or_japan") == expected - unsubscribed
    assert world.members("trial_or_japan", "unsubscribed") == unsubscribed
    report = world.first["trial_or_japan"]  # type: ignore[attr-defined]
    assert (report["new"], report["updated"], report["removed"], report["failed"]) == (
        len(expected),
        0,
        0,
        0,
    )


def test_mapped_properties_and_the_tag_reach_their_places(world: World) -> None:
    ws = world.running.sandbox.workspace
    with duckdb.connect(str(world.warehouse), read_only=True) as conn:
        rows = conn.execute(
            f"select contact_id, properties ->> 'Free Trial', properties ->> 'email', tag"
            f" from {store.MEMBERS} where audience_id = 'trial_or_japan'"
        ).fetchall()
    for contact_id, plan, email, tag in rows:
        contact = ws.contact_by_id[contact_id]
        assert plan == contact.custom_attributes.get("plan")
        assert email == contact.email
        assert tag == "trial-or-japan"
    tag = ws.tag_named("trial-or-japan")
    assert tag is not None
    tagged = {c.id for c in ws.contacts if any(t.tag_id == tag.id for t in c.tags)}
    assert tagged == {r[0] for r in rows}
    overview = (
        duckdb.connect(str(world.warehouse), read_only=True)
        .execute(
            "select audience_id, name, kind, auto_sync, contacts, last_sync_status"
            " from audiences.audience_overview order by audience_id"
        )
        .fetchall()
    )
    in_leads = len(world.members("leads")) + len(world.members("leads", "unsubscribed"))
    assert ("leads", "Leads", "leads", True, in_leads, "ok") in overview


def test_the_report_after_the_clock_moves(world: World) -> None:
    ws = world.running.sandbox.workspace
    before = {c.id for c in ws.visible_contacts() if in_trial_or_japan(c)}
    requests.post(
        f"{world.running.base_url}/_sandbox/clock/advance",
        json={
            "seconds": 3600,
            "activity": {"new_contacts": 8, "contact_updates": 12, "contact_deletions": 3},
        },
        timeout=60,
    ).raise_for_status()
    with ws.lock:
        members = sorted(before & {c.id for c in ws.visible_contacts()})
        unsubscribes, deleted, leaves = members[:2], members[2], members[3]
        for contact_id in unsubscribes:
            ws.contact_by_id[contact_id].unsubscribed_from_emails = True
        ws.contact_by_id[deleted].deleted_at = ws.now
        leaver = ws.contact_by_id[leaves]
        leaver.custom_attributes["plan"] = "Pro"
        leaver.country = "Canada"
        for contact_id in (*unsubscribes, leaves):
            ws.contact_by_id[contact_id].updated_at = ws.now
        ws.changed()
    after = {c.id for c in ws.visible_contacts() if in_trial_or_japan(c)}
    # The daily contacts job syncs the audiences downstream of the contacts it loaded.
    reports = world.reports(world.build("intercom_contacts_job"))
    report, skipped = reports["trial_or_japan"], reports["trial_or_japan_skip"]
    assert report["new"] == len(after - before)
    assert report["removed"] == len(before - after) == 2  # deleted (on_deleted: remove), left
    assert report["updated"] >= 2  # at least the two who unsubscribed (on_unsubscribed: mark)
    assert report["updated"] + report["unchanged"] == len(before & after)
    assert report["failed"] == 0
    # Skipping keeps properties as they were; marking the unsubscribed and the deleted still applies.
    assert (skipped["updated"], skipped["removed"]) == (3, 1)
    assert skipped["updated"] + skipped["unchanged"] == len(before & after) + 1
    assert set(unsubscribes) <= world.members("trial_or_japan", "unsubscribed")
    assert {deleted, leaves} <= world.members("trial_or_japan", "removed")
    for contact_id in unsubscribes:
        assert "audience-unsubscribed" in [e.event_name for e in ws.events_of(contact_id)]
    assert "audience-removed" in [e.event_name for e in ws.events_of(leaves)]
    again = world.reports(
        world.build(asset_selection=[dg.AssetKey(["audiences", "trial_or_japan"])])
    )
    assert again["trial_or_japan"]["new"] == again["trial_or_japan"]["updated"] == 0


def test_a_hostile_filter_is_rejected_or_inert(world: World, tmp_path: Path) -> None:
    hostile_value = tmp_path / "value.yaml"
    hostile_value.write_text(
        textwrap.dedent(
            """
            audiences:
              - type: custom
                id: hostile_value
                name: Hostile value
                filter: {property: email, operator: is, value: "x'); drop table analytics.contacts; --"}
            """
        )
    )
    workspaces = connect(
        [
            intercom_settings(
                {
                    "INTERCOM_BASE_URL": world.running.base_url,
                    "INTERCOM_ACCESS_TOKEN": DEFAULT_TOKEN,
                }
            )
        ]
    )
    (audience,) = load_audiences(hostile_value)
    copy = tmp_path / "intercom.duckdb"
    copy.write_bytes(world.warehouse.read_bytes())
    assert sync_audience(copy, audience, workspaces).contacts == 0
    with duckdb.connect(str(copy), read_only=True) as conn:
        assert conn.execute("select count(*) from analytics.contacts").fetchone()[0] > 0
    hostile_property = tmp_path / "property.yaml"
    hostile_property.write_text(
        textwrap.dedent(
            """
            audiences:
              - type: custom
                id: hostile_property
                name: Hostile property
                filter: {property: "email; drop table analytics.contacts; --", operator: is_set}
            """
        )
    )
    (audience,) = load_audiences(hostile_property)
    with pytest.raises(FilterError, match="unknown property"):
        sync_audience(copy, audience, workspaces)
    with duckdb.connect(str(copy), read_only=True) as conn:
        assert conn.execute("select count(*) from analytics.contacts").fetchone()[0] > 0
