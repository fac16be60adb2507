"""One audience's sync against a small warehouse and a recording Intercom: the report's buckets,
duplicates, deleted and unsubscribed actions, tags in Intercom, failures and the history."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import duckdb
import pytest

from intercom_pipeline.activation.audiences import store
from intercom_pipeline.activation.audiences.config import DEFAULT_PROPERTIES, Audience
from intercom_pipeline.activation.audiences.filters import FilterError
from intercom_pipeline.activation.audiences.sync import SyncReport, sync_audience
from intercom_pipeline.sources.intercom import Workspace
from intercom_pipeline.sources.intercom.client import IntercomError
from intercom_pipeline.warehouse import Warehouse

WS = "app1"
COLUMNS = (
    "workspace_id varchar, contact_id varchar, role varchar, email varchar, contact_name varchar,"
    " external_id varchar, country varchar, company_name varchar, signed_up_at timestamp,"
    " last_seen_at timestamp, is_deleted boolean, is_unsubscribed_from_emails boolean,"
    " custom_attributes json, tag_names varchar"
)
USA = {"property": "country", "operator": "is", "value": "USA"}


class FakeIntercom:
    """Answers like Intercom and records every write; `fail_for` contacts get a 404."""

    def __init__(self, fail_for: set[str] | None = None) -> None:
        self.fail_for = fail_for or set()
        self.writes: list[tuple[str, str, Any]] = []
        self.segment_members: list[str] = []  # what the contact search answers for a segment

    def search(self, path: str, query: dict[str, Any], key: str) -> list[dict[str, Any]]:
        assert (path, query, key) == (
            "/contacts/search",
            {"field": "segment_id", "operator": "=", "value": "s1"},
            "data",
        )
        return [{"id": contact_id} for contact_id in self.segment_members]

    def events(self) -> list[tuple[str, str]]:
        """(contact, event name) of every event sent."""
        return [(b["id"], b["event_name"]) for m, p, b in self.writes if p == "/events"]

    def request(self, method: str, path: str, *, json: Any = None, **_: Any) -> Any:
        if path == "/me":
            return {"app": {"id_code": WS}}
        if method == "GET" and path == "/tags":
            return {"type": "list", "data": [{"type": "tag", "id": "t1", "name": "vip"}]}
        who = {u["id"] for u in (json or {}).get("users", [])} | {
            (json or {}).get("id"),
            path.split("/")[2] if path.startswith("/contacts/") else None,
        }
        if who & self.fail_for:
            raise IntercomError("Resource Not Found", 404, "not_found")
        self.writes.append((method, path, json))
        return {}


class World:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.intercom = FakeIntercom()
        with duckdb.connect(str(path)) as conn:
            conn.execute("create schema analytics")
            conn.execute(f"create table analytics.contacts ({COLUMNS})")

    def contact(self, contact_id: str, **fields: Any) -> None:
        row = {
            "workspace_id": WS,
            "contact_id": contact_id,
            "role": "user",
            "email": f"{contact_id}@example.com",
            "contact_name": contact_id.upper(),
            "country": "USA",
            "is_deleted": False,
            "is_unsubscribed_from_emails": False,
            "custom_attributes": json.dumps({"plan": "Free Trial"}),
            **fields,
        }
        with duckdb.connect(str(self.path)) as conn:
            conn.execute("delete from analytics.contacts where contact_id = ?", [contact_id])
            names = ", ".join(row)
            conn.execute(
                f"insert into analytics.contacts ({names}) values ({', '.join('?' * len(row))})",
                list(row.values()),
            )

    def run(self, audience: Audience) -> SyncReport:
        intercom: Any = self.intercom
        return sync_audience(Warehouse.at(self.path), audience, [Workspace(intercom)])

    def sync(self, audience: Audience) -> dict[str, int]:
        report = self.run(audience)
        counts = ("contacts", "new", "updated", "unchanged", "skipped", "failed", "removed")
        return {name: getattr(report, name) for name in counts}

    def query(self, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
        with duckdb.connect(str(self.path), read_only=True) as conn:
            return conn.execute(sql, params or []).fetchall()

    def tags(self, audience_id: str) -> dict[str, str | None]:
        rows = self.query(
            f"select contact_id, tag from {store.MEMBERS} where audience_id = ?", [audience_id]
        )
        assert rows
        return dict(rows)

    def statuses(self, audience_id: str) -> dict[str, str]:
        rows = self.query(
            f"select contact_id, status from {store.MEMBERS} where audience_id = ?", [audience_id]
        )
        assert rows
        return dict(rows)


@pytest.fixture
def world(tmp_path: Path) -> World:
    w = World(tmp_path / "warehouse.duckdb")
    for contact_id in ("a", "b", "c", "d"):
        w.contact(contact_id)
    return w


def usa(**settings: Any) -> Audience:
    return Audience("usa", "USA", "custom", filter=USA, **settings)


def test_each_contact_counts_in_one_bucket(world: World) -> None:
    assert world.sync(usa()) == dict(
        contacts=4, new=4, updated=0, unchanged=0, skipped=0, failed=0, removed=0
    )
    world.contact("a", contact_name="Ada")  # a mapped property changes
    world.contact("b", country="France")  # leaves the audience
    world.contact("e")  # joins
    assert world.sync(usa()) == dict(
        contacts=4, new=1, updated=1, unchanged=2, skipped=0, failed=0, removed=1
    )
    assert world.statuses("usa") == {
        "a": "active",
        "b": "removed",
        "c": "active",
        "d": "active",
        "e": "active",
    }


def test_skip_counts_duplicates_as_skipped_and_keeps_their_old_values(world: World) -> None:
    world.sync(usa(duplicates="skip"))
    world.contact("a", contact_name="Ada", email="ada@new.example")
    assert world.sync(usa(duplicates="skip")) == dict(
        contacts=4, new=0, updated=0, unchanged=3, skipped=1, failed=0, removed=0
    )
    (properties,) = world.query(f"select properties from {store.MEMBERS} where contact_id = 'a'")[0]
    assert (json.loads(properties)["name"], json.loads(properties)["email"]) == (
        "A",
        "a@example.com",
    )
    world.contact("a", contact_name="Ada", is_unsubscribed_from_emails=True)
    assert world.sync(usa(duplicates="skip"))["updated"] == 1  # a status change still applies
    assert world.statuses("usa")["a"] == "unsubscribed"
    (properties,) = world.query(f"select properties from {store.MEMBERS} where contact_id = 'a'")[0]
    assert json.loads(properties)["name"] == "A"


def test_member_properties_are_exactly_the_defaults_and_the_mapped_names(world: World) -> None:
    world.sync(usa(properties={**DEFAULT_PROPERTIES, "Free Trial": "custom_attributes.plan"}))
    rows = world.query(f"select properties from {store.MEMBERS} where audience_id = 'usa'")
    assert len(rows) == 4
    for (properties,) in rows:
        values = json.loads(properties)
        assert set(values) == {*DEFAULT_PROPERTIES, "Free Trial"}
        assert values["Free Trial"] == "Free Trial"


@pytest.mark.parametrize(
    ("on_deleted", "on_unsubscribed", "expected", "removed"),
    [
        ("keep", "keep", {"a": "active", "b": "active"}, 0),
        ("mark", "mark", {"a": "deleted", "b": "unsubscribed"}, 0),
        ("remove", "remove", {"a": "removed", "b": "removed"}, 2),
    ],
)
def test_deleted_and_unsubscribed_contacts_follow_their_actions(
    world: World, on_deleted: str, on_unsubscribed: str, expected: dict[str, str], removed: int
) -> None:
    audience = usa(on_deleted=on_deleted, on_unsubscribed=on_unsubscribed)
    world.sync(audience)
    world.contact("a", is_deleted=True)
    world.contact("b", is_unsubscribed_from_emails=True)
    report = world.sync(audience)
    assert report["removed"] == removed
    assert report["contacts"] == 4 - removed
    statuses = world.statuses("usa")
    assert {k: statuses[k] for k in ("a", "b")} == expected


def test_the_tag_reaches_existing_members_and_leaves_with_removed_ones(world: World) -> None:
    world.sync(usa())  # the audience existed before it had a tag
    world.contact("c", tag_names="other, vip")  # already carries it in Intercom
    world.contact("d", country="France")
    audience = usa(tag="vip", tag_in_intercom=True)
    report = world.sync(audience)
    assert (report["updated"], report["removed"], report["failed"]) == (0, 1, 0)
    assert world.intercom.writes == [
        ("POST", "/tags", {"name": "vip", "users": [{"id": "a"}, {"id": "b"}]}),
        ("DELETE", "/contacts/d/tags/t1", None),
    ]
    # Unchanged members carry the new tag in the warehouse too, so the mart filters by it.
    assert world.tags("usa") == {"a": "vip", "b": "vip", "c": "vip", "d": "vip"}
    world.sync(usa(tag="gold"))
    assert set(world.tags("usa").values()) == {"gold"}


def test_a_new_tag_replaces_the_old_one_in_intercom(world: World) -> None:
    world.sync(usa(tag="vip", tag_in_intercom=True))
    world.intercom.writes.clear()
    world.contact("d", country="France")  # leaves as the tag changes: loses the old tag only
    report = world.sync(usa(tag="gold", tag_in_intercom=True))
    assert (report["removed"], report["failed"]) == (1, 0)
    assert world.intercom.writes == [
        *(("DELETE", f"/contacts/{c}/tags/t1", None) for c in "abcd"),
        ("POST", "/tags", {"name": "gold", "users": [{"id": c} for c in "abc"]}),
    ]
    assert world.tags("usa") == {"a": "gold", "b": "gold", "c": "gold", "d": "gold"}
    world.intercom.writes.clear()
    world.sync(usa(tag="gold", tag_in_intercom=True))  # the same tag: nothing to undo
    assert [w for w in world.intercom.writes if w[0] == "DELETE"] == []


def test_a_tag_kept_out_of_intercom_is_never_untagged_there(world: World) -> None:
    world.sync(usa(tag="vip"))
    world.sync(usa(tag="gold", tag_in_intercom=True))
    assert [w[0] for w in world.intercom.writes] == ["POST"]


@pytest.mark.parametrize("on_unsubscribed", ["keep", "mark"])
def test_the_unsubscribed_event_goes_once_whatever_the_action(
    world: World, on_unsubscribed: str
) -> None:
    audience = usa(on_unsubscribed=on_unsubscribed, events={"unsubscribed": "unsub"})
    world.contact("e", is_unsubscribed_from_emails=True)  # joins already unsubscribed
    world.sync(audience)
    assert world.intercom.events() == [("e", "unsub")]
    world.contact("a", is_unsubscribed_from_emails=True)
    world.sync(audience)
    world.sync(audience)  # still unsubscribed: no second event
    assert world.intercom.events() == [("e", "unsub"), ("a", "unsub")]
    world.contact("a", is_unsubscribed_from_emails=False)
    world.sync(audience)
    world.contact("a", is_unsubscribed_from_emails=True)  # unsubscribes again
    world.sync(audience)
    assert world.intercom.events() == [("e", "unsub"), ("a", "unsub"), ("a", "unsub")]


def test_an_unsubscribed_member_leaving_takes_one_event(world: World) -> None:
    audience = usa(on_unsubscribed="remove", events={"unsubscribed": "unsub", "removed": "left"})
    world.sync(audience)
    world.contact("a", is_unsubscribed_from_emails=True)  # unsubscribes, so leaves
    world.contact("b", country="France")  # leaves
    assert world.sync(audience)["removed"] == 2
    assert sorted(world.intercom.events()) == [("a", "unsub"), ("b", "left")]


def test_members_from_before_the_flag_was_stored_take_no_second_event(world: World) -> None:
    audience = usa(events={"unsubscribed": "unsub"})
    world.contact("a", is_unsubscribed_from_emails=True)
    world.sync(audience)
    with duckdb.connect(str(world.path)) as conn:  # a row written before is_unsubscribed
        conn.execute(f"update {store.MEMBERS} set is_unsubscribed = null")
    world.intercom.writes.clear()
    world.sync(audience)
    assert world.intercom.events() == []


def test_segment_members_missing_from_the_warehouse_are_failed(world: World) -> None:
    with duckdb.connect(str(world.path)) as conn:
        conn.execute("create schema intercom_raw")
        conn.execute(
            "create table intercom_raw.segments as select 'app1' as workspace_id, 's1' as id,"
            " 'Big spenders' as name"
        )
    world.intercom.segment_members = ["a", "b", "z"]  # z is not ingested yet
    audience = Audience("spenders", "s1", "intercom_segment", segment="s1")
    report = world.run(audience)
    assert (report.contacts, report.new, report.failed) == (2, 2, 1)
    assert report.failures == [("z", "not in the warehouse yet: run the contacts sync")]
    assert world.statuses("spenders") == {"a": "active", "b": "active"}
    assert world.query(f"select name from {store.DEFINITIONS}") == [("Big spenders",)]
    world.contact("z")  # ingested: joins, and no one leaves meanwhile
    world.intercom.segment_members = ["a", "b", "z"]
    again = world.run(audience)
    assert (again.new, again.unchanged, again.failed, again.removed) == (1, 2, 0, 0)


def test_a_failed_contact_is_failed_only_with_its_reason_in_the_history(world: World) -> None:
    world.intercom.fail_for = {"b"}
    audience = usa(tag="vip", tag_in_intercom=True, events={"removed": "left-usa"})
    assert world.sync(audience) == dict(
        contacts=4, new=3, updated=0, unchanged=0, skipped=0, failed=1, removed=0
    )
    world.contact("c", country="France")
    assert world.sync(audience)["removed"] == 1
    assert ("POST", "/events") in {(m, p) for m, p, _ in world.intercom.writes}
    syncs = world.query(
        f"select sync_id, status, new, failed, removed from {store.SYNCS}"
        " where audience_id = 'usa' order by started_at, new desc"
    )
    assert [row[1:] for row in syncs] == [
        ("ok with failures", 3, 1, 0),
        ("ok with failures", 0, 1, 1),
    ]
    failures = world.query(
        f"select sync_id, contact_id, reason from {store.FAILURES} order by sync_id"
    )
    assert {(c, r) for _, c, r in failures} == {
        ("b", "tagging 'vip' in Intercom: Resource Not Found")
    }
    assert {s for s, _, _ in failures} == {s for s, *_ in syncs}


def test_every_sync_is_a_row_of_the_history(world: World) -> None:
    for _ in range(3):
        world.sync(usa())
    world.sync(replace(usa(), id="other"))
    assert world.query(
        f"select audience_id, count(*), count(finished_at) from {store.SYNCS}"
        " group by all order by 1"
    ) == [("other", 1, 1), ("usa", 3, 3)]


@pytest.mark.parametrize(
    "name",
    ["x', 1); drop table analytics.contacts; --", 'Free "Trial"', "a;b", "plan -- note"],
)
def test_a_mapping_name_reaches_sql_only_as_a_bound_value(world: World, name: str) -> None:
    """The audiences file rejects such names; an audience built in code still runs nothing."""
    world.sync(usa(properties={name: "country"}))
    rows = world.query(f"select properties from {store.MEMBERS} where audience_id = 'usa'")
    assert [json.loads(p) for (p,) in rows] == [{name: "USA"}] * 4
    assert world.query("select count(*) from analytics.contacts") == [(4,)]


def test_a_hostile_mapping_property_is_rejected(world: World) -> None:
    audience = usa(properties={"Plan": "custom_attributes.plan'); drop table x; --"})
    with pytest.raises(FilterError, match="is not a custom attribute name"):
        world.sync(audience)
    assert world.query("select count(*) from analytics.contacts") == [(4,)]
