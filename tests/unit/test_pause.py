"""Which failures pause the syncs, which schedules they pause, and what resumes them.

The errors are the project's own, raised by the real client (against scripted answers) or built
by the code that raises them, and written as `failure_text` gives them: `<ErrorClass>: <message>`.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest
import requests
from dlt.common.schema.exceptions import DataValidationError
from requests.structures import CaseInsensitiveDict

from intercom_pipeline.operations.pause import (
    PERMISSION_MISSING,
    TOKEN_REJECTED,
    TYPE_CHANGE,
    Pause,
    blocking_cause,
    fix_for,
    new_pause,
    pause_key,
    pause_schedules,
    read_pauses,
    resume_schedules,
    schedules_to_pause,
    schedules_to_resume,
)
from intercom_pipeline.settings import intercom_settings
from intercom_pipeline.sources.intercom.client import IntercomClient, IntercomError
from intercom_pipeline.warehouse.load import _refused_type_change
from intercom_pipeline.warehouse.quality import TypeChanged, TypeDrift

TOKEN = "tok_pause_unit_secret"
SCHEDULE_JOBS = {
    "intercom_conversations": "intercom_conversations_job",
    "intercom_contacts": "intercom_contacts_job",
    "intercom_settings": "intercom_settings_job",
}


def _answer(status: int, code: str = "", message: str = "a message") -> requests.Response:
    response = requests.Response()
    response.status_code = status
    body = {"type": "error.list", "errors": [{"code": code, "message": message}]}
    response._content = json.dumps(body).encode() if code else b""
    response.headers = CaseInsensitiveDict()
    response.encoding = "utf-8"
    return response


def _client_error(*answers: requests.Response) -> IntercomError:
    """The error the real client raises on these answers (no server, no sleeping)."""
    settings = intercom_settings(
        {"INTERCOM_BASE_URL": "http://127.0.0.1:9", "INTERCOM_ACCESS_TOKEN": TOKEN}
    )
    client = IntercomClient(settings, sleep=lambda _: None, max_retries=len(answers) - 1)  # type: ignore[arg-type]
    played = iter(answers)
    client.session.request = lambda *a, **k: next(played)  # type: ignore[method-assign]
    with pytest.raises(IntercomError) as raised:
        client.request("GET", "/tickets")
    return raised.value


def _text(error: BaseException) -> str:
    """The error as `failure_text` gives it: the class without its module, then the message."""
    return f"{type(error).__name__}: {error}"


def _core_type_change() -> BaseException:
    """The CoreTypeChanged the load raises when dlt's frozen contract refuses a new type."""
    refusal = DataValidationError(
        "intercom", "admins", "away_mode_enabled__v_text", "data_type", "freeze", None, {}
    )
    failed = RuntimeError("Pipeline execution failed at stage normalize")
    failed.__cause__ = refusal
    columns = {"away_mode_enabled": {"data_type": "bool"}}
    pipeline = SimpleNamespace(default_schema=SimpleNamespace(get_table_columns=lambda _: columns))
    error = _refused_type_change(failed, pipeline)  # type: ignore[arg-type]
    assert error is not None
    return error


def test_a_rejected_token_is_blocking_and_its_fix_is_auth_check() -> None:
    error = _client_error(_answer(401, "unauthorized", "Access Token Invalid"))
    assert blocking_cause(_text(error)) == TOKEN_REJECTED
    assert "intercom-pipeline auth check" in fix_for(TOKEN_REJECTED)
    assert "INTERCOM_ACCESS_TOKEN" in fix_for(TOKEN_REJECTED)
    assert TOKEN not in _text(error)


@pytest.mark.parametrize("code", ["api_plan_restricted", "token_unauthorized"])
def test_a_missing_permission_or_plan_is_blocking(code: str) -> None:
    error = _client_error(_answer(403, code, "Not allowed"))
    assert blocking_cause(_text(error)) == PERMISSION_MISSING
    assert "permission" in fix_for(PERMISSION_MISSING)
    assert "launch the job by hand" in fix_for(PERMISSION_MISSING)


def test_a_core_type_change_in_stop_mode_is_blocking() -> None:
    error = _core_type_change()
    assert blocking_cause(_text(error)) == TYPE_CHANGE
    assert blocking_cause(str(error)) == TYPE_CHANGE  # also once a wrapper lost the class name
    assert "INTERCOM_ON_TYPE_CHANGE=report" in fix_for(TYPE_CHANGE)


@pytest.mark.parametrize(
    "error",
    [
        pytest.param(lambda: _client_error(*[_answer(503)] * 3), id="outage (5xx)"),
        pytest.param(lambda: _client_error(_answer(404, "not_found", "Gone")), id="404"),
        pytest.param(lambda: _client_error(_answer(400, "parameter_invalid")), id="400"),
        pytest.param(
            # Stored whole and reported once: the next sync runs as usual.
            lambda: TypeChanged(
                [TypeDrift("contacts", "custom_attributes.seats", "int", "str", 3)]
            ),
            id="custom attribute type change",
        ),
        pytest.param(lambda: RuntimeError("database is locked"), id="anything else"),
    ],
)
def test_failures_a_later_run_may_get_past_do_not_pause(error: object) -> None:
    assert blocking_cause(_text(error())) is None  # type: ignore[operator]
    assert blocking_cause("") is None


def test_token_and_permission_pause_every_sync_a_type_change_its_own() -> None:
    job = "intercom_settings_job"
    assert schedules_to_pause(TOKEN_REJECTED, job, SCHEDULE_JOBS) == sorted(SCHEDULE_JOBS)
    assert schedules_to_pause(PERMISSION_MISSING, job, SCHEDULE_JOBS) == sorted(SCHEDULE_JOBS)
    assert schedules_to_pause(TYPE_CHANGE, job, SCHEDULE_JOBS) == ["intercom_settings"]
    assert schedules_to_pause(TYPE_CHANGE, "intercom_build_all", SCHEDULE_JOBS) == []


def test_a_success_resumes_what_it_shows_fixed() -> None:
    def paused(reason: str, job: str) -> Pause:
        return new_pause(reason, "run-1", job)

    pauses = {
        "intercom_conversations": paused(PERMISSION_MISSING, "intercom_settings_job"),
        "intercom_contacts": paused(TOKEN_REJECTED, "intercom_settings_job"),
        "intercom_settings": paused(PERMISSION_MISSING, "intercom_settings_job"),
    }
    # Its own schedule, and a token pause: the sync just read Intercom with the token.
    assert schedules_to_resume(pauses, "intercom_conversations_job", SCHEDULE_JOBS) == [
        "intercom_contacts",
        "intercom_conversations",
    ]
    # Everything its own failure paused.
    assert schedules_to_resume(pauses, "intercom_settings_job", SCHEDULE_JOBS) == sorted(pauses)
    # A job that does not read Intercom shows nothing.
    assert schedules_to_resume(pauses, "__ASSET_JOB", SCHEDULE_JOBS) == []


class _Store:
    """The instance's key-value store, in memory: values are strings, none are deleted."""

    def __init__(self) -> None:
        self.values: dict[str, str] = {}

    def get_cursor_values(self, keys: set[str]) -> dict[str, str]:
        return {k: self.values[k] for k in keys if k in self.values}

    def set_cursor_values(self, pairs: dict[str, str]) -> None:
        self.values.update(pairs)


def test_a_pause_is_stored_read_and_resumed() -> None:
    store = _Store()
    pause = new_pause(
        TOKEN_REJECTED, "abc-123", "intercom_settings_job", datetime(2026, 1, 2, tzinfo=UTC)
    )
    pause_schedules(store, ["intercom_settings", "intercom_contacts"], pause)
    assert read_pauses(store, SCHEDULE_JOBS) == {
        "intercom_settings": pause,
        "intercom_contacts": pause,
    }
    assert json.loads(store.values[pause_key("intercom_settings")])["since"] == (
        "2026-01-02T00:00:00+00:00"
    )
    message = pause.skip_message()
    assert message.startswith("Paused: token rejected (401) in run abc-123. Set a valid")
    assert "`intercom-pipeline auth check`" in message
    resume_schedules(store, ["intercom_settings"])
    assert store.values[pause_key("intercom_settings")] == ""  # empty: none
    assert set(read_pauses(store, SCHEDULE_JOBS)) == {"intercom_contacts"}
