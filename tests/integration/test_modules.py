"""Modules switched off and fields left out, end to end in Dagster against the sandbox.

One warehouse goes through the sequence a user would: a first sync with two contact fields
left out, tickets switched off (the graph, the schedules and the build follow; the mart says
why), and tickets switched back on (they resume from their cursor).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
import pytest

from intercom_pipeline.defs.resources import resources_from_environment
from intercom_pipeline.defs.survey_feed import survey_feed_responses
from intercom_pipeline.defs.transform import intercom_dbt_assets
from intercom_pipeline.sources.intercom.tables import MODULES
from intercom_sandbox import DEFAULT_TOKEN, RunningSandbox, SandboxConfig

TICKET_TABLES = ("ticket_types", "ticket_states", "tickets", "ticket_parts")


@pytest.fixture
def sandbox_config() -> SandboxConfig:
    return SandboxConfig(seed=5, scale="tiny")


@pytest.fixture
def env(running_sandbox: RunningSandbox, monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    monkeypatch.setenv("INTERCOM_BASE_URL", running_sandbox.base_url)
    monkeypatch.setenv("INTERCOM_ACCESS_TOKEN", DEFAULT_TOKEN)
    monkeypatch.setenv("INTERCOM_EXCLUDE_FIELDS", "contacts.phone,contacts.location")
    return monkeypatch


def definitions() -> dg.Definitions:
    from intercom_pipeline.definitions import defs

    return defs()


def build_models(instance: dg.DagsterInstance) -> dg.ExecuteInProcessResult:
    """`dbt build` of the models the modules leave in, as the automation would run it."""
    return dg.materialize(
        [intercom_dbt_assets()], resources=resources_from_environment(), instance=instance
    )


def load_survey_feed(instance: dg.DagsterInstance) -> None:
    """The (empty) survey feed, which the survey models read."""
    Path(os.environ["SURVEY_FEED_DIR"]).mkdir(parents=True, exist_ok=True)
    assert dg.materialize(
        [survey_feed_responses], resources=resources_from_environment(), instance=instance
    ).success


def sync(instance: dg.DagsterInstance, *tables: str) -> dict[str, Any]:
    """Materialize raw tables (default: every one in the graph); their metadata by table."""
    job = definitions().resolve_job_def("intercom_ingest_all")
    result = job.execute_in_process(
        instance=instance,
        asset_selection=[dg.AssetKey(["intercom", t]) for t in tables] or None,
        run_config={"ops": {"intercom_raw": {"config": {"lookback_seconds": 0}}}},
    )
    assert result.success
    return {
        m.asset_key.path[-1]: m.metadata
        for m in result.asset_materializations_for_node("intercom_raw")
    }


def query(sql: str) -> list[tuple]:
    with duckdb.connect(os.environ["DUCKDB_PATH"], read_only=True) as conn:
        return conn.execute(sql).fetchall()


def test_modules_off_and_fields_left_out(
    env: pytest.MonkeyPatch, running_sandbox: RunningSandbox, tmp_path: Path
) -> None:
    ws = running_sandbox.sandbox.workspace
    with dg.instance_for_test() as instance:
        loaded = sync(instance)
        assert loaded["tickets"]["rows_loaded"].value == len(ws.tickets) > 0
        load_survey_feed(instance)
        assert build_models(instance).success
        # Left out: phone stays a declared, empty column; location never becomes one.
        assert query("select count(*), count(phone) from intercom_raw.contacts") == [
            (len(ws.contacts), 0)
        ]
        columns = query(
            "select column_name from information_schema.columns "
            "where table_schema = 'intercom_raw' and table_name = 'contacts'"
        )
        assert ("location",) not in columns and ("email",) in columns
        assert query("select count(*) from analytics.tickets") == [(len(ws.tickets),)]

        env.setenv("INTERCOM_MODULES", ",".join(m for m in MODULES if m != "tickets"))
        graph = definitions().resolve_asset_graph()
        keys = {k.to_user_string() for k in graph.get_all_asset_keys()}
        assert not {f"intercom/{t}" for t in TICKET_TABLES} & keys
        assert "analytics/tickets" not in keys and "analytics/conversations" in keys
        hourly = definitions().resolve_job_def("intercom_conversations_job")
        synced = {k.path[-1] for k in hourly.asset_layer.selected_asset_keys}
        assert "conversations" in synced and not set(TICKET_TABLES) & synced

        built = build_models(instance)
        assert built.success
        assert "analytics/tickets" not in {
            m.asset_key.to_user_string()
            for m in built.get_asset_materialization_events()
            for m in [m.materialization]
        }
        # The mart keeps its last rows, and says why they no longer change.
        assert query(
            "select comment from duckdb_tables() "
            "where schema_name = 'analytics' and table_name = 'tickets'"
        ) == [
            (
                "Not built: its module tickets is off (INTERCOM_MODULES). "
                "Its rows are those of its last build.",
            )
        ]
        assert query("select count(*) from intercom_raw.tickets") == [(len(ws.tickets),)]

        env.delenv("INTERCOM_MODULES")
        again = sync(instance, "tickets")
        # Back on, tickets resume from their cursor: nothing changed, nothing is read again.
        assert again["tickets"]["rows_loaded"].value == 0
        assert again["tickets"]["run_api_calls"].value < loaded["tickets"]["run_api_calls"].value
        assert query("select count(*) from intercom_raw.tickets") == [(len(ws.tickets),)]
