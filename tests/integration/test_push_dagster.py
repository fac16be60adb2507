"""The push in Dagster: blocked by the marts' failed checks, the export-all job, the automation."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import duckdb
import pytest
import requests

from intercom_pipeline.activation.push_back import ledger
from intercom_pipeline.defs.keys import mart_key
from intercom_pipeline.defs.reverse_etl import EXPORT_ALL_JOB, PUSH_ASSET
from intercom_sandbox import DEFAULT_TOKEN, RunningSandbox, SandboxConfig
from tests.integration.test_push_killed import write_marts

PUSH = dg.AssetKey(PUSH_ASSET)
PROFILE = mart_key("contact_survey_profile")
CONTACTS = 10  # one attribute update, one sent event and one response event each


@pytest.fixture
def sandbox_config() -> SandboxConfig:
    return SandboxConfig(seed=5, scale="tiny")


@pytest.fixture
def loaded_defs(
    running_sandbox: RunningSandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> dg.Definitions:
    """The code location, with a warehouse holding the marts and the sandbox as Intercom."""
    from intercom_pipeline.definitions import defs

    warehouse = tmp_path / "warehouse.duckdb"
    write_marts(warehouse, running_sandbox.sandbox.workspace, CONTACTS)
    monkeypatch.setenv("DUCKDB_PATH", str(warehouse))
    monkeypatch.setenv("INTERCOM_BASE_URL", running_sandbox.base_url)
    monkeypatch.setenv("INTERCOM_ACCESS_TOKEN", DEFAULT_TOKEN)
    return defs()


def export_all(
    loaded_defs: dg.Definitions, instance: dg.DagsterInstance, force: bool | None = None
) -> dg.ExecuteInProcessResult:
    config = None
    if force is not None:
        config = {"ops": {PUSH_ASSET: {"config": {"resend_all": True, "force": force}}}}
    return loaded_defs.resolve_job_def(EXPORT_ALL_JOB).execute_in_process(
        instance=instance, run_config=config, raise_on_error=False
    )


def failure_message(result: dg.ExecuteInProcessResult) -> str:
    failure = next(e for e in result.all_events if e.is_step_failure)
    return failure.step_failure_data.error.message


def pushed(result: dg.ExecuteInProcessResult) -> dict[str, int]:
    (materialization,) = result.asset_materializations_for_node(PUSH_ASSET)
    return {k: materialization.metadata[k].value for k in ("sent", "unchanged", "failed")}


def writes(running: RunningSandbox) -> int:
    return requests.get(f"{running.base_url}/_sandbox/stats", timeout=30).json()["write_count"]


def test_a_failed_error_check_on_the_profile_blocks_the_push(
    loaded_defs: dg.Definitions, running_sandbox: RunningSandbox
) -> None:
    checks = sorted(
        (k for k in loaded_defs.resolve_asset_graph().asset_check_keys if k.asset_key == PROFILE),
        key=lambda k: k.name,
    )
    assert checks, "contact_survey_profile has no checks in the code location"
    with dg.instance_for_test() as instance:

        def evaluate(passed: bool, severity: dg.AssetCheckSeverity) -> None:
            instance.report_runless_asset_event(
                dg.AssetCheckEvaluation(
                    asset_key=PROFILE, check_name=checks[0].name, passed=passed, severity=severity
                )
            )

        evaluate(False, dg.AssetCheckSeverity.ERROR)
        refused = export_all(loaded_defs, instance)
        assert not refused.success
        message = failure_message(refused)
        assert "Not pushed" in message and checks[0].to_user_string() in message
        assert writes(running_sandbox) == 0
        evaluate(False, dg.AssetCheckSeverity.WARN)  # a warning does not block
        assert pushed(export_all(loaded_defs, instance)) == {
            "sent": 3 * CONTACTS,
            "unchanged": 0,
            "failed": 0,
        }


def test_the_export_all_job_runs_once_a_week_unless_forced(
    loaded_defs: dg.Definitions, running_sandbox: RunningSandbox
) -> None:
    with dg.instance_for_test() as instance:
        first = export_all(loaded_defs, instance)
        assert pushed(first)["sent"] == 3 * CONTACTS
        before = writes(running_sandbox)
        again = export_all(loaded_defs, instance)
        assert not again.success
        assert "may run once a week: next after" in failure_message(again)
        assert writes(running_sandbox) == before
        forced = export_all(loaded_defs, instance, force=True)
        assert pushed(forced) == {"sent": 3 * CONTACTS, "unchanged": 0, "failed": 0}
        assert writes(running_sandbox) == before + 3 * CONTACTS


def test_the_push_follows_its_marts_and_no_schedule_runs_it(loaded_defs: dg.Definitions) -> None:
    """The schedules only sync; the automation sensor pushes once the profile was rebuilt."""
    from intercom_pipeline.defs.automation import FOLLOW_UPSTREAMS, SENSOR

    graph = loaded_defs.resolve_asset_graph()
    assert graph.get(PUSH).automation_condition == FOLLOW_UPSTREAMS
    assert PROFILE in graph.get(PUSH).parent_keys
    for schedule in loaded_defs.schedules:
        job = loaded_defs.resolve_job_def(schedule.job_name)
        assert PUSH not in job.asset_layer.selected_asset_keys, schedule.name
    sensor = loaded_defs.resolve_sensor_def(SENSOR)
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING


def test_off_says_so_in_the_asset_metadata(
    loaded_defs: dg.Definitions, running_sandbox: RunningSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("INTERCOM_PUSH_MODE", "off")
    with dg.instance_for_test() as instance:
        result = export_all(loaded_defs, instance)
    (materialization,) = result.asset_materializations_for_node(PUSH_ASSET)
    assert materialization.metadata["skipped"].value == 3 * CONTACTS
    assert materialization.metadata["notes"].value == (
        f"- INTERCOM_PUSH_MODE=off: nothing was sent ({3 * CONTACTS} changed writes skipped)"
    )
    assert writes(running_sandbox) == 0


def test_a_refused_token_fails_the_push_with_what_to_do(
    loaded_defs: dg.Definitions, running_sandbox: RunningSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("INTERCOM_ACCESS_TOKEN", "tok_revoked_do_not_print")
    with dg.instance_for_test() as instance:
        result = export_all(loaded_defs, instance)
    assert not result.success
    message = failure_message(result)
    assert "Failure: Intercom rejected the access token (401" in message
    assert "tok_revoked_do_not_print" not in message
    stats = requests.get(f"{running_sandbox.base_url}/_sandbox/stats", timeout=30).json()
    assert stats["statuses"] == {"401": 1}


def test_two_answers_in_one_second_are_one_event_and_counted(
    loaded_defs: dg.Definitions, running_sandbox: RunningSandbox, tmp_path: Path
) -> None:
    with duckdb.connect(str(tmp_path / "warehouse.duckdb")) as conn:
        conn.execute(
            "insert into analytics.survey_responses select workspace_id, contact_id,"
            " response_key || '-again', metric, score, category, 'again', conversation_id,"
            " responded_at + interval 300 milliseconds"
            " from analytics.survey_responses order by response_key limit 1"
        )
    with dg.instance_for_test() as instance:
        result = export_all(loaded_defs, instance)
    (materialization,) = result.asset_materializations_for_node(PUSH_ASSET)
    assert materialization.metadata["events_merged"].value == 1
    assert pushed(result) == {"sent": 3 * CONTACTS, "unchanged": 0, "failed": 0}
    assert writes(running_sandbox) == 3 * CONTACTS + 4  # and the 4 attributes created
    with duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True) as conn:
        runs = conn.execute(f"select events_merged from {ledger.RUNS}").fetchall()
    assert runs == [(1,)]
