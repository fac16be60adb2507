"""Failure notifications without a server: the cause key, the message, the settings."""

from __future__ import annotations

import socket

import pytest

from intercom_pipeline.defs.resources import resources_from_environment
from intercom_pipeline.operations.notify import (
    NotifyError,
    NotifySettings,
    deliver,
    failure_cause,
    failure_message,
    notify_settings,
    recovered_message,
    redact,
    send_email,
    send_webhook,
)
from intercom_pipeline.settings import ConfigurationError

UNAUTHORIZED = (
    "IntercomAuthError: Intercom rejected the access token (401 unauthorized): it is missing, "
    "invalid or revoked, or the workspace is hosted in another region. Create a token in "
    "Intercom's Developer Hub, set INTERCOM_ACCESS_TOKEN, and check INTERCOM_REGION (now 'us')."
)
EMAIL = {"SMTP_HOST": "smtp.example.com", "NOTIFY_EMAIL_TO": "ops@example.com"}


def test_the_same_reason_in_different_runs_is_one_cause() -> None:
    first = (
        "IntercomError: GET /conversations/215471337 failed after 11 tries in 57.3 s "
        "(request 0b1f7c2e-9a55-4c1e-8d7a-2f3a4b5c6d7e at 2026-05-01T03:00:12Z, "
        "request_id 000s4dvg8b31l3d3g2n0, <Future at 0x7fe03b6ed590>)\nTraceback line"
    )
    second = (
        "IntercomError: GET /conversations/998877665 failed after 11 tries in 49 seconds "
        "(request 7d1e2f3a-0b1c-4d2e-9f8a-1b2c3d4e5f60 at 2026-05-01T04:00:09Z, "
        "request_id 001abcd9x7y6z5w4v3u2, <Future at 0x7f11aa22bb33>)\nanother line"
    )
    assert failure_cause(first) == failure_cause(second)
    assert "11 tries" in failure_cause(first)  # what does not vary stays readable


def test_a_401_and_a_403_are_two_causes() -> None:
    forbidden = (
        "IntercomPermissionError: GET /tickets: 403 token_unauthorized: Not authorized "
        "(the token lacks the permission to read tickets)."
    )
    assert failure_cause(UNAUTHORIZED) == failure_cause(f"  {UNAUTHORIZED}\n")
    assert failure_cause(UNAUTHORIZED) != failure_cause(forbidden)
    assert "401 unauthorized" in failure_cause(UNAUTHORIZED)
    assert "403 token_unauthorized" in failure_cause(forbidden)


def test_the_message_names_the_job_the_reason_the_fix_and_the_run() -> None:
    subject, body = failure_message(
        "intercom_settings_job", "b72f4ec8-run", UNAUTHORIZED, "http://dagster:3000/"
    )
    assert subject.startswith("[intercom-pipeline] intercom_settings_job failed: ")
    assert "401 unauthorized" in subject and "\n" not in subject and len(subject) < 200
    assert UNAUTHORIZED in body  # the reason and the fix, as the error says them
    assert "Run: b72f4ec8-run" in body
    assert "http://dagster:3000/runs/b72f4ec8-run" in body
    _, without_ui = failure_message("job", "run-1", "", None)
    assert "/runs/" not in without_ui and "see its logs" in without_ui
    subject, body = recovered_message("job", "run-2", failure_cause(UNAUTHORIZED), None)
    assert subject == "[intercom-pipeline] job recovered" and "401 unauthorized" in body


def test_redact_takes_secrets_out() -> None:
    text = "GET https://hooks.example.com/T0/B0/abcdef123 with sekret-token-value failed"
    assert redact(
        text, ["sekret-token-value", "https://hooks.example.com/T0/B0/abcdef123", "us"]
    ) == ("GET **** with **** failed")


def test_nothing_configured_means_no_channel() -> None:
    assert notify_settings({}).channels == 0
    notifications = resources_from_environment({}, resolved=True)["notifications"]
    assert notifications.settings() == NotifySettings()


def test_email_and_webhook_settings() -> None:
    settings = notify_settings(
        {
            **EMAIL,
            "NOTIFY_EMAIL_TO": " ops@example.com, data@example.com ,",
            "SMTP_USERNAME": "alerts@example.com",
            "SMTP_PASSWORD": "pw-123456",
            "SMTP_PORT": "465",
            "SMTP_STARTTLS": "FALSE",
            "NOTIFY_WEBHOOK_URL": "https://hooks.slack.com/services/T0/B0/XYZ",
        }
    )
    assert settings.email_to == ("ops@example.com", "data@example.com")
    assert settings.smtp_from == "alerts@example.com"  # the login, when it is an address
    assert (settings.smtp_port, settings.smtp_starttls, settings.channels) == (465, False, 2)
    assert "pw-123456" not in repr(settings) and "XYZ" not in repr(settings)
    assert settings.smtp_password.reveal() == "pw-123456"
    defaults = notify_settings({**EMAIL, "SMTP_FROM": "dagster@example.com"})
    assert (defaults.smtp_port, defaults.smtp_starttls) == (587, True)


@pytest.mark.parametrize(
    ("env", "match"),
    [
        ({"NOTIFY_EMAIL_TO": "ops@example.com"}, r"NOTIFY_EMAIL_TO is set but SMTP_HOST is not"),
        ({"SMTP_HOST": "smtp.example.com"}, r"SMTP_HOST is set but NOTIFY_EMAIL_TO is not"),
        ({**EMAIL, "NOTIFY_EMAIL_TO": "ops"}, r"NOTIFY_EMAIL_TO has 'ops': use email addresses"),
        (EMAIL, r"SMTP_FROM='' is not an email address: set it"),
        ({**EMAIL, "SMTP_USERNAME": "u"}, r"SMTP_USERNAME is set but SMTP_PASSWORD is not"),
        ({**EMAIL, "SMTP_PASSWORD": "p"}, r"SMTP_PASSWORD is set but SMTP_USERNAME is not"),
        ({**EMAIL, "SMTP_FROM": "a@b.co", "SMTP_PORT": "smtp"}, r"SMTP_PORT='smtp': use"),
        ({**EMAIL, "SMTP_FROM": "a@b.co", "SMTP_STARTTLS": "yes"}, r"SMTP_STARTTLS='yes': use"),
        ({"NOTIFY_WEBHOOK_URL": "hooks.slack.com/x"}, r"NOTIFY_WEBHOOK_URL is not an http"),
    ],
)
def test_half_configured_channels_name_the_variable_and_the_fix(
    env: dict[str, str], match: str
) -> None:
    with pytest.raises(ConfigurationError, match=match):
        notify_settings(env)


def test_a_wrong_webhook_address_is_not_shown() -> None:
    with pytest.raises(ConfigurationError) as raised:
        notify_settings({"NOTIFY_WEBHOOK_URL": "ftp://hooks.example.com/secret-path"})
    assert "secret-path" not in str(raised.value)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_failed_send_names_the_server_and_never_the_secret() -> None:
    port = _closed_port()
    settings = notify_settings(
        {
            "SMTP_HOST": "127.0.0.1",
            "SMTP_PORT": str(port),
            "SMTP_USERNAME": "alerts@example.com",
            "SMTP_PASSWORD": "smtp-pass-8c1e77",
            "NOTIFY_EMAIL_TO": "ops@example.com",
            "NOTIFY_WEBHOOK_URL": f"http://127.0.0.1:{port}/services/T0/B0/hook-secret-41",
        }
    )
    with pytest.raises(NotifyError, match=rf"SMTP server 127\.0\.0\.1:{port}: .*SMTP_HOST"):
        send_email(settings, "subject", "body")
    with pytest.raises(NotifyError, match=r"webhook at 127\.0\.0\.1: ConnectionError") as raised:
        send_webhook(settings, "text")
    errors = deliver(settings, "subject", "body")
    assert len(errors) == 2 and raised.value.__context__ is None
    for text in [*errors, str(raised.value)]:
        assert "hook-secret-41" not in text and "smtp-pass-8c1e77" not in text
