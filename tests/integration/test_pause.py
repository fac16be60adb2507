"""Pausing the syncs end to end: a real job fails against the sandbox, the sensor pauses its
schedules, their ticks skip saying why, and the fix (`auth check`, a manual run) resumes them.

The instance is a persistent one in a temporary DAGSTER_HOME, so that `intercom-pipeline auth
check` (run in-process, as the command line would) finds the pauses the sensor stored.
"""

from __future__ import annotations

from collections.abc import Iterator

import dagster as dg
import pytest

from intercom_pipeline import cli
from intercom_pipeline.defs.notifications import failure_text
from intercom_pipeline.defs.schedules import pause_on_blocking_failure, resume_on_success
from intercom_pipeline.sources.intercom.client import IntercomClient
from intercom_sandbox import DEFAULT_TOKEN, RunningSandbox, Sandbox, SandboxConfig
from tests.integration.sensing import sensed

JOB, SCHEDULE = "intercom_settings_job", "intercom_settings"
SCHEDULES = ("intercom_conversations", "intercom_contacts", "intercom_settings")
WRONG_TOKEN = "revoked-token-5f3a9c71d2"


@pytest.fixture
def sandbox(monkeypatch: pytest.MonkeyPatch) -> Iterator[RunningSandbox]:
    with RunningSandbox(Sandbox(SandboxConfig(seed=2, scale="tiny"))) as running:
        monkeypatch.setenv("INTERCOM_BASE_URL", running.base_url)
        monkeypatch.setenv("INTERCOM_ACCESS_TOKEN", WRONG_TOKEN)
        for name in ("SMTP_HOST", "NOTIFY_EMAIL_TO", "NOTIFY_WEBHOOK_URL"):
            monkeypatch.delenv(name, raising=False)
        yield running


def run_and_sense(instance: dg.DagsterInstance, job: str = JOB) -> dg.ExecuteInProcessResult:
    """Run a sync as a manual launch would, then the sensors the daemon would call for it."""
    from intercom_pipeline.definitions import defs

    result = defs().resolve_job_def(job).execute_in_process(instance=instance, raise_on_error=False)
    sensed(instance, result, resume_on_success, pause_on_blocking_failure)
    return result


def tick(instance: dg.DagsterInstance, schedule: str) -> dg.RunRequest | dg.SkipReason:
    """What the schedule's next tick does."""
    from intercom_pipeline.definitions import defs

    definition = defs().resolve_schedule_def(schedule)
    return definition(dg.build_schedule_context(instance=instance))  # type: ignore[return-value]


def test_a_rejected_token_pauses_every_sync_until_auth_check_accepts_a_new_one(
    sandbox: RunningSandbox,
    instance: dg.DagsterInstance,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    failed = [run_and_sense(instance) for _ in range(3)]  # three hourly failures
    assert not any(r.success for r in failed)
    for schedule in SCHEDULES:  # the token is shared: every sync is paused
        skipped = tick(instance, schedule)
        assert isinstance(skipped, dg.SkipReason)
        assert skipped.skip_message is not None
        assert skipped.skip_message.startswith(
            f"Paused: token rejected (401) in run {failed[-1].run_id}."
        )
        assert "`intercom-pipeline auth check`" in skipped.skip_message

    # 'Sync now' is a launch, not a tick: it still runs while paused (and fails: same token).
    manual = run_and_sense(instance)
    assert instance.get_run_by_id(manual.run_id) is not None and not manual.success

    # auth check with the rejected token: the client's error, exit 2, nothing resumed.
    capsys.readouterr()
    assert cli.main(["auth", "check"]) == 2
    out, err = capsys.readouterr()
    assert "Intercom rejected the access token (401" in err and "Traceback" not in err
    assert WRONG_TOKEN not in out + err
    assert isinstance(tick(instance, SCHEDULE), dg.SkipReason)

    # A new token: auth check verifies it and resumes every sync.
    monkeypatch.setenv("INTERCOM_ACCESS_TOKEN", DEFAULT_TOKEN)
    assert cli.main(["auth", "check"]) == 0
    out, err = capsys.readouterr()
    assert "workspace default: token accepted by Sandbox 2" in out
    for schedule in SCHEDULES:
        assert f"resumed {schedule} (paused since " in out
        assert isinstance(tick(instance, schedule), dg.RunRequest)
    assert DEFAULT_TOKEN not in out + err

    # Nothing left to resume: said so.
    assert cli.main(["auth", "check"]) == 0
    assert "no schedule was paused for a rejected token" in capsys.readouterr().out


def test_auth_check_without_dagster_home_says_how_to_set_it(
    sandbox: RunningSandbox, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("INTERCOM_ACCESS_TOKEN", DEFAULT_TOKEN)
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    assert cli.main(["auth", "check"]) == 0
    out = capsys.readouterr().out
    assert "token accepted by Sandbox 2" in out
    assert "DAGSTER_HOME is not set, so no paused schedule was resumed: set it to" in out


def test_an_outage_does_not_pause(
    sandbox: RunningSandbox, instance: dg.DagsterInstance, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("INTERCOM_ACCESS_TOKEN", DEFAULT_TOKEN)
    sandbox.sandbox.faults.update({"error_rate": 1.0})  # every call answered 500, 502 or 503
    # Give up after 2 quick retries instead of a minute of backoff.
    defaults = IntercomClient.__init__.__kwdefaults__
    monkeypatch.setitem(defaults, "max_retries", 2)
    monkeypatch.setitem(defaults, "backoff_seconds", 0.001)
    failed = run_and_sense(instance)
    assert not failed.success
    context = dg.build_run_status_sensor_context(
        sensor_name=pause_on_blocking_failure.name,
        dagster_instance=instance,
        dagster_run=failed.dagster_run,
        dagster_event=failed.get_run_failure_event(),
    ).for_run_failure()
    assert "_Retryable: HTTP 50" in failure_text(context)  # the run failed on the outage
    for schedule in SCHEDULES:
        assert isinstance(tick(instance, schedule), dg.RunRequest)


def test_a_core_type_change_in_stop_mode_pauses_its_sync_until_a_manual_run_accepts_it(
    sandbox: RunningSandbox, instance: dg.DagsterInstance, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("INTERCOM_ACCESS_TOKEN", DEFAULT_TOKEN)
    monkeypatch.setenv("INTERCOM_ON_TYPE_CHANGE", "stop")
    assert run_and_sense(instance).success
    ws = sandbox.sandbox.workspace
    with ws.lock:
        ws.admins[0].away_mode_enabled = "sometimes"  # type: ignore[assignment]
        ws.changed()
    stopped = run_and_sense(instance)
    assert not stopped.success
    skipped = tick(instance, SCHEDULE)
    assert isinstance(skipped, dg.SkipReason) and skipped.skip_message is not None
    assert skipped.skip_message.startswith(
        f"Paused: type change in stop mode in run {stopped.run_id}."
    )
    assert "INTERCOM_ON_TYPE_CHANGE=report" in skipped.skip_message
    # Only the failed job's schedule: the others sync as usual.
    assert isinstance(tick(instance, "intercom_contacts"), dg.RunRequest)

    # Accepted by a manual run in report mode, while paused: its success resumes the schedule.
    monkeypatch.setenv("INTERCOM_ON_TYPE_CHANGE", "report")
    assert run_and_sense(instance).success
    assert isinstance(tick(instance, SCHEDULE), dg.RunRequest)
