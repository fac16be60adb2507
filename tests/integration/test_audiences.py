"""Audiences against the sandbox: each kind (every Intercom segment too), a custom-attribute
filter, property mapping, update versus skip, the report after the sandbox clock moves, survey data
by tag in the marts, the auto-sync schedule, and filters (values bound, names checked)."""

from __future__ import annotations

import re
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
import pytest
import requests
import yaml

from intercom_pipeline.activation.audiences import store
from intercom_pipeline.activation.audiences.config import Audience, load_audiences
from intercom_pipeline.activation.audiences.filters import FilterError
from intercom_pipeline.activation.audiences.sync import segment_audience_id, sync_audience
from intercom_pipeline.defs.audiences import SEGMENTS_KEY
from intercom_pipeline.defs.keys import mart_key
from intercom_pipeline.settings import intercom_settings
from intercom_pipeline.sources.intercom import connect
from intercom_pipeline.warehouse import Warehouse
from intercom_sandbox import DEFAULT_TOKEN, RunningSandbox, Sandbox, SandboxConfig
from intercom_sandbox.model import Contact

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
    instance: dg.DagsterInstance  # one for the module: automation reads the runs before it

    def definitions(self) -> dg.Definitions:
        from intercom_pipeline.definitions import defs

        with pytest.MonkeyPatch.context() as patch:
            for key, value in self.env.items():
                patch.setenv(key, value)
            return defs()

    def build(self, job: str = "intercom_build_all", **kwargs: Any) -> dg.ExecuteInProcessResult:
        with pytest.MonkeyPatch.context() as patch:
            for key, value in self.env.items():
                patch.setenv(key, value)
            result = (
                self.definitions()
                .resolve_job_def(job)
                .execute_in_process(instance=self.instance, raise_on_error=False, **kwargs)
            )
        assert result.success
        return result

    def sync_and_follow(self, job: str) -> set[dg.AssetKey]:
        """Run a scheduled sync, then what the `follow_upstreams` sensor would launch after it."""
        definitions = self.definitions()
        before = dg.evaluate_automation_conditions(defs=definitions, instance=self.instance)
        self.build(job)
        after = dg.evaluate_automation_conditions(
            defs=definitions, instance=self.instance, cursor=before.cursor
        )
        requested = {
            r.key for r in after.results if isinstance(r.key, dg.AssetKey) and r.true_subset.size
        }
        if requested:
            self.build(asset_selection=sorted(requested))
        return requested

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
        with dg.instance_for_test() as instance:
            world = World(running, root / "intercom.duckdb", env, instance)
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
    # Every segment member was ingested: none is failed as missing from the warehouse.
    assert world.first["usa"]["failed"] == 0  # type: ignore[attr-defined]
    # Members who joined already unsubscribed were told so, once.
    assert unsubscribed
    for contact_id in unsubscribed:
        assert [e.event_name for e in ws.events_of(contact_id)].count("audience-unsubscribed") == 1


def test_mapped_properties_and_the_tag_reach_their_places(world: World) -> None:
    ws = world.running.sandbox.workspace
    with duckdb.connect(str(world.warehouse), read_only=True) as conn:
        rows = conn.execute(
            f"select contact_id, properties ->> 'Free Trial', properties ->> 'email', tag"
            f" from {store.MEMBERS} where audience_id = 'trial_or_japan'"
        ).fetchall()
    assert rows
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
    names = {row[0]: row[1] for row in overview}  # the file's names, not a mapped property's
    assert (names["trial_or_japan"], names["trial_or_japan_skip"]) == (
        "Free trial or Japan",
        "Same, duplicates skipped",
    )


def test_every_intercom_segment_is_an_audience_named_by_intercom(world: World) -> None:
    ws = world.running.sandbox.workspace
    usa = next(s for s in ws.segments if s.name == "Everyone in the USA")
    others = [s for s in ws.segments if s.id != usa.id]
    assert others
    with duckdb.connect(str(world.warehouse), read_only=True) as conn:
        overview = dict(
            conn.execute(
                "select audience_id, name from audiences.audience_overview"
                " where kind = 'intercom_segment'"
            ).fetchall()
        )
    assert overview == {
        "usa": "Everyone in the USA",
        **{segment_audience_id(s.id): s.name for s in others},
    }
    for segment in others:
        in_segment = {c.id for c in ws.segment_members(segment) if c.visible}
        audience_id = segment_audience_id(segment.id)
        everyone = world.members(audience_id) | world.members(audience_id, "unsubscribed")
        assert everyone == in_segment
    assert world.first["intercom_segments"]["segments"] == len(others)  # type: ignore[attr-defined]
    # "Sync now" for one of them: the segments asset with the segment in its run config.
    one = others[0]
    result = world.build(
        asset_selection=[SEGMENTS_KEY],
        run_config={"ops": {"audiences__intercom_segments": {"config": {"segment": one.name}}}},
    )
    assert world.reports(result)["intercom_segments"]["segments"] == 1
    with duckdb.connect(str(world.warehouse), read_only=True) as conn:
        synced = conn.execute(
            f"select audience_id, count(*) from {store.SYNCS} group by all"
        ).fetchall()
    counts = dict(synced)
    assert counts[segment_audience_id(one.id)] == counts["users"] + 1


def test_survey_data_is_filtered_by_the_audience_tag_in_the_marts(world: World) -> None:
    with duckdb.connect(str(world.warehouse), read_only=True) as conn:
        rows = conn.execute(
            "select response_key, audience_tag from analytics.audience_survey_responses"
            " where audience_id = 'trial_or_japan'"
        ).fetchall()
        expected = conn.execute(
            f"select r.response_key from analytics.survey_responses r join {store.MEMBERS} m"
            " using (workspace_id, contact_id)"
            " where m.audience_id = 'trial_or_japan' and m.status = 'active'"
        ).fetchall()
    assert rows
    assert sorted(key for key, _ in rows) == sorted(key for (key,) in expected)
    assert {tag for _, tag in rows} == {"trial-or-japan"}


def test_only_the_auto_sync_schedule_syncs_audiences(world: World) -> None:
    definitions = world.definitions()

    def keys(schedule: dg.ScheduleDefinition) -> set[dg.AssetKey]:
        job = definitions.resolve_job_def(schedule.job_name)
        return set(job.asset_layer.executable_asset_keys)

    auto = definitions.resolve_schedule_def("audiences_auto_sync")
    assert (auto.cron_schedule, auto.default_status) == (
        "0 4 * * *",
        dg.DefaultScheduleStatus.RUNNING,
    )
    assert keys(auto) == {dg.AssetKey(["audiences", "leads"])}  # auto_sync: true
    for name in ("intercom_conversations", "intercom_contacts", "intercom_settings"):
        # The API syncs read Intercom only; the models follow, the audiences never do.
        selected = keys(definitions.resolve_schedule_def(name))
        assert {k.path[0] for k in selected} <= {"intercom", "survey_feed"}, name
    graph = definitions.resolve_asset_graph()
    assert not [
        k
        for k in graph.get_all_asset_keys()
        if k.path[0] == "audiences" and graph.get(k).automation_condition is not None
    ]


def test_the_report_after_the_clock_moves(world: World) -> None:
    ws = world.running.sandbox.workspace
    api = requests.Session()
    api.headers["Authorization"] = f"Bearer {DEFAULT_TOKEN}"
    active = sorted(world.members("trial_or_japan"))
    marked = world.members("trial_or_japan", "unsubscribed")
    before = active + sorted(marked)
    renamed, deleted, *unsubscribes = active[:4]
    leaver = next(c for c in active[4:] if ws.contact_by_id[c].country != "Japan")
    tag_id = ws.tag_named("trial-or-japan").id
    assert tag_id in {t.tag_id for t in ws.contact_by_id[leaver].tags}  # tagged by the first sync
    url = world.running.base_url
    created = api.post(
        f"{url}/contacts",
        json={
            "role": "user",
            "email": "new-trial@example.com",
            "custom_attributes": {"plan": "Free Trial"},
        },
        timeout=30,
    )
    created.raise_for_status()
    for contact_id, body in (
        (renamed, {"name": "Renamed Member"}),  # a mapped property (name) changes
        (leaver, {"custom_attributes": {"plan": "Paid"}}),  # no longer matches the filter
        *((c, {"unsubscribed_from_emails": True}) for c in unsubscribes),
    ):
        api.put(f"{url}/contacts/{contact_id}", json=body, timeout=30).raise_for_status()
    with ws.lock:  # the API cannot delete a contact: the workspace's own state does
        ws.contact_by_id[deleted].deleted_at = ws.now
        ws.changed()
    requests.post(
        f"{url}/_sandbox/clock/advance", json={"seconds": 3600, "activity": {}}, timeout=60
    ).raise_for_status()
    rebuilt = world.sync_and_follow("intercom_contacts_job")
    # The models downstream of contacts follow the sync by themselves; no audience syncs there.
    assert {mart_key("contacts"), mart_key("audience_survey_responses")} <= rebuilt
    assert dg.AssetKey("bi_warehouse") in rebuilt
    assert not [k for k in rebuilt if k.path[0] in ("audiences", "intercom")]
    keys = [dg.AssetKey(["audiences", a]) for a in ("trial_or_japan", "trial_or_japan_skip")]
    reports = world.reports(world.build(asset_selection=keys))
    unchanged = len(before) - 5  # all but: renamed, deleted, the two who unsubscribed, the leaver
    assert reports["trial_or_japan"] == {
        "contacts": len(before) - 2 + 1,
        "new": 1,
        "updated": 3,  # renamed, and the two who unsubscribed (on_unsubscribed: mark)
        "unchanged": unchanged,
        "skipped": 0,
        "failed": 0,
        "removed": 2,  # deleted (on_deleted: remove), and the leaver
    }
    # Skipping keeps the renamed member's properties; marking the unsubscribed and the deleted
    # still applies (on_deleted: mark by default).
    assert reports["trial_or_japan_skip"] == {
        "contacts": len(before) - 1 + 1,
        "new": 1,
        "updated": 3,
        "unchanged": unchanged,
        "skipped": 1,
        "failed": 0,
        "removed": 1,  # the leaver
    }
    assert world.members("trial_or_japan", "unsubscribed") == marked | set(unsubscribes)
    assert world.members("trial_or_japan", "removed") == {deleted, leaver}
    assert tag_id not in {t.tag_id for t in ws.contact_by_id[leaver].tags}  # untagged in Intercom
    assert "audience-removed" in [e.event_name for e in ws.events_of(leaver)]
    assert world.members("trial_or_japan_skip", "deleted") == {deleted}
    assert created.json()["id"] in world.members("trial_or_japan")
    for contact_id in [*unsubscribes, *marked]:  # sent once, when they unsubscribed
        assert [e.event_name for e in ws.events_of(contact_id)].count("audience-unsubscribed") == 1
    with duckdb.connect(str(world.warehouse), read_only=True) as conn:
        names = dict(
            conn.execute(
                f"select audience_id, properties ->> 'name' from {store.MEMBERS}"
                " where contact_id = ?",
                [renamed],
            ).fetchall()
        )
        history = conn.execute(
            f"select count(*) from {store.SYNCS} where audience_id = 'trial_or_japan'"
        ).fetchone()[0]
    assert names["trial_or_japan"] == "Renamed Member"
    assert names["trial_or_japan_skip"] != "Renamed Member"
    again = world.reports(world.build(asset_selection=keys[:1]))["trial_or_japan"]
    assert (again["new"], again["updated"], again["removed"]) == (0, 0, 0)
    assert history == 2


def test_filter_values_are_bound_and_only_property_names_are_checked(
    world: World, tmp_path: Path
) -> None:
    hostile_value = {
        "property": "email",
        "operator": "is",
        "value": "x'); drop table analytics.contacts; --",
    }
    hostile_property = {
        "property": "email; drop table analytics.contacts; --",
        "operator": "is_set",
    }
    path = tmp_path / "audiences.yaml"
    entries = [
        {"type": "custom", "id": "odd_value", "name": "Odd value", "filter": hostile_value},
        {"type": "custom", "id": "odd_name", "name": "Odd name", "filter": hostile_property},
    ]
    path.write_text(yaml.safe_dump({"audiences": entries[:1]}))
    # Any value loads: it is a bound parameter, so it can only ever be compared as text.
    assert "odd_value" in {a.id for a in load_audiences(path)}
    path.write_text(yaml.safe_dump({"audiences": entries}))
    message = r"filter\.property: .* is rejected: a property name must be a column"
    with pytest.raises(FilterError, match=f"{re.escape(str(path))}, audience 2: {message}"):
        load_audiences(path)
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
    copy = tmp_path / "intercom.duckdb"
    copy.write_bytes(world.warehouse.read_bytes())
    with duckdb.connect(str(copy), read_only=True) as conn:
        contacts = conn.execute("select count(*) from analytics.contacts").fetchone()[0]
    report = sync_audience(
        Warehouse.at(copy),
        Audience("odd_value", "Odd value", "custom", filter=hostile_value),
        workspaces,
    )
    assert report.contacts == 0  # matched as written: no contact has that email
    # An audience built in code, past the file, is rejected by the sync too, and recorded.
    with pytest.raises(FilterError, match=message):
        sync_audience(
            Warehouse.at(copy),
            Audience("odd_name", "Odd name", "custom", filter=hostile_property),
            workspaces,
        )
    with duckdb.connect(str(copy), read_only=True) as conn:
        assert conn.execute("select count(*) from analytics.contacts").fetchone()[0] == contacts
        syncs = conn.execute(
            f"select audience_id, status, error from {store.SYNCS}"
            " where audience_id like 'odd%' order by 1"
        ).fetchall()
    assert [row[:2] for row in syncs] == [("odd_name", "failed"), ("odd_value", "ok")]
    assert "is rejected" in syncs[0][2]
