"""Incremental models: after the scheduled syncs, an incremental build leaves every table dbt
makes as a full refresh would make it.

A tiny workspace is loaded and built, then two hours go by: a busy hour (conversations new,
replied, closed, reopened, tagged and deleted; contacts new, updated, merged and deleted) and a
second one in which a conversation of the first hour changes again and a company and a contact
are renamed without any of their conversations changing. Each hour ends with the syncs that
would have run and the dbt build the automation starts after them.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
import pytest

from intercom_pipeline.defs.resources import resources_from_environment
from intercom_pipeline.defs.schedules import SYNCS, Sync
from intercom_pipeline.defs.transform import intercom_dbt_assets
from intercom_pipeline.warehouse.load import run_ingestion
from intercom_pipeline.warehouse.survey_feed import load_survey_feed
from intercom_sandbox import DEFAULT_TOKEN, RunningSandbox, Sandbox, SandboxConfig
from intercom_sandbox.activity import reopen_conversation
from intercom_sandbox.survey_feed import write_demo_survey_feed
from tests.conftest import SandboxClient

SYNC = {sync.name: sync for sync in SYNCS}
BUSY_HOUR = {
    "new_conversations": 6,
    "replies": 6,
    "closes": 6,
    "reopens": 3,
    "tags": 3,
    "new_contacts": 3,
    "contact_updates": 6,
    "company_updates": 2,
    "contact_deletions": 2,
    "company_deletions": 1,
    "conversation_deletions": 2,
    "merges": 2,
    "activity_logs": 3,
}
INCREMENTAL_MODELS = (
    "staging.stg_intercom__conversation_parts",
    "staging.stg_intercom__conversations",
    "staging.stg_intercom__contacts",
    "staging.int_intercom__conversation_part_events",
    "staging.int_intercom__conversation_messages",
    "analytics.feedback_documents",
    "analytics.contacts",
)
# A text column of each incremental model, by a key of one column (the workspace is alone);
# none of them is one a feedback document compares with its own (its title, contact name...).
EDITED = {
    "staging.stg_intercom__conversation_parts": ("part_id", "body"),
    "staging.stg_intercom__conversations": ("conversation_id", "sla_name"),
    "staging.stg_intercom__contacts": ("contact_id", "phone"),
    "staging.int_intercom__conversation_part_events": ("conversation_id", "last_closed_by_id"),
    "staging.int_intercom__conversation_messages": ("message_id", "author_name"),
    "analytics.feedback_documents": ("conversation_id", "thread_html"),
    "analytics.contacts": ("contact_id", "browser"),
}
RENAMED_COMPANY = "AAA Renamed Company"  # sorts first: the primary company of its contacts
RENAMED_CONTACT = "Renamed Customer"
# Compared apart: the age of an open conversation runs to the build's clock.
LEFT_OUT = {"analytics.conversations": "conversation_age_days"}
AGES = "select conversation_id, conversation_age_days from analytics.conversations"


class Scene:
    """A sandbox, a warehouse loaded from it, and the product's syncs and dbt builds."""

    def __init__(self, running: RunningSandbox, root: Path) -> None:
        self.running = running
        self.intercom = SandboxClient(running)
        write_demo_survey_feed(running.sandbox.workspace, root / "feed")
        self.resources = resources_from_environment(
            {
                "DUCKDB_PATH": str(root / "intercom.duckdb"),
                "DUCKDB_SERVING_DIR": str(root / "serving"),
                "SURVEY_FEED_DIR": str(root / "feed"),
                "INTERCOM_BASE_URL": running.base_url,
                "INTERCOM_ACCESS_TOKEN": DEFAULT_TOKEN,
            },
            resolved=True,
        )
        self.warehouse = self.resources["warehouse"].get()

    def sync(self, sync: Sync | None = None) -> None:
        """Every raw table (and the survey feed), or one schedule's tables with its options."""
        workspaces = self.resources["intercom"].connect()
        if sync is None:
            run_ingestion(self.warehouse, workspaces)
            load_survey_feed(self.warehouse, self.resources["survey_feed"].path())
        else:
            run_ingestion(self.warehouse, workspaces, list(sync.tables), **sync.op_config)

    def build(self, full_refresh: bool = False) -> None:
        """The dbt assets, as the automation (or a full refresh) runs them."""
        result = dg.materialize(
            [intercom_dbt_assets()],
            resources={name: self.resources[name] for name in ("warehouse", "survey_feed")},
            run_config={"ops": {"intercom_dbt": {"config": {"full_refresh": full_refresh}}}},
        )
        assert result.success

    def query(self, sql: str, *parameters: object) -> list[tuple]:
        with duckdb.connect(str(self.warehouse.path), read_only=True) as conn:
            return conn.execute(sql, parameters).fetchall()

    def tables(self) -> dict[str, tuple[list[str], list[tuple]]]:
        """Every table dbt made (the incremental models and the marts): columns, sorted rows."""
        tables = self.query(
            "select table_schema || '.' || table_name from information_schema.tables"
            " where table_schema in ('staging', 'analytics') and table_type = 'BASE TABLE'"
        )
        found = {}
        with duckdb.connect(str(self.warehouse.path), read_only=True) as conn:
            for (table,) in tables:
                columns = f"* exclude ({LEFT_OUT[table]})" if table in LEFT_OUT else "*"
                rows = conn.execute(f"select {columns} from {table} order by all")
                found[table] = ([c[0] for c in rows.description], rows.fetchall())
        return found

    def advance(self, activity: dict[str, int] | None = None) -> dict[str, list[str]]:
        """An hour of the workspace's life (default: a busy hour for its size); its changes."""
        body: dict[str, Any] = {"seconds": 3600}
        if activity is not None:
            body["activity"] = activity
        return self.intercom.control("POST", "/clock/advance", body)["changes"]


@pytest.fixture(scope="module")
def scene(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scene]:
    """Every table loaded, every model built."""
    with RunningSandbox(Sandbox(SandboxConfig(seed=4, scale="tiny"))) as running:
        built = Scene(running, tmp_path_factory.mktemp("incremental"))
        built.sync()
        built.build()
        yield built


def test_an_incremental_build_makes_what_a_full_refresh_makes(scene: Scene) -> None:
    # Hour 1: a busy hour, the hourly sync, the build that follows it.
    busy = scene.advance(BUSY_HOUR)
    scene.sync(SYNC["intercom_conversations"])
    scene.build()

    # Hour 2: a conversation of hour 1 changes again; a company and a contact are renamed, none
    # of their conversations changing; then the hourly sync and the daily contacts sync.
    quiet = scene.advance()
    ws = scene.running.sandbox.workspace
    again = ws.conversation_by_id[busy["new_conversations"][0]]
    touched = {i for ids in quiet.values() if isinstance(ids, list) for i in ids}
    documents = [
        (conversation_id, ws.contact_by_id[contact_id], ws.company_by_id.get(company_id))
        for conversation_id, contact_id, company_id in scene.query(
            "select conversation_id, contact_id, company_id from analytics.feedback_documents"
            " where contact_id is not null order by conversation_id"
        )
        if conversation_id not in touched and contact_id not in touched
    ]
    company_of, _, company = next(
        d for d in documents if d[1].visible and d[2] and d[2].deleted_at is None
    )
    contact_of, contact, _ = next(
        d for d in reversed(documents) if d[1].visible and d[0] != company_of
    )
    with ws.lock:
        reopen_conversation(ws, again, ws.now, "Still broken, sorry.")
        company.name, company.updated_at = RENAMED_COMPANY, ws.now
        contact.name, contact.updated_at = RENAMED_CONTACT, ws.now
        ws.changed()
    scene.sync(SYNC["intercom_conversations"])
    scene.sync(SYNC["intercom_contacts"])
    scene.build()

    incremental = scene.tables()
    assert set(INCREMENTAL_MODELS) < set(incremental)
    documents = {
        row[0]: row[1:]
        for row in scene.query(
            "select conversation_id, company_name, contact_name, thread_html"
            " from analytics.feedback_documents"
        )
    }
    assert documents[company_of][0] == RENAMED_COMPANY
    assert documents[contact_of][1] == RENAMED_CONTACT
    assert documents[again.id][2].endswith("<p>Still broken, sorry.</p>")
    deleted = busy["deleted_conversations"] + quiet["deleted_conversations"]
    assert scene.query(
        "select count(*) from analytics.conversations"
        f" where is_deleted and conversation_id in {_sql_list(deleted)}"
    ) == [(len(deleted),)]

    ages = dict(scene.query(AGES))
    scene.build(full_refresh=True)
    full = scene.tables()
    assert set(incremental) == set(full)
    for table, (columns, rows) in full.items():
        assert incremental[table] == (columns, rows), table
    # The age of an open conversation runs to its build: the two builds are seconds apart.
    for conversation_id, age in scene.query(AGES):
        assert ages[conversation_id] == pytest.approx(age, abs=0.02), conversation_id


def test_an_incremental_build_rewrites_no_row_whose_sources_did_not_change(scene: Scene) -> None:
    """A row edited in place (no load in between) keeps the edit through an incremental build."""
    edits = {
        table: scene.query(f"select {key} from {table} order by {key} limit 1")[0][0]
        for table, (key, _) in EDITED.items()
    }
    with duckdb.connect(str(scene.warehouse.path)) as conn:
        for table, (key, column) in EDITED.items():
            conn.execute(f"update {table} set {column} = 'edited' where {key} = ?", [edits[table]])
    scene.build()
    for table, (key, column) in EDITED.items():
        assert scene.query(f"select {column} from {table} where {key} = ?", edits[table]) == [
            ("edited",)
        ], table


def _sql_list(ids: list[str] | set[str]) -> str:
    return "(" + ", ".join(f"'{i}'" for i in sorted(ids) or ["-"]) + ")"
