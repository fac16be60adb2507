"""The raw assets in Dagster: lineage keys, schedules, and a whole materialization."""

import logging
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
import pytest

from intercom_pipeline.defs import schedules
from intercom_pipeline.sources.intercom import RAW_TABLES, whole_families
from intercom_pipeline.warehouse.load import RAW_DATASET
from intercom_sandbox import RunningSandbox, SandboxConfig
from intercom_sandbox.generate_extras import handling_events
from tests.conftest import SandboxClient


@pytest.fixture
def sandbox_config() -> SandboxConfig:
    return SandboxConfig(seed=7, scale="tiny")


@pytest.fixture
def warehouse(
    running_sandbox: RunningSandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """The environment a deployment would set: the sandbox as Intercom, a fresh warehouse."""
    path = tmp_path / "warehouse.duckdb"
    monkeypatch.setenv("DUCKDB_PATH", str(path))
    monkeypatch.setenv("INTERCOM_BASE_URL", running_sandbox.base_url)
    monkeypatch.setenv("INTERCOM_ACCESS_TOKEN", "sandbox-token")
    return path


@pytest.fixture
def loaded_defs() -> dg.Definitions:
    from intercom_pipeline.definitions import defs

    return defs()


def test_one_asset_per_raw_table_with_no_phantom_upstream(loaded_defs: dg.Definitions) -> None:
    graph = loaded_defs.resolve_asset_graph()
    keys = {k for k in graph.get_all_asset_keys() if k.path[0] == "intercom"}
    assert keys == {dg.AssetKey(["intercom", t]) for t in RAW_TABLES}
    for key in keys:
        node = graph.get(key)
        assert node.group_name == "intercom_raw"
        assert not node.parent_keys, f"{key} has an upstream nothing can materialize"
        assert node.is_materializable


def test_schedules_are_on_with_their_intervals(
    loaded_defs: dg.Definitions, monkeypatch: pytest.MonkeyPatch
) -> None:
    by_name = {s.name: s for s in loaded_defs.schedules}
    assert by_name["intercom_conversations"].cron_schedule == "0 * * * *"
    assert by_name["intercom_contacts"].cron_schedule == "0 3 * * *"
    assert by_name["intercom_settings"].cron_schedule == "0 3 * * *"
    assert all(s.default_status == dg.DefaultScheduleStatus.RUNNING for s in by_name.values())
    monkeypatch.setenv("INTERCOM_CONTACTS_SCHEDULE", "6h")
    rebuilt = {s.name: s for s in schedules.build_schedules()}
    assert rebuilt["intercom_contacts"].cron_schedule == "0 */6 * * *"
    monkeypatch.setenv("INTERCOM_CONTACTS_SCHEDULE", "5min")
    with pytest.raises(
        ValueError, match=r"INTERCOM_CONTACTS_SCHEDULE='5min'.*1h, 3h, 6h, 12h, daily"
    ):
        schedules.build_schedules()


def test_schedules_sync_whole_families_and_every_table() -> None:
    """A table loads with its family, so a schedule names whole families (as `tables` declares)."""
    synced = set()
    for sync in schedules.SYNCS:
        assert set(whole_families(sync.tables)) == set(sync.tables), sync.name
        assert len(set(sync.tables)) == len(sync.tables), sync.name
        synced |= set(sync.tables)
    assert synced == set(RAW_TABLES)


def test_hourly_job_brings_related_contacts_only(loaded_defs: dg.Definitions) -> None:
    job = loaded_defs.resolve_job_def("intercom_conversations_job")
    selected = {k.path[-1] for k in job.asset_layer.selected_asset_keys if k.path[0] == "intercom"}
    assert selected == {
        "conversations",
        "conversation_parts",
        "conversation_contacts",
        "conversation_handling_events",
        "conversation_content_sources",
        "tickets",
        "ticket_parts",
        "contacts",
        "contact_tags",
        "contact_companies",
        "companies",
        "deletions",  # the conversations Intercom lists as deleted
    }
    # Nothing downstream: the models follow the sync through the automation sensor.
    others = {k.to_user_string() for k in job.asset_layer.selected_asset_keys} - {
        f"intercom/{t}" for t in selected
    }
    assert others == {"survey_feed/responses"}
    hourly = next(s for s in schedules.SYNCS if s.name == "intercom_conversations")
    assert hourly.op_config == {"related_only": True, "reconcile_deletions": False}


def test_materializing_every_raw_table(
    warehouse: Path,
    running_sandbox: RunningSandbox,
    loaded_defs: dg.Definitions,
) -> None:
    job = loaded_defs.resolve_job_def("intercom_ingest_all")
    with dg.instance_for_test() as instance:
        result = job.execute_in_process(instance=instance)
    assert result.success
    materialized = {
        m.asset_key.path[-1]: m.metadata
        for m in result.asset_materializations_for_node("intercom_raw")
    }
    assert set(materialized) == set(RAW_TABLES)
    ws = running_sandbox.sandbox.workspace
    assert materialized["conversations"]["rows_loaded"].value == len(ws.conversations)
    assert materialized["deletions"]["rows_loaded"].value == 0
    assert materialized["admins"]["run_api_calls"].value > len(ws.conversations)
    assert materialized["admins"]["run_rate_limited_429"].value == 0
    checks = {
        e.check_name + ":" + e.asset_key.path[-1]: e for e in result.get_asset_check_evaluations()
    }
    assert checks["types_unchanged:contacts"].passed
    parts = checks["conversation_parts_complete:conversation_parts"]
    assert not parts.passed and parts.severity == dg.AssetCheckSeverity.WARN  # the >500-part one
    assert parts.metadata["conversations_over_api_limit"].value == 1
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        count = conn.execute(f"select count(*) from {RAW_DATASET}.conversations").fetchone()[0]
    assert count == len(ws.conversations)


def raw_counts(warehouse: Path, *tables: str) -> dict[str, int]:
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        return {
            t: conn.execute(f"select count(*) from {RAW_DATASET}.{t}").fetchone()[0] for t in tables
        }


def materialize_alone(
    job: dg.JobDefinition, instance: dg.DagsterInstance, table: str
) -> tuple[dg.ExecuteInProcessResult, dict[str, Any]]:
    """Materialize one raw table's asset; returns the run and each table's metadata by name."""
    result = job.execute_in_process(
        instance=instance, asset_selection=[dg.AssetKey(["intercom", table])]
    )
    assert result.success
    materialized = {
        m.asset_key.path[-1]: m.metadata
        for m in result.asset_materializations_for_node("intercom_raw")
    }
    return result, materialized


def test_one_table_materializes_on_its_own_with_its_family(
    warehouse: Path,
    running_sandbox: RunningSandbox,
    loaded_defs: dg.Definitions,
) -> None:
    """Tickets alone loads their parts too: the tickets cursor never moves past unread parts."""
    ws = running_sandbox.sandbox.workspace
    job = loaded_defs.resolve_job_def("intercom_ingest_all")
    with dg.instance_for_test() as instance:
        result, materialized = materialize_alone(job, instance, "tickets")
        all_parts = sum(len(t.parts) for t in ws.tickets)
        # The parts loaded with their ticket are recorded as materialized as well.
        assert sorted(materialized) == ["ticket_parts", "tickets"]
        assert materialized["tickets"]["loaded_with_family"].value == "ticket_parts"
        assert materialized["tickets"]["rows_loaded"].value == len(ws.tickets)
        assert materialized["ticket_parts"]["rows_loaded"].value == all_parts
        assert set(materialized["ticket_parts"]) == set(materialized["tickets"])
        latest = instance.get_latest_materialization_event(
            dg.AssetKey(["intercom", "ticket_parts"])
        )
        assert latest is not None and latest.run_id == result.run_id
        assert raw_counts(warehouse, "tickets", "ticket_parts") == {
            "tickets": len(ws.tickets),
            "ticket_parts": all_parts,
        }
        # A full run afterwards finds every ticket part in place.
        assert job.execute_in_process(instance=instance).success
    assert raw_counts(warehouse, "ticket_parts")["ticket_parts"] == all_parts


def test_a_child_alone_loads_its_parent(
    warehouse: Path,
    running_sandbox: RunningSandbox,
    loaded_defs: dg.Definitions,
) -> None:
    """Parts alone would move the conversations cursor without storing a conversation."""
    ws = running_sandbox.sandbox.workspace
    job = loaded_defs.resolve_job_def("intercom_ingest_all")
    with dg.instance_for_test() as instance:
        result, materialized = materialize_alone(job, instance, "conversation_parts")
        recorded = {
            t: instance.get_latest_materialization_event(dg.AssetKey(["intercom", t]))
            for t in ("conversations", "conversation_contacts")
        }
    assert materialized["conversation_parts"]["loaded_with_family"].value == (
        "conversations, conversation_contacts, conversation_handling_events, "
        "conversation_content_sources"
    )
    expected = {
        "conversations": len(ws.conversations),
        "conversation_parts": sum(min(len(c.parts), 500) for c in ws.conversations),
        "conversation_contacts": sum(len(c.contact_ids) for c in ws.conversations),
        "conversation_handling_events": sum(
            len(handling_events(ws, c)) for c in ws.conversations if c.admin_assignee_id
        ),
        "conversation_content_sources": sum(
            len(c.ai_agent.content_sources) for c in ws.conversations if c.ai_agent
        ),
    }
    # Every table the run wrote has its materialization, counting the rows it stored.
    assert {t: m["rows_loaded"].value for t, m in materialized.items()} == expected
    assert all(r is not None and r.run_id == result.run_id for r in recorded.values())
    assert raw_counts(warehouse, *expected) == expected


def test_the_lookback_can_be_set_for_a_run(
    warehouse: Path,
    running_sandbox: RunningSandbox,
    loaded_defs: dg.Definitions,
) -> None:
    """With no overlap, a second run with no change reads no conversation again."""
    job = loaded_defs.resolve_job_def("intercom_ingest_all")
    selection = [dg.AssetKey(["intercom", "conversations"])]
    config = {"ops": {"intercom_raw": {"config": {"lookback_seconds": 0}}}}
    with dg.instance_for_test() as instance:
        first = job.execute_in_process(instance=instance, asset_selection=selection)
        again = job.execute_in_process(
            instance=instance, asset_selection=selection, run_config=config
        )
    rows = [
        run.asset_materializations_for_node("intercom_raw")[0].metadata["rows_loaded"].value
        for run in (first, again)
    ]
    assert rows == [len(running_sandbox.sandbox.workspace.conversations), 0]


def warnings_of(instance: dg.DagsterInstance, run_id: str) -> str:
    return "\n".join(
        e.user_message for e in instance.all_logs(run_id) if e.level == logging.WARNING
    )


def test_type_change_can_stop_the_sync(
    warehouse: Path,
    running_sandbox: RunningSandbox,
    intercom: SandboxClient,
    monkeypatch: pytest.MonkeyPatch,
    loaded_defs: dg.Definitions,
) -> None:
    job = loaded_defs.resolve_job_def("intercom_ingest_all")
    selection = [dg.AssetKey(["intercom", t]) for t in ("data_attributes", "contacts", "tickets")]
    with dg.instance_for_test() as instance:
        assert job.execute_in_process(instance=instance, asset_selection=selection).success
        from intercom_sandbox import activity

        with running_sandbox.sandbox.workspace.lock:
            activity.advance(
                running_sandbox.sandbox.workspace,
                3600,
                activity.Activity(
                    attribute_type_change={"name": "seats", "to": "string", "contacts": 2}
                ),
                running_sandbox.sandbox.activity_rng,
            )
        monkeypatch.setenv("INTERCOM_ON_TYPE_CHANGE", "stop")
        intercom.control("PUT", "/restrictions", {"modules": ["tickets"]})
        result = job.execute_in_process(
            instance=instance, asset_selection=selection, raise_on_error=False
        )
        # The run stops, and still says which tables it skipped.
        skipped = warnings_of(instance, result.run_id)
        intercom.control("PUT", "/restrictions", {"modules": []})
        # The change was reported once; later syncs run, or a drift would stop them forever.
        again = job.execute_in_process(
            instance=instance, asset_selection=selection, raise_on_error=False
        )
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure)
    message = failure.step_failure_data.error.message
    assert "contacts.custom_attributes.seats: declared string, received integer" in message
    assert "Workspace default: its Intercom plan does not include tickets; skipped" in skipped
    assert again.success


def test_refused_deletions_leave_the_run_green_and_a_run_config_accepts_them(
    warehouse: Path,
    running_sandbox: RunningSandbox,
    intercom: SandboxClient,
    loaded_defs: dg.Definitions,
) -> None:
    ws = running_sandbox.sandbox.workspace
    stored = len(ws.visible_companies())
    job = loaded_defs.resolve_job_def("intercom_ingest_all")
    selection = [dg.AssetKey(["intercom", t]) for t in ("companies", "deletions")]
    accept = {"ops": {"intercom_raw": {"config": {"accept_mass_deletions": True}}}}
    with dg.instance_for_test() as instance:
        assert job.execute_in_process(instance=instance, asset_selection=selection).success
        gone = stored - 5  # more than half, and more than ten
        intercom.control(
            "POST", "/clock/advance", {"seconds": 3600, "activity": {"company_deletions": gone}}
        )
        refused = job.execute_in_process(instance=instance, asset_selection=selection)
        warned = warnings_of(instance, refused.run_id)
        accepted = job.execute_in_process(
            instance=instance, asset_selection=selection, run_config=accept
        )
    assert refused.success
    metadata = {
        m.asset_key.path[-1]: m.metadata
        for m in refused.asset_materializations_for_node("intercom_raw")
    }
    assert metadata["deletions"]["rows_loaded"].value == 0
    assert metadata["companies"]["rows_loaded"].value == 5
    assert metadata["deletions"]["deletions_refused"].value == {
        "default": {"companies": {"missing": gone, "stored": stored}}
    }
    assert f"Workspace default: {gone} of the {stored} companies stored are missing" in warned
    assert "accept_mass_deletions: true" in warned
    marked = {
        m.asset_key.path[-1]: m.metadata
        for m in accepted.asset_materializations_for_node("intercom_raw")
    }
    assert marked["deletions"]["rows_loaded"].value == gone
    assert marked["deletions"]["deletions_refused"].value == {}
    assert raw_counts(warehouse, "deletions") == {"deletions": gone}
